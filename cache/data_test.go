package cache

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

func newTestCache(t *testing.T, dir string, limit int64) *DataCache {
	t.Helper()
	c, err := OpenDataCache(DataCacheConfig{Dir: dir, Limit: limit, MinFree: 1, ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func TestDataCacheFillReadPersist(t *testing.T) {
	dir := t.TempDir()
	c := newTestCache(t, dir, 1<<20)
	data := randBytes(10000, 1) // 3 chunks, the last one short
	e := c.Open("k", "e1", int64(len(data)))
	buf := make([]byte, 100)
	if _, ok := e.ReadAt(buf, 0); ok {
		t.Fatal("empty entry served a read")
	}
	// A fill that covers no whole chunk stores nothing.
	e.Fill(10, data[10:4000])
	if _, ok := e.ReadAt(buf, 10); ok {
		t.Fatal("partial chunk served")
	}
	e.Fill(0, data[:8192])
	if n, ok := e.ReadAt(buf, 4090); !ok || n != 100 || !bytes.Equal(buf, data[4090:4190]) {
		t.Fatalf("read across chunks: %d %v", n, ok)
	}
	if e.Complete() {
		t.Fatal("complete without the last chunk")
	}
	e.Fill(8192, data[8192:])
	if !e.Complete() {
		t.Fatal("not complete")
	}
	big := make([]byte, 20000)
	if n, ok := e.ReadAt(big, 0); !ok || n != len(data) || !bytes.Equal(big[:n], data) {
		t.Fatalf("whole read %d %v", n, ok)
	}
	e.Release()
	c.Close()

	// Reopened: the entry is there for the same ETag.
	c = newTestCache(t, dir, 1<<20)
	e = c.Open("k", "e1", int64(len(data)))
	if n, ok := e.ReadAt(big, 0); !ok || n != len(data) || !bytes.Equal(big[:n], data) {
		t.Fatalf("after reopen %d %v", n, ok)
	}
	f, ok := e.PassthroughFile()
	if !ok {
		t.Fatal("complete entry refused for passthrough")
	}
	f.Close()
	e.Release()
	// Another ETag drops it.
	e = c.Open("k", "e2", int64(len(data)))
	if _, ok := e.ReadAt(buf, 0); ok {
		t.Fatal("old version served for a new ETag")
	}
	e.Release()
	if st := c.Stats(); st.Bytes != 0 || st.Entries != 1 {
		t.Fatalf("stats after version change %+v", st)
	}
	c.Close()
}

func TestDataCacheCorruptChunkNotServed(t *testing.T) {
	dir := t.TempDir()
	c := newTestCache(t, dir, 1<<20)
	data := randBytes(3*4096, 2)
	e := c.Open("k", "e1", int64(len(data)))
	e.Fill(0, data)
	e.Release()
	c.Close()
	c = newTestCache(t, dir, 1<<20)
	defer c.Close()
	st, _ := c.Status("k")
	if !st.Sealed {
		t.Fatal("complete entry not sealed")
	}
	// Flip a byte of chunk 1 behind the cache's back.
	f, err := os.OpenFile(st.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{data[5000] ^ 0xff}, 5000)
	f.Close()
	e = c.Open("k", "e1", int64(len(data)))
	defer e.Release()
	if _, ok := e.PassthroughFile(); ok {
		t.Fatal("corrupted file handed over for passthrough")
	}
	buf := make([]byte, 4096)
	if _, ok := e.ReadAt(buf, 4096); ok {
		t.Fatal("corrupted chunk served")
	}
	if n, ok := e.ReadAt(buf, 0); !ok || n != 4096 || !bytes.Equal(buf, data[:4096]) {
		t.Fatal("good chunk not served")
	}
	if c.Stats().CorruptChunks != 1 {
		t.Fatalf("corrupt chunks %d", c.Stats().CorruptChunks)
	}
	e.Fill(4096, data[4096:8192])
	if n, ok := e.ReadAt(buf, 4096); !ok || n != 4096 || !bytes.Equal(buf, data[4096:8192]) {
		t.Fatal("refilled chunk not served")
	}
}

func TestDataCacheTornIndexDropped(t *testing.T) {
	dir := t.TempDir()
	c := newTestCache(t, dir, 1<<20)
	data := randBytes(4096, 3)
	e := c.Open("k", "e1", 4096)
	e.Fill(0, data)
	e.Release()
	c.Close()
	metas, _ := filepath.Glob(filepath.Join(dir, "objects", "*", "*.meta"))
	if len(metas) != 1 {
		t.Fatalf("metas %v", metas)
	}
	b, _ := os.ReadFile(metas[0])
	os.WriteFile(metas[0], b[:len(b)-3], 0o600) // torn
	os.WriteFile(filepath.Join(filepath.Dir(metas[0]), "junk.meta.tmp"), []byte("x"), 0o600)
	c = newTestCache(t, dir, 1<<20)
	defer c.Close()
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("torn index loaded: %+v", st)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "objects", "*", "*"))
	if len(left) != 0 {
		t.Fatalf("files left: %v", left)
	}
}

func TestDataCacheEvictsLRU(t *testing.T) {
	c := newTestCache(t, t.TempDir(), 3*4096)
	defer c.Close()
	fill := func(id string) {
		e := c.Open(id, "e", 4096)
		e.Fill(0, randBytes(4096, 4))
		e.Release()
	}
	fill("a")
	fill("b")
	fill("c")
	c.Open("a", "e", 4096).Release() // a is now the most recent
	fill("d")
	if _, ok := c.Status("b"); ok {
		t.Fatal("least recently used entry kept")
	}
	for _, id := range []string{"a", "c", "d"} {
		if st, ok := c.Status(id); !ok || st.Cached != 4096 {
			t.Fatalf("%s evicted", id)
		}
	}
	if st := c.Stats(); st.Bytes != 3*4096 || st.Evictions != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Pinned and open entries stay; a fill that cannot fit is not stored.
	pa := c.Open("a", "e", 4096)
	pa.SetPinned(true)
	pa.Release()
	oc := c.Open("c", "e", 4096)
	od := c.Open("d", "e", 4096)
	e := c.Open("x", "e", 4096)
	e.Fill(0, randBytes(4096, 5))
	if _, ok := e.ReadAt(make([]byte, 10), 0); ok {
		t.Fatal("stored beyond the limit")
	}
	e.Release()
	oc.Release()
	od.Release()
	if c.Open("big", "e", 4*4096) != nil {
		t.Fatal("object larger than the cache accepted")
	}
}

func TestDataCacheLockedDir(t *testing.T) {
	dir := t.TempDir()
	c := newTestCache(t, dir, 1<<20)
	_, err := OpenDataCache(DataCacheConfig{Dir: dir, Limit: 1 << 20})
	if !errors.Is(err, ErrDataCacheBusy) {
		t.Fatalf("second open: %v", err)
	}
	c.Close()
	c2 := newTestCache(t, dir, 1<<20)
	c2.Close()
}

// TestDataCacheStatusNamesMissing: the status of an entry names the first
// ranges not cached, merged, at most statusRanges of them.
func TestDataCacheStatusNamesMissing(t *testing.T) {
	c := newTestCache(t, t.TempDir(), 1<<20)
	defer c.Close()
	const n = 40
	data := randBytes(n*4096, 3)
	e := c.Open("k", "e1", int64(len(data)))
	defer e.Release()
	e.Fill(0, data[:2*4096])            // chunks 0-1
	e.Fill(4*4096, data[4*4096:6*4096]) // chunks 4-5; missing 2-3
	for i := int64(7); i < n; i += 2 {  // every other chunk from 7 on
		e.Fill(i*4096, data[i*4096:(i+1)*4096])
	}
	st, _ := c.Status("k")
	if len(st.Missing) != statusRanges {
		t.Fatalf("%d missing ranges named, want %d: %v", len(st.Missing), statusRanges, st.Missing)
	}
	if st.Missing[0] != [2]int64{2 * 4096, 4 * 4096} || st.Missing[1] != [2]int64{6 * 4096, 7 * 4096} || st.Missing[2] != [2]int64{8 * 4096, 9 * 4096} {
		t.Fatalf("missing ranges %v", st.Missing)
	}
	var gaps int64
	for _, rg := range e.MissingRanges() {
		gaps += rg[1] - rg[0]
	}
	if st.Cached+gaps != int64(len(data)) {
		t.Fatalf("cached %d, all missing %v", st.Cached, e.MissingRanges())
	}
}

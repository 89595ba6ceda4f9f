package fs

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

// liveHeap is the heap in use once garbage is collected.
func liveHeap() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// readdirPlus reads directory node dir to the end with READDIRPLUS, as
// the kernel does for ls -l, and returns the node ids of the entries (each
// looked up once).
func (tf *testFS) readdirPlus(dir uint64) []uint64 {
	tf.t.Helper()
	var oo fuse.OpenOut
	if st := tf.raw.OpenDir(nil, &fuse.OpenIn{InHeader: header(dir)}, &oo); st != fuse.OK {
		tf.t.Fatalf("opendir: %v", st)
	}
	defer tf.raw.ReleaseDir(&fuse.ReleaseIn{InHeader: header(dir), Fh: oo.Fh})
	buf := make([]byte, 128<<10)
	entryOut := int(unsafe.Sizeof(fuse.EntryOut{}))
	const direntSize = 24 // ino, off, namelen, type
	var ids []uint64
	var off uint64
	for {
		l := fuse.NewDirEntryList(buf, off)
		if st := tf.raw.ReadDirPlus(nil, &fuse.ReadIn{InHeader: header(dir), Fh: oo.Fh, Offset: off, Size: uint32(len(buf))}, l); st != fuse.OK {
			tf.t.Fatalf("readdirplus: %v", st)
		}
		b := l.Bytes()
		if len(b) == 0 {
			return ids
		}
		for len(b) > 0 {
			eo := (*fuse.EntryOut)(unsafe.Pointer(&b[0]))
			nameLen := int(*(*uint32)(unsafe.Pointer(&b[entryOut+16])))
			if eo.NodeId != 0 {
				ids = append(ids, eo.NodeId)
			}
			b = b[(entryOut+direntSize+nameLen+7)&^7:]
		}
		off = l.Offset
	}
}

// TestEntryMemory builds what ls -l of a large directory leaves in memory
// (its listing, and an inode per entry made by READDIRPLUS) and bounds the
// heap it takes per entry; then the kernel forgets the inodes and the
// directory, and the mount must let go of everything it held for them.
// (It held 1,115 bytes per entry before: a full ObjectInfo per listed
// entry, a copy of every entry in the stat cache under its full key, a map
// beside the listing's sorted names; and after the forget, 695 bytes per
// entry still, in the listing and the stat cache.)
func TestEntryMemory(t *testing.T) {
	const n = 20000
	srv := newTestServer(t)
	for i := range n {
		srv.PutObject("test", fmt.Sprintf("big/f%07d", i), []byte("x"), nil)
	}
	tf := newTestFS(t, srv, func(c *Config) { c.FastListing = true })
	dir, errno := tf.lookup("big")
	if errno != 0 {
		t.Fatal(errno)
	}
	ids := make([]uint64, 0, n)
	before := liveHeap()
	ids = append(ids, tf.readdirPlus(dir)...)
	held := liveHeap()
	if len(ids) != n {
		t.Fatalf("readdirplus gave %d entries, want %d", len(ids), n)
	}
	perEntry := float64(held-before) / n
	t.Logf("%.0f bytes of heap per entry (inode and listing)", perEntry)
	// go-fuse takes about 350 bytes of it (its Inode, node tables and
	// the directory's children), ours about 200.
	if perEntry > 600 {
		t.Errorf("%.0f bytes of heap per listed entry with its inode, want at most 600", perEntry)
	}
	if s := tf.fs.Stats(); s.Inodes != n+1 || s.ListedEntries != n {
		t.Errorf("stats: %d inodes, %d listed entries; want %d and %d", s.Inodes, s.ListedEntries, n+1, n)
	}

	for _, id := range ids {
		tf.raw.Forget(id, 1)
	}
	tf.raw.Forget(dir, 1)
	ids = nil
	left := liveHeap()
	if s := tf.fs.Stats(); s.Inodes != 0 || s.ListedEntries != 0 || s.ListCache.Entries != 0 || s.AttrCache.Entries > 1 {
		t.Errorf("once the kernel forgot them: %d inodes, %d listed entries, %d listings, %d attributes; want none (the root's at most)",
			s.Inodes, s.ListedEntries, s.ListCache.Entries, s.AttrCache.Entries)
	}
	if perEntry := float64(left-before) / n; perEntry > 32 {
		t.Errorf("%.0f bytes of heap per entry held after the kernel forgot the entries, want at most 32", perEntry)
	}
}

// TestEntryStructsSmall keeps the per-entry structures within their size
// classes: a node the kernel holds for every entry of a listed directory,
// and the attributes every entry has (a listing's entry: engine's
// TestListEntrySmall).
func TestEntryStructsSmall(t *testing.T) {
	if s := unsafe.Sizeof(fileNode{}); s > 160 {
		t.Errorf("fileNode is %d bytes, want at most 160 (go-fuse's Inode is 128 of them)", s)
	}
	if s := unsafe.Sizeof(engine.Stat{}); s > 80 {
		t.Errorf("attr is %d bytes, want at most 80", s)
	}
}

// TestCachesExpireActively: the negative cache and the listing cache let go
// of their entries once their time is up, without a lookup meeting them,
// and the stat cache keeps only what it knows (as the basis later listings
// are checked against).
func TestCachesExpireActively(t *testing.T) {
	srv := newTestServer(t)
	for i := range 50 {
		srv.PutObject("test", fmt.Sprintf("d/f%02d", i), []byte("x"), nil)
	}
	tf := newTestFS(t, srv, func(c *Config) {
		c.StatTTL, c.NegTTL, c.ListTTL = time.Second, time.Second, time.Second
	})
	dir, errno := tf.lookup("d")
	if errno != 0 {
		t.Fatal(errno)
	}
	for i := range 20 {
		if _, errno := tf.lookup(fmt.Sprintf("missing%d", i)); errno != syscall.ENOENT && errno != 0 {
			t.Fatal(errno)
		}
	}
	if ids := tf.readdirPlus(dir); len(ids) != 0 {
		t.Fatalf("READDIRPLUS gave %d entries with attributes; without fast_listing a listing's guesses are not shown", len(ids))
	}
	if tf.fs.ns.Neg.Len() < 20 || tf.fs.ns.Lists.Len() != 1 {
		t.Fatalf("%d negative entries and %d listings cached, want 20 and 1", tf.fs.ns.Neg.Len(), tf.fs.ns.Lists.Len())
	}
	known := tf.fs.ns.Attrs.Len()
	if !waitFor(60*time.Second, func() bool { return tf.fs.ns.Neg.Len() == 0 && tf.fs.ns.Lists.Len() == 0 }) {
		t.Fatalf("60 s after they expired: %d negative entries and %d listings still held", tf.fs.ns.Neg.Len(), tf.fs.ns.Lists.Len())
	}
	if got := tf.fs.ns.Attrs.Len(); got != known {
		t.Errorf("stat cache: %d entries, want the %d known ones kept", got, known)
	}
	if s := tf.fs.Stats(); s.ListedEntries != 0 {
		t.Errorf("%d listed entries after the listing expired", s.ListedEntries)
	}
}

// The kernel forgets a large directory's inodes in batches: memory is
// given back after the last batch too, not only in a pause between two
// (a return in the pause used to leave the rest, below the least change,
// held for good).
func TestMemoryReturnedAfterTrickle(t *testing.T) {
	const mib = 1 << 20
	var m memoryWatch
	t0 := time.Unix(1_000_000, 0)
	var returns []int64 // the metadata's size at each return
	tick := func(sec int, cur int64) {
		if m.dueReturn(cur, t0.Add(time.Duration(sec)*time.Second)) {
			returns = append(returns, cur)
		}
	}
	sec := 0
	for ; sec < 20; sec++ { // a listing of a large directory: 60 MiB held
		tick(sec, 60*mib)
	}
	if len(returns) != 1 || returns[0] != 60*mib {
		t.Fatalf("after growing to 60 MiB: returns at %v, want one at 60 MiB", returns)
	}
	for ; sec < 26; sec++ { // the kernel forgets most, pauses...
		tick(sec, 20*mib)
	}
	for ; sec < 200; sec++ { // ...and forgets the rest
		tick(sec, 0)
	}
	if last := returns[len(returns)-1]; last != 0 {
		t.Fatalf("returns at %v: none after the metadata fell to 0 (the last at %d MiB)", returns, last/mib)
	}
	if len(returns) < 2 || returns[len(returns)-2] != 0 {
		t.Fatalf("returns at %v: after a shrink, memory is given back once more (garbage let go of late)", returns)
	}
	// Small moves do not return memory.
	n := len(returns)
	for ; sec < 300; sec++ {
		tick(sec, int64(sec%3)*mib)
	}
	if len(returns) != n {
		t.Fatalf("small moves returned memory: %v", returns[n:])
	}
}

// A listing of a large directory that the kernel forgets before it was
// ever still (ls -l, then drop_caches or memory pressure within seconds):
// the metadata is back where it was, but what it held was freed, and is
// given back. The old code compared the size with the last return's only,
// found no change, and kept the freed memory (a third of the listing's
// RSS, for minutes: TestForgetReleasesEntries's "not yet explained").
func TestMemoryReturnedAfterQuickForget(t *testing.T) {
	const mib = 1 << 20
	var m memoryWatch
	t0 := time.Unix(1_000_000, 0)
	var returns []int64
	tick := func(sec int, cur int64) {
		if m.dueReturn(cur, t0.Add(time.Duration(sec)*time.Second)) {
			returns = append(returns, cur)
		}
	}
	sec := 0
	for ; sec < 10; sec++ { // idle
		tick(sec, 0)
	}
	for ; sec < 12; sec++ { // the listing: 40 MiB held, for less than returnQuiet
		tick(sec, 40*mib)
	}
	for ; sec < 60; sec++ { // forgotten
		tick(sec, 0)
	}
	if len(returns) == 0 {
		t.Fatal("a 40 MiB listing forgotten within 2 s: its memory never given back")
	}
}

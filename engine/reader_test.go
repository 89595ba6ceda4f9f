package engine

// The reader against osstest, without a mount: its stream's schedule, the
// bandwidth-delay product, reads waiting for their own bytes, cut bodies
// resumed, out-of-order read-ahead, and what reaches the data cache.

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// readerTest is an engine on bucket "test" of its own server, with the
// read path's defaults of package fs.
type readerTest struct {
	srv *osstest.Server
	e   *Engine
}

func newReaderTest(t *testing.T, cfg func(*Config)) *readerTest {
	t.Helper()
	srv := newTestServer(t, "test")
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), func(c *Config) {
		c.Memory = 256 << 20
		c.BlockSize, c.PartSize, c.MaxWindow, c.FirstRead, c.KernelRequests = 16<<10, 8<<20, 64<<20, 512<<10, 12
		if cfg != nil {
			cfg(c)
		}
	})
	return &readerTest{srv: srv, e: e}
}

// put stores data as key and returns the object's ETag.
func (tf *readerTest) put(t *testing.T, key string, data []byte) string {
	t.Helper()
	tf.srv.PutObject("test", key, data, nil)
	h, _, err := tf.srv.StatObject("test", key)
	if err != nil {
		t.Fatal(err)
	}
	return h.Get("ETag")
}

// newDataCache is a data cache of 1 GiB in a temporary directory, closed
// at the end of the test.
func newDataCache(t *testing.T) *cache.DataCache {
	t.Helper()
	dc, err := cache.OpenDataCache(cache.DataCacheConfig{Dir: t.TempDir(), Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dc.Close)
	return dc
}

// TestStreamFollowsBDP: a stream's parts and window follow the measured
// bandwidth-delay product of one connection: with 50 ms to the first byte
// and 100 MiB/s (5 MiB in one round trip) parts are as large as PartSize
// allows and the window holds at least four of them at once; on loopback
// (no measurement yet, or a tiny product) they start small as before.
func TestStreamFollowsBDP(t *testing.T) {
	tf := newReaderTest(t, nil)
	const size = 256 << 20
	etag := tf.put(t, "big.bin", make([]byte, size))
	cfg := tf.e.cfg
	schedule := func(latency time.Duration, rate float64) (window int64, first int64) {
		r := tf.e.NewReader(nil, "big.bin", etag, size)
		defer r.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.startLocked(0)
		s := r.stream
		// What the stream measured of its earlier parts.
		if rate > 0 {
			s.observe(8<<20, latency, latency+time.Duration(float64(8<<20)/rate*float64(time.Second)))
		}
		for _, p := range r.collectLocked(0, 128<<10) {
			p.unref()
		}
		return s.window, int64(len(s.parts[0].buf))
	}
	if w, p := schedule(0, 0); p != cfg.FirstRead || w != 2*cfg.FirstRead {
		t.Errorf("no measurement: first part %d, window %d; want %d and %d", p, w, cfg.FirstRead, 2*cfg.FirstRead)
	}
	if w, p := schedule(100*time.Microsecond, 1<<30); p != cfg.FirstRead || w != 2*cfg.FirstRead {
		t.Errorf("loopback (0.1 ms, 1 GiB/s: 107 KB in a round trip): first part %d, window %d; want %d and %d", p, w, cfg.FirstRead, 2*cfg.FirstRead)
	}
	w, p := schedule(50*time.Millisecond, 100<<20)
	if p != cfg.PartSize {
		t.Errorf("50 ms at 100 MiB/s: first part %d; want %d (PartSize, below twice the 5 MiB product)", p, cfg.PartSize)
	}
	if w < 40<<20 || w > cfg.MaxWindow {
		t.Errorf("50 ms at 100 MiB/s: window %d MiB; want 8 x 5 MiB, within max_read_window (%d MiB)", w>>20, cfg.MaxWindow>>20)
	}
}

func TestStreamObserve(t *testing.T) {
	var s stream
	s.observe(8<<20, 50*time.Millisecond, 130*time.Millisecond)
	if s.latency != 0.05 || s.rate != float64(100<<20) || s.bdp() != 5<<20 {
		t.Errorf("after one 8 MiB part (50 ms + 80 ms): latency %v, rate %v, bdp %d", s.latency, s.rate, s.bdp())
	}
	s.observe(100<<10, time.Second, 2*time.Second) // too small to count
	if s.latency != 0.05 {
		t.Errorf("a 100 KiB part changed the measurement: latency %v", s.latency)
	}
	s.observe(8<<20, 150*time.Millisecond, 230*time.Millisecond)
	if s.latency <= 0.05 || s.latency >= 0.15 {
		t.Errorf("latency %v after a slower part; want between the two", s.latency)
	}
}

// TestStreamPartsEndOnChunks: whatever the measured bandwidth-delay
// product, sequential parts end on the data cache's chunk boundaries (or
// at the end of the object): a fill stores whole chunks only, and a chunk
// split between two parts was stored by neither, so a file read once
// never became whole in the cache.
func TestStreamPartsEndOnChunks(t *testing.T) {
	dc := newDataCache(t)
	tf := newReaderTest(t, func(c *Config) { c.DataCache = dc })
	// No such object: the parts' GETs fail, nothing is written into the
	// cache behind the test's back; only the schedule is looked at.
	const size = 64<<20 + 12345
	for _, m := range []struct {
		latency time.Duration
		rate    float64
	}{{0, 0}, {time.Millisecond, 1.234e9}, {700 * time.Microsecond, 345.6e6}, {15 * time.Millisecond, 100 << 20}} {
		r := tf.e.NewReader(nil, "none.bin", `"0123456789ABCDEF0123456789ABCDEF"`, size)
		r.mu.Lock()
		r.startLocked(0)
		s := r.stream
		if m.rate > 0 {
			s.observe(8<<20, m.latency, m.latency+time.Duration(float64(8<<20)/m.rate*float64(time.Second)))
		}
		// Read through the object as the parts come: the window grows.
		bad := 0
		for off := int64(0); off < size; off += 1 << 20 {
			for _, p := range r.collectLocked(off, min(off+1<<20, size)) {
				p.unref()
			}
			for _, p := range s.parts {
				if end := p.end(); end%dc.ChunkSize() != 0 && end != size {
					bad++
				}
			}
		}
		if bad > 0 {
			t.Errorf("%v, %.0f B/s: parts end inside %d-byte chunks", m.latency, m.rate, dc.ChunkSize())
		}
		r.mu.Unlock()
		r.Close()
	}
}

// TestFirstBytesBeforeWholePart: a read waits for its own bytes only, not
// for the whole part they are in: the first bytes of a file are served
// while the rest of the first part is still on its way. Here the server
// sends the first 64 KiB of the GET and then nothing: the first 4 KiB read
// must be answered while that part (the whole 512 KiB file: one GET, so
// the fault cannot hit another) is still stalled, and a read past what
// arrived must wait for it.
func TestFirstBytesBeforeWholePart(t *testing.T) {
	tf := newReaderTest(t, func(c *Config) { c.FirstRead = 512 << 10 })
	data := randData(512<<10, 9)
	etag := tf.put(t, "slow.bin", data)
	tf.srv.AddFault(osstest.Fault{Op: "GetObject", Key: "slow.bin", Times: 1, StallAfter: 64 << 10})
	r := tf.e.NewReader(nil, "slow.bin", etag, int64(len(data)))
	// A generous bound: the bytes are there at once; the old code waited
	// for the whole part, that is for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	buf := make([]byte, 4096)
	res, err := r.Read(ctx, buf, 0)
	if err != nil {
		t.Fatalf("first 4 KiB read while the rest of its part is stalled: %v (it waited for the whole part)", err)
	}
	got := res.Bytes(buf)
	if !bytes.Equal(got, data[:4096]) {
		t.Fatal("first read: wrong bytes")
	}
	res.Done()
	r.mu.Lock()
	parts := len(r.stream.parts)
	first := r.stream.parts[0]
	r.mu.Unlock()
	if parts != 1 {
		t.Fatalf("%d parts for a file of FirstRead bytes, want 1 (the fault must hit the first)", parts)
	}
	select {
	case <-first.done:
		t.Fatalf("the stalled %d-byte part is done", len(first.buf))
	default:
	}
	// What arrived is served as it is asked for, without a new GET.
	gets := tf.srv.Count("GetObject")
	res, err = r.Read(ctx, make([]byte, 60<<10), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Bytes(nil); !bytes.Equal(got, data[4096:64<<10]) {
		t.Fatal("second read: wrong bytes")
	}
	res.Done()
	if n := tf.srv.Count("GetObject"); n != gets {
		t.Errorf("%d GETs for bytes already arrived, want none", n-gets)
	}
	// A read past what arrived waits for it: it is still waiting when its
	// context ends, and says so (EINTR), nothing short.
	short, cancelShort := context.WithCancel(context.Background())
	type answer struct {
		n   int
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		res, err := r.Read(short, make([]byte, 8192), 60<<10)
		n := 0
		if err == nil {
			n = res.Size()
			res.Done()
		}
		ch <- answer{n, err}
	}()
	select {
	case a := <-ch:
		t.Fatalf("a read past the arrived bytes returned %d bytes, error %v, while they were stalled", a.n, a.err)
	case <-time.After(200 * time.Millisecond):
	}
	cancelShort()
	if a := <-ch; a.err != syscall.EINTR {
		t.Errorf("the waiting read, interrupted: %d bytes, error %v, want EINTR", a.n, a.err)
	}
	r.Close() // ends the stalled GET
	// The next reader reads the whole file (the fault fired once).
	r = tf.e.NewReader(nil, "slow.bin", etag, int64(len(data)))
	defer r.Close()
	whole := make([]byte, len(data))
	for off := 0; off < len(data); off += 128 << 10 {
		n, err := r.ReadAt(ctx, whole[off:off+128<<10], int64(off))
		if err != nil || n != 128<<10 {
			t.Fatalf("read at %d: %d bytes, %v", off, n, err)
		}
	}
	if !bytes.Equal(whole, data) {
		t.Fatal("the whole file read again differs")
	}
}

// TestStreamResumesCutPart: a part whose body is cut mid-way is resumed
// where it stopped, and reads waiting on its bytes, before and after the
// cut, get the right ones (the bytes that arrived are counted across the
// resumed GET).
func TestStreamResumesCutPart(t *testing.T) {
	tf := newReaderTest(t, func(c *Config) { c.FirstRead = 512 << 10 })
	data := randData(512<<10, 10)
	etag := tf.put(t, "cut.bin", data)
	tf.srv.AddFault(osstest.Fault{Op: "GetObject", Key: "cut.bin", Times: 1, ResetAfter: 100 << 10})
	tf.srv.ResetCounts()
	r := tf.e.NewReader(nil, "cut.bin", etag, int64(len(data)))
	defer r.Close()
	var got []byte
	for off := 0; off < len(data); off += 4096 {
		res, err := r.Read(context.Background(), make([]byte, 4096), int64(off))
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		b := res.Bytes(nil)
		got = append(got, b...)
		res.Done()
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the file read over a cut body differs")
	}
	if n := tf.srv.Count("GetObject"); n != 2 {
		t.Errorf("%d GETs, want 2 (the cut one and its resumption)", n)
	}
}

// TestReadBytesAreCachedWhenTheirPartIsCanceled: bytes a reader was
// served from a sequential part are stored in the data cache even when the
// part's GET does not finish (here a read far ahead resets the stream and
// cancels it while its body is stalled). The old code filled a part only
// when its whole GET succeeded, so after every byte of the file had been
// read once the cache still lacked the bytes served from the canceled
// part, and the file never became whole (never served by passthrough):
// the kill -9 test's "never cached whole".
func TestReadBytesAreCachedWhenTheirPartIsCanceled(t *testing.T) {
	dc := newDataCache(t)
	tf := newReaderTest(t, func(c *Config) { c.DataCache = dc; c.FirstRead = 512 << 10 })
	const size = 4 << 20
	data := randData(size, 11)
	etag := tf.put(t, "f.bin", data)
	// The first GETs (the parts of the first window, 1.5 MiB from offset
	// 0) send 256 KiB each and stall.
	tf.srv.AddFault(osstest.Fault{Op: "GetObject", Key: "f.bin", Times: 3, StallAfter: 256 << 10})
	r := tf.e.NewReader(nil, "f.bin", etag, size)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := make([]byte, size)
	read := func(off, n int64) {
		t.Helper()
		res, err := r.Read(ctx, make([]byte, n), off)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		b := res.Bytes(nil)
		copy(got[off:], b)
		res.Done()
	}
	// Served from the stalled part, then a read beyond the window ends
	// the stream (its parts' GETs are canceled), then the rest, every
	// byte once.
	read(0, 128<<10)
	read(size-128<<10, 128<<10)
	for off := int64(128 << 10); off < size-128<<10; off += 128 << 10 {
		read(off, 128<<10)
	}
	r.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("wrong bytes")
	}
	id := tf.e.DataID("f.bin")
	if !waitFor(30*time.Second, func() bool { st, _ := dc.Status(id); return st.Cached == size }) {
		e := dc.Open(id, etag, size)
		missing := e.MissingRanges()
		e.Release()
		t.Fatalf("every byte was read once, but the data cache lacks %v", missing)
	}
}

// stalledStream starts a reader of a 4 MiB object whose first window of
// parts (three GETs of 512 KiB from offset 0) each send 64 KiB and stall,
// with a read of [0, 128 KiB) waiting for its stalled bytes. It returns
// the reader, the object and the waiting read's answer.
func stalledStream(t *testing.T, tf *readerTest) (*Reader, []byte, chan readAnswer) {
	t.Helper()
	const size = 4 << 20
	data := randData(size, 12)
	etag := tf.put(t, "f.bin", data)
	tf.srv.AddFault(osstest.Fault{Op: "GetObject", Key: "f.bin", Times: 3, StallAfter: 64 << 10})
	r := tf.e.NewReader(nil, "f.bin", etag, size)
	t.Cleanup(r.Close)
	ch := make(chan readAnswer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res, err := r.Read(ctx, make([]byte, 128<<10), 0)
		var b []byte
		if err == nil {
			b = res.Bytes(nil)
			b = append([]byte(nil), b...)
			res.Done()
		}
		ch <- readAnswer{b, err}
	}()
	// Wait until the read waits on the first part's stalled bytes.
	if !waitFor(30*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.stream == nil || len(r.stream.parts) == 0 {
			return false
		}
		p := r.stream.parts[0]
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.wake.Waiting() && p.got == 64<<10
	}) {
		t.Fatal("the first read never waited on its part")
	}
	return r, data, ch
}

type readAnswer struct {
	b   []byte
	err error
}

func readOnce(t *testing.T, r *Reader, off int64, n int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := r.Read(ctx, make([]byte, n), off)
	if err != nil {
		t.Fatalf("read at %d: %v", off, err)
	}
	b := res.Bytes(nil)
	b = append([]byte(nil), b...)
	res.Done()
	return b
}

// TestReadNotFailedByAnotherReadsSeek: a read waiting for a part's bytes
// is not failed when another read of the handle, far away, drops the
// stream (cancelling the part's GET): it reads its bytes the ordinary way.
// The old code answered it EINTR, with no signal anywhere (a program that
// does not retry read(2) on EINTR failed; every program paid a new GET).
func TestReadNotFailedByAnotherReadsSeek(t *testing.T) {
	tf := newReaderTest(t, func(c *Config) { c.FirstRead = 512 << 10; c.KernelRequests = 2 })
	r, data, waiting := stalledStream(t, tf)
	r.mu.Lock()
	old := r.stream
	r.mu.Unlock()
	// A seek far past the window and the read-ahead slack (two requests
	// of 128 KiB).
	if got := readOnce(t, r, 3<<20+512<<10, 128<<10); !bytes.Equal(got, data[3<<20+512<<10:3<<20+640<<10]) {
		t.Fatal("the far read: wrong bytes")
	}
	r.mu.Lock()
	dropped := r.stream != old
	r.mu.Unlock()
	if !dropped {
		t.Fatal("a seek 1 MiB past the window did not drop the stream")
	}
	a := <-waiting
	if a.err != nil || !bytes.Equal(a.b, data[:128<<10]) {
		t.Fatalf("the read waiting on the dropped stream: error %v, %d bytes (right: %v)", a.err, len(a.b), bytes.Equal(a.b, data[:128<<10]))
	}
}

// TestReadAheadOutOfOrderKeepsStream: while a read waits on the stream, a
// read a little past the window (the kernel's read-ahead requests arrive
// in any order) is served by the stream without dropping it: the parts
// the first read waits for are not cancelled and fetched again.
func TestReadAheadOutOfOrderKeepsStream(t *testing.T) {
	tf := newReaderTest(t, func(c *Config) { c.FirstRead = 512 << 10; c.KernelRequests = 2 })
	r, data, waiting := stalledStream(t, tf)
	r.mu.Lock()
	old := r.stream
	off := old.next + old.window + 64<<10
	first := old.parts[0]
	r.mu.Unlock()
	if got := readOnce(t, r, off, 128<<10); !bytes.Equal(got, data[off:off+128<<10]) {
		t.Fatal("the read ahead: wrong bytes")
	}
	r.mu.Lock()
	kept := r.stream == old
	r.mu.Unlock()
	if !kept || first.ctx.Err() != nil {
		t.Fatalf("a read %d KiB past the window, with another under way, dropped the stream", (off-old.next-old.window)>>10)
	}
	select {
	case a := <-waiting:
		t.Fatalf("the waiting read returned (error %v) while its bytes are stalled", a.err)
	default:
	}
	r.Close() // ends the stalled GETs; the waiting read ends too
	<-waiting
}

// TestPageReadsBehindStreamFetchBlocks: reads behind the stream (after a
// failed read-ahead the kernel asks page by page) fetch the aligned blocks
// they touch, which the data cache stores. The old code fetched each 4 KiB
// page with a GET of its own and stored none of them (the cache keeps
// whole 16 KiB chunks), so a file read that way never became whole.
func TestPageReadsBehindStreamFetchBlocks(t *testing.T) {
	dc := newDataCache(t)
	tf := newReaderTest(t, func(c *Config) { c.DataCache = dc; c.FirstRead = 512 << 10 })
	const size = 4 << 20
	data := randData(size, 13)
	etag := tf.put(t, "f.bin", data)
	r := tf.e.NewReader(nil, "f.bin", etag, size)
	defer r.Close()
	// The stream's own bytes are kept out of the cache: only what the
	// reads behind it fetch may reach it.
	r.mu.Lock()
	entry := r.dc
	r.dc = nil
	r.mu.Unlock()
	for off := int64(0); off < 2<<20; off += 128 << 10 {
		if got := readOnce(t, r, off, 128<<10); !bytes.Equal(got, data[off:off+128<<10]) {
			t.Fatalf("read at %d: wrong bytes", off)
		}
	}
	r.mu.Lock()
	parts := append([]*part(nil), r.stream.parts...)
	behind := r.stream.parts0() >= 64<<10
	r.mu.Unlock()
	if !behind {
		t.Fatal("the stream did not move past the first 64 KiB")
	}
	for _, p := range parts {
		<-p.done
	}
	r.mu.Lock()
	r.dc = entry
	r.mu.Unlock()
	tf.srv.ResetCounts()
	// From the last page down: each read is behind the stream. (Page
	// reads in order would start a stream of their own once one follows
	// another, which is right for them, but says nothing of this path.)
	for off := int64(60 << 10); off >= 0; off -= 4096 {
		if got := readOnce(t, r, off, 4096); !bytes.Equal(got, data[off:off+4096]) {
			t.Fatalf("page read at %d: wrong bytes", off)
		}
	}
	if n := tf.srv.Count("GetObject"); n > 4 {
		t.Errorf("16 page reads behind the stream made %d GETs, want at most 4 (one per 16 KiB block)", n)
	}
	var st cache.EntryStatus
	if !waitFor(30*time.Second, func() bool {
		st, _ = dc.Status(tf.e.DataID("f.bin"))
		return st.Cached >= 64<<10
	}) {
		t.Errorf("the data cache holds %d bytes after the page reads of 64 KiB (missing %v)", st.Cached, st.Missing)
	}
}

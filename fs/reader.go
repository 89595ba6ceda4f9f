package fs

// The read path: a reader serves one open handle's reads of one object
// version (key + ETag). Like mountpoint-s3's prefetcher it tells sequential
// from random access:
//
//   - A read that starts where the previous one ended (or at 0 on a fresh
//     handle) starts a stream: a queue of ranged GETs running ahead of the
//     reader. The first part is small (FirstRead) so the first byte arrives
//     quickly; the window of bytes fetched ahead doubles each time a part is
//     consumed, up to MaxWindow, in parts of at most PartSize, several in
//     flight at once. The window also follows the measured bandwidth-delay
//     product: each part's time to first byte and transfer rate are
//     measured, and parts are made at least twice what one connection
//     moves in one round trip, with at least four such parts in flight, so
//     that a long round trip does not starve the reader (within MaxWindow
//     and the memory budget). Reads a little out of order (the kernel
//     issues read-ahead requests concurrently) are served from the stream
//     too: one behind it by the blocks it touches, one ahead of the window
//     (while others are under way) by extending it, as far as the kernel's
//     read-ahead requests in flight may reach. A
//     read waits only for its own bytes of a part, not for the whole part:
//     the first byte is served as soon as it arrives; should the stream be
//     dropped meanwhile, the read fetches its bytes itself (no error).
//     Whatever a part brought is stored in the data cache, finished or not.
//   - Any other read (a seek) drops the stream and fetches the aligned
//     BlockSize blocks it touches, keeping them in the shared block cache
//     keyed by (key, ETag, index).
//
// Every byte held by a stream or the block cache is taken from the mount's
// memory Budget. When the budget is exhausted the stream stops growing and a
// read that finds no prefetched data fetches straight into the kernel's
// buffer, so memory never grows with file size or the number of open files.
// Every GET carries If-Match with the ETag seen at open: if the object is
// replaced under an open handle, reads fail with ESTALE instead of mixing
// versions.

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

type reader struct {
	fsys *FS
	key  string    // the key at open: names the version in the block cache
	node *fileNode // nil in tests; GETs follow the node's renames
	etag string
	size int64
	dc   *cache.DataEntry // the data cache's entry of this version, or nil (datacache.go)

	mu      sync.Mutex
	stream  *stream // GUARDED_BY(mu); nil when not streaming
	lastEnd int64   // GUARDED_BY(mu); end of the previous read, -1 before any
	closed  bool    // GUARDED_BY(mu)
	reading int     // GUARDED_BY(mu); reads under way (see aheadLocked)
}

type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	parts  []*part // contiguous, ascending
	next   int64   // offset after the last scheduled part
	hi     int64   // highest read end served from the stream
	window int64
	// The network as the stream's parts found it (EWMA, zero before the
	// first part of bdpMinPart bytes): time to first byte and the rate of
	// one connection.
	latency float64 // seconds
	rate    float64 // bytes per second
}

// bdpMinPart is the smallest part whose timing is taken into account: the
// rate of smaller ones says more about the request than the network.
const bdpMinPart = 256 << 10

// observe records one part's time to first byte and transfer rate.
func (s *stream) observe(n int, ttfb, took time.Duration) {
	body := (took - ttfb).Seconds()
	if n < bdpMinPart || body <= 0 {
		return
	}
	lat, rate := ttfb.Seconds(), float64(n)/body
	if s.rate == 0 {
		s.latency, s.rate = lat, rate
		return
	}
	const a = 0.25
	s.latency += a * (lat - s.latency)
	s.rate += a * (rate - s.rate)
}

// bdp is the measured bandwidth-delay product of one connection: the bytes
// it moves in one round trip.
func (s *stream) bdp() int64 { return int64(s.latency * s.rate) }

type part struct {
	off  int64
	buf  []byte
	done chan struct{}
	err  error            // set before done is closed
	ctx  context.Context  // the stream's: done once the stream is dropped
	dc   *cache.DataEntry // the entry the fetch fills (held), or nil
	refs atomic.Int32     // the stream's reference, the fetcher's, and readers'
	f    *FS
	// The bytes at the start of buf that have arrived: a read waits for
	// its own bytes only, not for the whole part (the first byte of a
	// file is served as soon as it arrives).
	mu   sync.Mutex
	got  int64  // GUARDED_BY(mu)
	wake wakeup // GUARDED_BY(mu); broadcast at each progress
	// served counts the bytes reads have asked of the part (guarded by
	// the reader's mu); once it reaches len(buf) the stream drops it.
	served int64
	// fetched is the bytes the fetch filled in (set before done closes).
	fetched int64
}

func (p *part) end() int64 { return p.off + int64(len(p.buf)) }

// abandoned reports whether the part's stream was dropped (by a read
// elsewhere, or the close): its fetch stops, and a read that waited for
// its bytes reads them the ordinary way instead of failing.
func (p *part) abandoned() bool { return p.ctx.Err() != nil }

// arrived records that the first n bytes of buf are in.
func (p *part) arrived(n int) {
	p.mu.Lock()
	p.got = int64(n)
	p.wake.broadcast()
	p.mu.Unlock()
}

// waitFor waits until the part holds its bytes up to offset end (or it is
// done) and returns where its bytes end now, with the fetch's error once
// done short of end.
func (p *part) waitFor(ctx context.Context, end int64) (int64, error) {
	need := min(end, p.end()) - p.off
	for {
		p.mu.Lock()
		got := p.got
		if got >= need {
			p.mu.Unlock()
			return p.off + got, nil
		}
		select {
		case <-p.done:
			p.mu.Unlock()
			return p.off + got, p.err
		default:
		}
		w := p.wake.channel()
		p.mu.Unlock()
		select {
		case <-w:
		case <-p.done:
		case <-ctx.Done():
			return p.off + got, ctx.Err()
		}
	}
}

func (p *part) unref() {
	if p.refs.Add(-1) == 0 {
		// Dropped by the stream and fetched: what no read asked for
		// was read ahead in vain.
		p.f.counters.unread.Add(p.fetched - min(p.served, p.fetched))
		p.f.eng.Bufs().Put(p.buf)
		p.buf = nil
	}
}

func newReader(f *FS, n *fileNode, key, etag string, size int64) *reader {
	return &reader{fsys: f, node: n, key: key, etag: etag, size: size, lastEnd: -1, dc: f.openData(key, etag, size)}
}

// objectKey is where the version being read is now: the file's current key
// when it was renamed since the open (a server-side copy keeps the ETag of
// an object copied whole), else the key at open. If-Match still guards
// every GET: a copy made part by part has another ETag, and reads then
// fail with ESTALE.
func (r *reader) objectKey() string {
	if r.node != nil && !r.node.orphaned() {
		return r.node.key()
	}
	return r.key
}

// Read answers a FUSE read. A read wholly inside the prefetched parts of the
// stream is answered with the parts' own memory (no copy), held until go-fuse
// has written the reply; anything else is read into dest.
func (r *reader) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	r.mu.Lock()
	r.reading++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.reading--
		r.mu.Unlock()
	}()
	if off < r.size && len(dest) > 0 {
		end := min(off+int64(len(dest)), r.size)
		r.mu.Lock()
		s := r.stream
		var parts []*part
		if !r.closed && s != nil && off >= s.parts0() && end <= s.next {
			r.lastEnd = end
			parts = r.collectLocked(off, end)
		}
		r.mu.Unlock()
		if parts != nil {
			if res, errno, ok := r.sliceParts(ctx, parts, off, end); ok {
				r.cacheMiss()
				return res, errno
			}
		}
	}
	// Prefetched memory first (a first read fills the cache behind the
	// stream), then the data cache, then OSS.
	if n, ok := r.cacheRead(dest, off); ok {
		return dataResult(dest[:n]), 0
	}
	n, errno := r.ReadAt(ctx, dest, off)
	return dataResult(dest[:n]), errno
}

// sliceParts waits for parts and returns a reply made of their bytes for
// [off, end). ok is false (and the references dropped) when they do not
// cover the range; the caller then reads the ordinary way.
func (r *reader) sliceParts(ctx context.Context, parts []*part, off, end int64) (fuse.ReadResult, syscall.Errno, bool) {
	res := &partsResult{parts: parts}
	pos := off
	for _, p := range parts {
		if pos == end || p.off > pos {
			break
		}
		upto, err := p.waitFor(ctx, end)
		if ctx.Err() != nil {
			res.Done()
			return nil, syscall.EINTR, true
		}
		if upto < min(end, p.end()) {
			res.Done()
			if p.abandoned() {
				return nil, 0, false // read the ordinary way
			}
			r.mu.Lock()
			r.resetLocked()
			r.mu.Unlock()
			return nil, r.fsys.toErrno("read", err), true
		}
		b := p.buf[pos-p.off : min(end, p.end())-p.off]
		res.slices = append(res.slices, b)
		res.n += len(b)
		pos += int64(len(b))
	}
	if pos != end {
		res.Done()
		return nil, 0, false
	}
	return res, 0, true
}

// dataResult is a read reply in a plain buffer. Unlike fuse.ReadResultData
// it is written with one writev: go-fuse would first try to splice it and
// log a failure for every reply larger than a pipe.
type dataResult []byte

func (d dataResult) Slices() ([][]byte, fuse.Status) { return [][]byte{d}, fuse.OK }
func (d dataResult) Size() int                       { return len(d) }
func (d dataResult) Done()                           {}
func (d dataResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	return d, fuse.OK
}

// partsResult is a read reply made of prefetched parts' memory. go-fuse
// writes it as a vector (Slices) and calls Done once the reply is written;
// only then are the parts' references dropped.
type partsResult struct {
	parts  []*part
	slices [][]byte
	n      int
}

func (p *partsResult) Slices() ([][]byte, fuse.Status) { return p.slices, fuse.OK }
func (p *partsResult) Size() int                       { return p.n }

// Bytes copies the reply into buf (go-fuse's fallback).
func (p *partsResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	if len(buf) < p.n {
		buf = make([]byte, p.n)
	}
	n := 0
	for _, s := range p.slices {
		n += copy(buf[n:], s)
	}
	return buf[:n], fuse.OK
}

func (p *partsResult) Done() {
	for _, pt := range p.parts {
		pt.unref()
	}
	p.parts = nil
}

// ReadAt fills dest from offset off and returns the number of bytes read
// (short only at the end of the object).
func (r *reader) ReadAt(ctx context.Context, dest []byte, off int64) (int, syscall.Errno) {
	if off >= r.size || len(dest) == 0 {
		return 0, 0
	}
	end := min(off+int64(len(dest)), r.size)
	dest = dest[:end-off]

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return 0, syscall.EBADF
	}
	s := r.stream
	inStream := s != nil && off >= s.parts0() && off <= s.next+s.window+r.aheadLocked(len(dest))
	behind := false
	if !inStream && (off == r.lastEnd || (r.lastEnd < 0 && off == 0)) {
		r.resetLocked()
		r.startLocked(off)
		s, inStream = r.stream, true
	} else if !inStream && s != nil && off < s.parts0() && off >= s.parts0()-r.fsys.cfg.MaxWindow {
		// Behind the stream (reordered read-ahead, or a page read
		// again): its blocks, and the stream goes on.
		behind = true
	} else if !inStream {
		r.resetLocked()
	}
	if !behind {
		r.lastEnd = end
	}
	var parts []*part
	if inStream {
		parts = r.collectLocked(off, end)
	}
	r.mu.Unlock()
	if behind {
		// In aligned blocks, like a random read: after a failed
		// read-ahead the kernel asks page by page, and 4 KiB reads
		// fetched as they come cost a GET each and fill no chunk of
		// the data cache.
		return r.readBlocks(ctx, dest, off)
	}

	if parts != nil {
		n, errno := r.copyFromParts(ctx, parts, dest, off)
		if errno != 0 || n == len(dest) {
			return n, errno
		}
		// The stream could not cover the read (budget exhausted):
		// fetch the rest directly.
		m, errno := r.fetchInto(ctx, dest[n:], off+int64(n))
		return n + m, errno
	}
	return r.readBlocks(ctx, dest, off)
}

// aheadLocked is how far past the stream's window a read of n bytes may
// start and still belong to it. The kernel sends a sequential reader's
// read-ahead as up to KernelRequests requests at once, and they reach us
// in any order: while other reads are under way, one may start that many
// reads' length beyond the stream (within MaxWindow). Dropping the stream
// for it would cancel the parts the others wait for, and fetch them again.
// A lone read has no slack: a seek drops the stream.
func (r *reader) aheadLocked(n int) int64 {
	if r.reading < 2 {
		return 0
	}
	cfg := &r.fsys.cfg
	return min(int64(cfg.KernelRequests)*int64(n), cfg.MaxWindow)
}

func (s *stream) parts0() int64 {
	if len(s.parts) == 0 {
		return s.next
	}
	return s.parts[0].off
}

func (r *reader) startLocked(off int64) {
	ctx, cancel := context.WithCancel(context.Background())
	r.stream = &stream{ctx: ctx, cancel: cancel, next: off, hi: off, window: 2 * r.fsys.cfg.FirstRead}
}

// resetLocked drops the stream and its prefetched data.
func (r *reader) resetLocked() {
	s := r.stream
	if s == nil {
		return
	}
	s.cancel()
	for _, p := range s.parts {
		p.unref()
	}
	r.stream = nil
}

// collectLocked schedules parts up to the window and returns the parts
// covering [off, end), each with a reference the caller must drop.
func (r *reader) collectLocked(off, end int64) []*part {
	s := r.stream
	cfg := &r.fsys.cfg
	if end > s.hi {
		s.hi = end
	}
	// Drop the parts at the front that have been read through (the
	// kernel's read-ahead sends its reads out of order, so a part is kept
	// until every byte of it was asked for) or that fell a whole window
	// behind; the window grows with each.
	for len(s.parts) > 0 && (s.parts[0].served >= int64(len(s.parts[0].buf)) || s.parts[0].end() <= s.hi-cfg.MaxWindow) {
		s.parts[0].unref()
		s.parts = s.parts[1:]
		s.window = min(2*s.window, cfg.MaxWindow)
	}
	// Parts of at least twice one connection's bandwidth-delay product
	// (so a part's round trip costs it a third of its time at most), and
	// at least four of them in flight.
	bdp := s.bdp()
	s.window = max(s.window, min(8*bdp, cfg.MaxWindow))
	// Schedule ahead: at least up to end, then up to the window.
	for s.next < r.size && (s.next < end || s.next-s.hi < s.window) {
		n := min(max(s.window/4, cfg.FirstRead, 2*bdp), cfg.PartSize, r.size-s.next)
		if s.next < end {
			n = max(n, min(end-s.next, r.size-s.next))
		}
		// Parts end on the data cache's chunk boundaries: a fill
		// stores whole chunks, and a chunk split between two parts
		// would be stored by neither. (On 256 KiB boundaries: parts
		// of a few sizes reuse each other's buffers.)
		n = min(roundUp(s.next+n, r.fsys.partAlign()), r.size) - s.next
		buf := r.fsys.eng.Bufs().Get(n)
		if buf == nil {
			break // the budget is used up: read-ahead stops growing
		}
		p := &part{off: s.next, buf: buf, done: make(chan struct{}), f: r.fsys, ctx: s.ctx, dc: r.dc}
		p.refs.Store(2)
		if p.dc != nil {
			// The fetch fills the data cache even if the file is
			// closed before it ends (fetchPart gives it back).
			p.dc.Hold()
		}
		s.parts = append(s.parts, p)
		s.next += n
		go r.fetchPart(s, p)
	}
	var out []*part
	for _, p := range s.parts {
		if p.end() > off && p.off < end {
			p.refs.Add(1)
			p.served += min(end, p.end()) - max(off, p.off)
			out = append(out, p)
		}
	}
	return out
}

func (r *reader) fetchPart(s *stream, p *part) {
	defer p.unref()
	start := time.Now()
	var ttfb time.Duration
	n, err := r.fetchTimed(s.ctx, p.buf, p.off, func() { ttfb = time.Since(start) }, p.arrived)
	if err == nil {
		took := time.Since(start)
		r.mu.Lock()
		s.observe(n, ttfb, took)
		r.mu.Unlock()
	}
	p.fetched = int64(n)
	r.fsys.counters.prefetched.Add(int64(n))
	p.err = err
	close(p.done)
	// What arrived is stored even when the GET did not finish (the stream
	// was reset, the file closed, the body cut for good): readers may
	// have been served those bytes already, and would not ask for them
	// again, so the file would never become whole in the cache. (Every
	// byte is of the version read: If-Match guards each GET.) After done:
	// readers do not wait for the disk.
	if p.dc != nil {
		if n > 0 {
			p.dc.Fill(p.off, p.buf[:n])
		}
		p.dc.Release()
	}
}

// partAlign is where sequential parts end: on 256 KiB boundaries, or the
// data cache's chunk boundaries if they do not divide that.
func (f *FS) partAlign() int64 {
	const a = 256 << 10
	if f.cfg.DataCache != nil {
		if c := f.cfg.DataCache.ChunkSize(); a%c != 0 {
			return c
		}
	}
	return a
}

// copyFromParts copies what the parts hold of [off, off+len(dest)) into
// dest, stopping at the first gap.
func (r *reader) copyFromParts(ctx context.Context, parts []*part, dest []byte, off int64) (int, syscall.Errno) {
	defer func() {
		for _, p := range parts {
			p.unref()
		}
	}()
	n := 0
	for _, p := range parts {
		pos := off + int64(n)
		if n == len(dest) || p.off > pos {
			break
		}
		end := off + int64(len(dest))
		upto, err := p.waitFor(ctx, end)
		if ctx.Err() != nil {
			return n, syscall.EINTR
		}
		if upto < min(end, p.end()) {
			if p.abandoned() {
				// The stream was dropped under the read: what
				// arrived is used, the caller fetches the rest.
				if upto > pos {
					n += copy(dest[n:], p.buf[pos-p.off:upto-p.off])
				}
				return n, 0
			}
			r.mu.Lock()
			r.resetLocked()
			r.mu.Unlock()
			return n, r.fsys.toErrno("read", err)
		}
		n += copy(dest[n:], p.buf[pos-p.off:upto-p.off])
	}
	return n, 0
}

// readBlocks serves a random read from aligned blocks in the block cache.
// The blocks it touches that are not cached are fetched with one ranged GET
// from the first missing one to the last (cached ones between them are
// fetched again rather than split the read into several round trips), so a
// read costs one GET whatever its size: a 4 KiB read one block, a 1 MiB read
// one 1 MiB range.
func (r *reader) readBlocks(ctx context.Context, dest []byte, off int64) (int, syscall.Errno) {
	bs := r.fsys.cfg.BlockSize
	first, last := off/bs, (off+int64(len(dest))-1)/bs
	blocks := make([][]byte, last-first+1)
	lo, hi := int64(-1), int64(-1) // the missing span
	for i := first; i <= last; i++ {
		if b, ok := r.fsys.eng.Blocks().Get(cache.BlockKey{Key: r.key, ETag: r.etag, Index: i}); ok {
			blocks[i-first] = b
			continue
		}
		if lo < 0 {
			lo = i
		}
		hi = i
	}
	if lo >= 0 {
		span := blocks[lo-first : hi-first+1]
		for i := range span {
			start := (lo + int64(i)) * bs
			span[i] = make([]byte, min(bs, r.size-start))
		}
		if err := r.fetchBlocks(ctx, span, lo*bs); err != nil {
			return 0, r.fsys.toErrno("read", err)
		}
		for i, b := range span {
			start := (lo + int64(i)) * bs
			r.fill(start, b)
			r.fsys.eng.Blocks().Put(cache.BlockKey{Key: r.key, ETag: r.etag, Index: lo + int64(i)}, b)
		}
	}
	n := 0
	for i, b := range blocks {
		pos := off + int64(n)
		n += copy(dest[n:], b[pos-(first+int64(i))*bs:])
	}
	return n, 0
}

// fetchBlocks fills consecutive blocks starting at off with one ranged GET;
// should the body be cut short, the blocks not yet filled are fetched one
// by one (fetch resumes within each).
func (r *reader) fetchBlocks(ctx context.Context, blocks [][]byte, off int64) error {
	total := int64(0)
	for _, b := range blocks {
		total += int64(len(b))
	}
	key := r.objectKey()
	res, err := r.fsys.store.GetRange(ctx, ossapi.GetRequest{Key: key, Offset: off, Length: total, IfMatch: r.etag})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	pos := off
	for i, b := range blocks {
		if _, err := io.ReadFull(res.Body, b); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.fsys.log.Warn("read interrupted; resuming", "key", key, "offset", pos, "err", err)
			for _, rest := range blocks[i:] {
				if _, err := r.fetch(ctx, rest, pos); err != nil {
					return err
				}
				pos += int64(len(rest))
			}
			return nil
		}
		pos += int64(len(b))
	}
	return nil
}

// fetchInto reads straight into dest (no caching, no budget).
func (r *reader) fetchInto(ctx context.Context, dest []byte, off int64) (int, syscall.Errno) {
	n, err := r.fetch(ctx, dest, off)
	r.fill(off, dest[:n]) // what arrived, as fetchPart does
	if err != nil {
		return n, r.fsys.toErrno("read", err)
	}
	return n, 0
}

// fetch fills buf from offset off with ranged GETs carrying If-Match,
// resuming after a connection dropped mid-body (up to 3 times).
func (r *reader) fetch(ctx context.Context, buf []byte, off int64) (int, error) {
	return r.fetchTimed(ctx, buf, off, nil, nil)
}

// fetchTimed is fetch, calling first (if not nil) when the first answer
// arrives, and progress (if not nil) with the bytes of buf filled so far as
// they arrive.
func (r *reader) fetchTimed(ctx context.Context, buf []byte, off int64, first func(), progress func(int)) (int, error) {
	n := 0
	key := r.objectKey()
	for attempt := 0; ; attempt++ {
		res, err := r.fsys.store.GetRange(ctx, ossapi.GetRequest{Key: key, Offset: off + int64(n), Length: int64(len(buf) - n), IfMatch: r.etag})
		if err != nil {
			return n, err
		}
		if first != nil && attempt == 0 {
			first()
		}
		var m int
		if progress == nil {
			m, err = io.ReadFull(res.Body, buf[n:])
		} else {
			m, err = readProgress(res.Body, buf[n:], func(k int) { progress(n + k) })
		}
		res.Body.Close()
		n += m
		if err == nil || n == len(buf) {
			return n, nil
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if err == io.ErrUnexpectedEOF && int64(n)+off >= r.size {
			return n, &engine.Error{Op: "GetObject", Key: key, Errno: syscall.ESTALE, Msg: "object shorter than at open"}
		}
		if attempt >= 3 {
			return n, engine.BodyCut("GetObject", key, err)
		}
		r.fsys.log.Warn("read interrupted; resuming", "key", key, "offset", off+int64(n), "err", err)
	}
}

// readProgress is io.ReadFull, calling progress with the bytes read so far
// after each read of the body.
func readProgress(body io.Reader, buf []byte, progress func(int)) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := body.Read(buf[n:])
		n += m
		if m > 0 {
			progress(n)
		}
		if err != nil {
			if n == len(buf) {
				return n, nil
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return n, nil
}

// Close drops prefetched data.
func (r *reader) Close() {
	r.mu.Lock()
	was := r.closed
	r.closed = true
	r.resetLocked()
	r.mu.Unlock()
	if !was && r.dc != nil {
		r.dc.Release()
	}
}

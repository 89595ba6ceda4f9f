package engine

// The read path: a Reader serves one open handle's reads of one object
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

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/ossapi"
)

// Named is the file a Reader reads, as it is named now: a rename moves it
// (package fs: its file node).
type Named interface {
	// CurrentKey is the file's key now; ok is false once it has none
	// (unlinked, or renamed over).
	CurrentKey() (key string, ok bool)
}

// Reader serves the reads of one open handle of one object version.
type Reader struct {
	e    *Engine
	key  string // the key at open: names the version in the block cache
	node Named  // nil in tests; GETs follow the file's renames
	etag string
	size int64
	dc   *cache.DataEntry // the data cache's entry of this version, or nil (datacache.go)

	mu      sync.Mutex
	stream  *stream // GUARDED_BY(mu); nil when not streaming
	lastEnd int64   // GUARDED_BY(mu); end of the previous read, -1 before any
	closed  bool    // GUARDED_BY(mu)

	reading atomic.Int32 // reads under way (see aheadLocked)
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
	e    *Engine
	// The bytes at the start of buf that have arrived: a read waits for
	// its own bytes only, not for the whole part (the first byte of a
	// file is served as soon as it arrives).
	mu   sync.Mutex
	got  int64  // GUARDED_BY(mu)
	wake Wakeup // GUARDED_BY(mu); broadcast at each progress
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
	p.wake.Broadcast()
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
		w := p.wake.Channel()
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
		p.e.unread.Add(p.fetched - min(p.served, p.fetched))
		p.e.bufs.Put(p.buf)
		p.buf = nil
	}
}

// NewReader makes the reader of one open handle: the version etag (of
// size bytes) of the object at key, read at n's key as the file is
// renamed (n may be nil: key stays).
func (e *Engine) NewReader(n Named, key, etag string, size int64) *Reader {
	return &Reader{e: e, node: n, key: key, etag: etag, size: size, lastEnd: -1, dc: e.OpenData(key, etag, size)}
}

// ETag is the version the reader reads.
func (r *Reader) ETag() string { return r.etag }

// DataEntry is the data cache's entry of the version read (nil without a
// data cache).
func (r *Reader) DataEntry() *cache.DataEntry { return r.dc }

// objectKey is where the version being read is now: the file's current key
// when it was renamed since the open (a server-side copy keeps the ETag of
// an object copied whole), else the key at open. If-Match still guards
// every GET: a copy made part by part has another ETag, and reads then
// fail with ESTALE.
func (r *Reader) objectKey() string {
	if r.node != nil {
		if key, ok := r.node.CurrentKey(); ok {
			return key
		}
	}
	return r.key
}

// Read answers a read of the file (a FUSE read). A read wholly inside the
// prefetched parts of the stream is answered with the parts' own memory (no
// copy), held until the result's Done (once the reply is written); anything
// else is read into dest. The result is never nil; an error comes with
// what was read before it.
func (r *Reader) Read(ctx context.Context, dest []byte, off int64) (*ReadResult, error) {
	r.reading.Add(1)
	defer r.reading.Add(-1)
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
			if res, err, ok := r.sliceParts(ctx, parts, off, end); ok {
				r.cacheMiss()
				return res, err
			}
		}
	}
	// Prefetched memory first (a first read fills the cache behind the
	// stream), then the data cache, then OSS.
	if n, ok := r.cacheRead(dest, off); ok {
		return BytesResult(dest[:n]), nil
	}
	n, err := r.ReadAt(ctx, dest, off)
	return BytesResult(dest[:n]), err
}

// sliceParts waits for parts and returns a reply made of their bytes for
// [off, end). ok is false (and the references dropped) when they do not
// cover the range; the caller then reads the ordinary way.
func (r *Reader) sliceParts(ctx context.Context, parts []*part, off, end int64) (*ReadResult, error, bool) {
	res := &ReadResult{parts: parts}
	pos := off
	for _, p := range parts {
		if pos == end || p.off > pos {
			break
		}
		upto, err := p.waitFor(ctx, end)
		if ctx.Err() != nil {
			res.Done()
			return BytesResult(nil), syscall.EINTR, true
		}
		if upto < min(end, p.end()) {
			res.Done()
			if p.abandoned() {
				return nil, nil, false // read the ordinary way
			}
			r.mu.Lock()
			r.resetLocked()
			r.mu.Unlock()
			return BytesResult(nil), err, true
		}
		b := p.buf[pos-p.off : min(end, p.end())-p.off]
		res.slices = append(res.slices, b)
		res.n += len(b)
		pos += int64(len(b))
	}
	if pos != end {
		res.Done()
		return nil, nil, false
	}
	return res, nil, true
}

// ReadResult is a read's answer: its bytes, as slices of memory to write
// in order. One made of prefetched parts' memory holds their references
// until Done, which the caller calls once the reply is written. (Package
// fs hands it to go-fuse as a fuse.ReadResult, written with one writev.)
type ReadResult struct {
	parts  []*part
	slices [][]byte
	n      int
}

// BytesResult is a read's answer in a plain buffer.
func BytesResult(b []byte) *ReadResult { return &ReadResult{slices: [][]byte{b}, n: len(b)} }

// Slices are the answer's bytes, in order.
func (p *ReadResult) Slices() [][]byte { return p.slices }

// Size is the answer's length in bytes.
func (p *ReadResult) Size() int { return p.n }

// Bytes is the answer in one buffer: its own memory when it is one slice,
// else a copy into buf (grown when too small).
func (p *ReadResult) Bytes(buf []byte) []byte {
	if len(p.slices) == 1 && p.parts == nil {
		return p.slices[0]
	}
	if len(buf) < p.n {
		buf = make([]byte, p.n)
	}
	n := 0
	for _, s := range p.slices {
		n += copy(buf[n:], s)
	}
	return buf[:n]
}

// Done releases the memory the answer holds (call it once written).
func (p *ReadResult) Done() {
	for _, pt := range p.parts {
		pt.unref()
	}
	p.parts = nil
}

// ReadAt fills dest from offset off and returns the number of bytes read
// (short only at the end of the object).
func (r *Reader) ReadAt(ctx context.Context, dest []byte, off int64) (int, error) {
	if off >= r.size || len(dest) == 0 {
		return 0, nil
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
	} else if !inStream && s != nil && off < s.parts0() && off >= s.parts0()-r.e.cfg.MaxWindow {
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
		n, err := r.copyFromParts(ctx, parts, dest, off)
		if err != nil || n == len(dest) {
			return n, err
		}
		// The stream could not cover the read (budget exhausted):
		// fetch the rest directly.
		m, err := r.fetchInto(ctx, dest[n:], off+int64(n))
		return n + m, err
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
func (r *Reader) aheadLocked(n int) int64 {
	if r.reading.Load() < 2 {
		return 0
	}
	cfg := &r.e.cfg
	return min(int64(cfg.KernelRequests)*int64(n), cfg.MaxWindow)
}

func (s *stream) parts0() int64 {
	if len(s.parts) == 0 {
		return s.next
	}
	return s.parts[0].off
}

func (r *Reader) startLocked(off int64) {
	ctx, cancel := context.WithCancel(context.Background())
	r.stream = &stream{ctx: ctx, cancel: cancel, next: off, hi: off, window: 2 * r.e.cfg.FirstRead}
}

// resetLocked drops the stream and its prefetched data.
func (r *Reader) resetLocked() {
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
func (r *Reader) collectLocked(off, end int64) []*part {
	s := r.stream
	cfg := &r.e.cfg
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
		n = min(RoundUp(s.next+n, r.e.partAlign()), r.size) - s.next
		buf := r.e.bufs.Get(n)
		if buf == nil {
			break // the budget is used up: read-ahead stops growing
		}
		p := &part{off: s.next, buf: buf, done: make(chan struct{}), e: r.e, ctx: s.ctx, dc: r.dc}
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

func (r *Reader) fetchPart(s *stream, p *part) {
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
	r.e.prefetched.Add(int64(n))
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
func (e *Engine) partAlign() int64 {
	const a = 256 << 10
	if e.cfg.DataCache != nil {
		if c := e.cfg.DataCache.ChunkSize(); a%c != 0 {
			return c
		}
	}
	return a
}

// copyFromParts copies what the parts hold of [off, off+len(dest)) into
// dest, stopping at the first gap.
func (r *Reader) copyFromParts(ctx context.Context, parts []*part, dest []byte, off int64) (int, error) {
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
				return n, nil
			}
			r.mu.Lock()
			r.resetLocked()
			r.mu.Unlock()
			return n, err
		}
		n += copy(dest[n:], p.buf[pos-p.off:upto-p.off])
	}
	return n, nil
}

// readBlocks serves a random read from aligned blocks in the block cache.
// The blocks it touches that are not cached are fetched with one ranged GET
// from the first missing one to the last (cached ones between them are
// fetched again rather than split the read into several round trips), so a
// read costs one GET whatever its size: a 4 KiB read one block, a 1 MiB read
// one 1 MiB range.
func (r *Reader) readBlocks(ctx context.Context, dest []byte, off int64) (int, error) {
	bs := r.e.cfg.BlockSize
	first, last := off/bs, (off+int64(len(dest))-1)/bs
	blocks := make([][]byte, last-first+1)
	lo, hi := int64(-1), int64(-1) // the missing span
	for i := first; i <= last; i++ {
		if b, ok := r.e.blocks.Get(cache.BlockKey{Key: r.key, ETag: r.etag, Index: i}); ok {
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
			return 0, err
		}
		for i, b := range span {
			start := (lo + int64(i)) * bs
			r.fill(start, b)
			r.e.blocks.Put(cache.BlockKey{Key: r.key, ETag: r.etag, Index: lo + int64(i)}, b)
		}
	}
	n := 0
	for i, b := range blocks {
		pos := off + int64(n)
		n += copy(dest[n:], b[pos-(first+int64(i))*bs:])
	}
	return n, nil
}

// fetchBlocks fills consecutive blocks starting at off with one ranged GET;
// should the body be cut short, the blocks not yet filled are fetched one
// by one (fetch resumes within each).
func (r *Reader) fetchBlocks(ctx context.Context, blocks [][]byte, off int64) error {
	total := int64(0)
	for _, b := range blocks {
		total += int64(len(b))
	}
	key := r.objectKey()
	res, err := r.e.store.GetRange(ctx, ossapi.GetRequest{Key: key, Offset: off, Length: total, IfMatch: r.etag})
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
			r.e.log.Warn("read interrupted; resuming", "key", key, "offset", pos, "err", err)
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
func (r *Reader) fetchInto(ctx context.Context, dest []byte, off int64) (int, error) {
	n, err := r.fetch(ctx, dest, off)
	r.fill(off, dest[:n]) // what arrived, as fetchPart does
	return n, err
}

// fetch fills buf from offset off with ranged GETs carrying If-Match,
// resuming after a connection dropped mid-body (up to 3 times).
func (r *Reader) fetch(ctx context.Context, buf []byte, off int64) (int, error) {
	return r.fetchTimed(ctx, buf, off, nil, nil)
}

// fetchTimed is fetch, calling first (if not nil) when the first answer
// arrives, and progress (if not nil) with the bytes of buf filled so far as
// they arrive.
func (r *Reader) fetchTimed(ctx context.Context, buf []byte, off int64, first func(), progress func(int)) (int, error) {
	n := 0
	key := r.objectKey()
	for attempt := 0; ; attempt++ {
		res, err := r.e.store.GetRange(ctx, ossapi.GetRequest{Key: key, Offset: off + int64(n), Length: int64(len(buf) - n), IfMatch: r.etag})
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
			return n, &Error{Op: "GetObject", Key: key, Errno: syscall.ESTALE, Msg: "object shorter than at open"}
		}
		if attempt >= 3 {
			return n, BodyCut("GetObject", key, err)
		}
		r.e.log.Warn("read interrupted; resuming", "key", key, "offset", off+int64(n), "err", err)
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
func (r *Reader) Close() {
	r.mu.Lock()
	was := r.closed
	r.closed = true
	r.resetLocked()
	r.mu.Unlock()
	if !was && r.dc != nil {
		r.dc.Release()
	}
}

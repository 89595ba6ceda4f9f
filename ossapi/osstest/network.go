package osstest

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Network is a model of the network between the clients and the server, so
// that a program can be tried against something like a real region on
// loopback. The zero value is loopback as it is: no delay, no limits.
type Network struct {
	// Latency is added before the first byte of every response (after the
	// request, its body included, has arrived): one round trip plus the
	// service's own time to first byte.
	Latency time.Duration
	// LatencyJitter varies each response's latency uniformly within
	// ±LatencyJitter (never below zero).
	LatencyJitter time.Duration
	// ConnBandwidth limits each connection, in bytes per second, in each
	// direction (0: unlimited).
	ConnBandwidth int64
	// Bandwidth limits the whole server, in bytes per second, in each
	// direction, like a full-duplex network interface (0: unlimited).
	Bandwidth int64
	// QPS is the most requests the server accepts in any one second;
	// beyond it a request is answered as OSS answers when an account's
	// request rate is exceeded: 503 TotalQpsLimitExceeded (0: unlimited).
	QPS int
}

// netState is a Network in force: the server-wide limiters and the request
// window, shared by every connection until the next SetNetwork.
type netState struct {
	cfg      Network
	up, down *rate.Limiter // server-wide, nil when unlimited
	qps      *qpsWindow    // nil when unlimited
}

func newNetState(n Network) *netState {
	st := &netState{cfg: n}
	if n.Bandwidth > 0 {
		st.up, st.down = newRateLimiter(n.Bandwidth), newRateLimiter(n.Bandwidth)
	}
	if n.QPS > 0 {
		st.qps = &qpsWindow{times: make([]time.Time, n.QPS)}
	}
	return st
}

// shaped reports whether any byte rate is limited.
func (st *netState) shaped() bool { return st.cfg.ConnBandwidth > 0 || st.cfg.Bandwidth > 0 }

// latency draws the delay before one response's first byte.
func (st *netState) latency() time.Duration {
	d := st.cfg.Latency
	if j := st.cfg.LatencyJitter; j > 0 {
		d += time.Duration((2*rand.Float64() - 1) * float64(j))
	}
	return max(d, 0)
}

// newRateLimiter returns a limiter of bytesPerSec whose burst is 10 ms of
// traffic (at least 16 KiB), starting empty: a new connection does not get
// a burst that a real one would not have.
func newRateLimiter(bytesPerSec int64) *rate.Limiter {
	burst := int(min(max(bytesPerSec/100, 16<<10), 64<<20))
	l := rate.NewLimiter(rate.Limit(bytesPerSec), burst)
	l.AllowN(time.Now(), burst)
	return l
}

// qpsWindow admits at most len(times) requests in any one second.
type qpsWindow struct {
	mu    sync.Mutex
	times []time.Time // admission times, a ring
	next  int         // oldest entry, overwritten next
}

func (w *qpsWindow) admit(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if oldest := w.times[w.next]; !oldest.IsZero() && now.Sub(oldest) < time.Second {
		return false
	}
	w.times[w.next] = now
	w.next = (w.next + 1) % len(w.times)
	return true
}

// SetNetwork changes the network model; it applies to requests and
// transfers from now on, on open connections too.
func (s *Server) SetNetwork(n Network) { s.net.Store(newNetState(n)) }

// Network returns the network model in force.
func (s *Server) Network() Network { return s.net.Load().cfg }

// errQPSExceeded is OSS's answer to an account over its request rate.
func errQPSExceeded() *ossError {
	return newErr(503, "TotalQpsLimitExceeded", "Max total qps limit is exceeded.")
}

// sleep waits d, or less if the server closes or ctx ends.
func (s *Server) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.closed:
	case <-ctx.Done():
	}
}

// shapedListener wraps the server's listener so that every connection's
// bytes go through the network model.
type shapedListener struct {
	net.Listener
	s *Server
}

func (l shapedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &shapedConn{Conn: c, s: l.s}, nil
}

// shapedConn limits one connection's reads (the clients' uploads) and
// writes (their downloads) to the per-connection and server-wide rates.
type shapedConn struct {
	net.Conn
	s      *Server
	rd, wr direction
}

// direction is one direction of a connection: its own limiter, made anew
// when the model changes.
type direction struct {
	mu    sync.Mutex
	state *netState // the model lim was made for
	lim   *rate.Limiter
}

// limiters returns the model in force and this direction's limiter under
// it (nil when the connection is not limited).
func (d *direction) limiters(s *Server) (*netState, *rate.Limiter) {
	st := s.net.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != st {
		d.state, d.lim = st, nil
		if st.cfg.ConnBandwidth > 0 {
			d.lim = newRateLimiter(st.cfg.ConnBandwidth)
		}
	}
	return st, d.lim
}

// chunk is the most bytes one step may move: the smallest burst in play.
func chunk(lims ...*rate.Limiter) int {
	n := 1 << 30
	for _, l := range lims {
		if l != nil {
			n = min(n, l.Burst())
		}
	}
	return n
}

// take charges n bytes to the limiters and waits until they allow them.
func (c *shapedConn) take(n int, lims ...*rate.Limiter) {
	now := time.Now()
	var wait time.Duration
	for _, l := range lims {
		if l != nil {
			wait = max(wait, l.ReserveN(now, n).DelayFrom(now))
		}
	}
	c.s.sleep(context.Background(), wait)
}

func (c *shapedConn) Read(p []byte) (int, error) {
	st, own := c.rd.limiters(c.s)
	if !st.shaped() {
		return c.Conn.Read(p)
	}
	if k := chunk(own, st.up); len(p) > k {
		p = p[:k]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.take(n, own, st.up)
	}
	return n, err
}

func (c *shapedConn) Write(p []byte) (int, error) {
	st, own := c.wr.limiters(c.s)
	if !st.shaped() {
		return c.Conn.Write(p)
	}
	k := chunk(own, st.down)
	written := 0
	for written < len(p) {
		part := p[written:min(written+k, len(p))]
		c.take(len(part), own, st.down)
		n, err := c.Conn.Write(part)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

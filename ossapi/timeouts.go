package ossapi

// Per-attempt timeouts. A dead or stuck server must be noticed in seconds,
// not minutes, without cutting short a request that is merely large: so
// each phase of an attempt has its own bound instead of one deadline for
// the whole exchange.
//
//   - connecting (TCP and TLS): ConnectTimeout, in the dialer;
//   - sending the body: the transport must come back for more of it
//     within StallTimeout (it does not while the server reads nothing);
//   - waiting for the response headers once the request is sent:
//     FirstByteTimeout, or Timeout for the requests that make OSS copy or
//     assemble data before it answers (see slowOps);
//   - reading the response body: each read must bring bytes within
//     StallTimeout. Only time spent waiting in a read counts, so a reader
//     that pauses between reads is not taken for a stalled server.
//
// When a bound is passed the attempt fails with a *timeoutError, which the
// retryer retries like a dropped connection.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// timeoutError is an attempt that passed one of its bounds.
type timeoutError struct {
	what  string // "no response", "request body stalled", "response body stalled"
	after time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("%s for %v", e.what, e.after)
}

// Timeout and Temporary make it a net.Error that times out.
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// slowOps are the operations in which OSS copies or assembles data before
// it answers: their response may take Timeout rather than FirstByteTimeout.
var slowOps = map[string]bool{"CopyObject": true, "UploadPartCopy": true, "CompleteMultipartUpload": true}

// firstByteKey carries a request's first-byte timeout in its context.
type firstByteKey struct{}

// withFirstByte sets the first-byte timeout of the requests made with ctx.
func withFirstByte(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, firstByteKey{}, d)
}

// timeoutTransport enforces the first-byte and stall timeouts around next.
type timeoutTransport struct {
	next      http.RoundTripper
	firstByte time.Duration
	stall     time.Duration
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	fb := t.firstByte
	if d, ok := req.Context().Value(firstByteKey{}).(time.Duration); ok && d > 0 {
		fb = d
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watchdog{cancel: cancel}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest:         func(httptrace.WroteRequestInfo) { w.arm(fb, "no response") },
		GotFirstResponseByte: w.answered,
	})
	r := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		r.Body = &sendBody{ReadCloser: req.Body, w: w, stall: t.stall}
	}
	resp, err := t.next.RoundTrip(r)
	w.answered()
	if err != nil {
		w.stop()
		cancel(nil)
		return nil, w.explain(ctx, err)
	}
	resp.Body = &recvBody{ReadCloser: resp.Body, w: w, ctx: ctx, stall: t.stall}
	return resp, nil
}

// watchdog cancels an attempt when its armed bound passes. One timer
// serves every arm (a GET arms it at each read of its body).
type watchdog struct {
	cancel context.CancelCauseFunc

	mu        sync.Mutex
	timer     *time.Timer   // GUARDED_BY(mu)
	deadline  time.Time     // GUARDED_BY(mu); zero when disarmed
	what      string        // GUARDED_BY(mu); what passed the deadline
	after     time.Duration // GUARDED_BY(mu); the bound armed
	gotAnswer bool          // GUARDED_BY(mu); the response has begun: the request body no longer counts
}

// arm (re)starts the bound: unless disarmed or re-armed within d, the
// attempt fails with timeoutError{what, d}. d <= 0 disarms.
func (w *watchdog) arm(d time.Duration, what string) { w.armIf(d, what, false) }

func (w *watchdog) disarm() { w.armIf(0, "", false) }

// answered disarms the watchdog for good as far as the request body is
// concerned (the transport may still read it after an early answer).
func (w *watchdog) answered() {
	w.mu.Lock()
	w.gotAnswer = true
	w.mu.Unlock()
	w.disarm()
}

// armIf arms (or disarms, d <= 0) unless sending is set and the response
// has begun.
func (w *watchdog) armIf(d time.Duration, what string, sending bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if sending && w.gotAnswer {
		return
	}
	if d <= 0 {
		w.deadline = time.Time{} // a pending fire finds nothing armed
		return
	}
	w.deadline, w.what, w.after = time.Now().Add(d), what, d
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
	} else {
		w.timer.Reset(d)
	}
}

// fire ends the attempt if its deadline has passed (an earlier arm's timer
// may fire after a re-arm: it then finds the deadline ahead).
func (w *watchdog) fire() {
	w.mu.Lock()
	if w.deadline.IsZero() || time.Now().Before(w.deadline) {
		w.mu.Unlock()
		return
	}
	w.deadline = time.Time{}
	te := &timeoutError{what: w.what, after: w.after}
	w.mu.Unlock()
	w.cancel(te)
}

// stop disarms and releases the timer.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = time.Time{}
	if w.timer != nil {
		w.timer.Stop()
	}
}

// explain returns the timeout behind err when the watchdog ended the
// attempt (and not the caller), else err.
func (w *watchdog) explain(ctx context.Context, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if te, ok := context.Cause(ctx).(*timeoutError); ok {
		return te
	}
	return err
}

// sendBody is a request body: the transport must come back for more within
// stall of the previous read (it stops while a write to a server that reads
// nothing blocks).
type sendBody struct {
	io.ReadCloser
	w     *watchdog
	stall time.Duration
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.w.armIf(0, "", true)
	n, err := b.ReadCloser.Read(p)
	b.w.armIf(b.stall, "request body stalled", true)
	return n, err
}

// recvBody is a response body: each read must bring bytes within stall.
type recvBody struct {
	io.ReadCloser
	w     *watchdog
	ctx   context.Context
	stall time.Duration
}

func (b *recvBody) Read(p []byte) (int, error) {
	b.w.arm(b.stall, "response body stalled")
	n, err := b.ReadCloser.Read(p)
	b.w.disarm()
	return n, b.w.explain(b.ctx, err)
}

func (b *recvBody) Close() error {
	b.w.stop()
	err := b.ReadCloser.Close()
	b.w.cancel(nil)
	return err
}

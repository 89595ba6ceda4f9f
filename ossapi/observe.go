package ossapi

// Instrumentation: every request the Client makes is reported here, in one
// place, to the client's own counters (Stats) and to the Observer the
// caller configured (Config.Observer; the mount's Prometheus metrics).
//
// A call (one ObjectStore method's request, with all its attempts) is
// reported when it starts and when it ends. Each HTTP attempt is counted by
// a wrapper around the client's transport, which finds the call it belongs
// to in the request's context: so attempts are counted the same whatever
// retries them, and a retry is any attempt after the first.

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Observer is told about every request a Client makes. Its methods are
// called concurrently, on the request's goroutine: they must be quick and
// must not block.
type Observer interface {
	// Started: a call of op begins.
	Started(op string)
	// Retried: an attempt of a call of op after its first one is sent.
	Retried(op string)
	// Finished: a call of op ended after attempts HTTP attempts (0 when
	// none was sent, e.g. no credentials), having taken d, with sent bytes
	// of request body delivered (0 unless it succeeded) and err nil on
	// success.
	Finished(op string, attempts int, d time.Duration, sent int64, err *Error)
	// Received: n bytes of an object's data arrived in a response body of
	// op (GetObject), counted as they are read.
	Received(op string, n int64)
}

// Outcome of a finished call, as metrics label it.
const (
	OutcomeOK      = "ok"      // succeeded at its first attempt
	OutcomeRetried = "retried" // succeeded after retries
	OutcomeFailed  = "failed"  // failed (after any retries)
)

// OutcomeOf classifies a finished call.
func OutcomeOf(attempts int, err *Error) string {
	switch {
	case err != nil:
		return OutcomeFailed
	case attempts > 1:
		return OutcomeRetried
	}
	return OutcomeOK
}

// opCounter holds the client's own counters of one operation.
type opCounter struct {
	requests, errors, retries, bytesIn, bytesOut, latency atomic.Int64
}

// counters are the client's own per-operation counters (Stats).
type counters struct {
	mu    sync.Mutex
	stats map[string]*opCounter // GUARDED_BY(mu)
}

func (c *counters) get(op string) *opCounter {
	c.mu.Lock()
	defer c.mu.Unlock()
	oc := c.stats[op]
	if oc == nil {
		if c.stats == nil {
			c.stats = map[string]*opCounter{}
		}
		oc = &opCounter{}
		c.stats[op] = oc
	}
	return oc
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{}
	for op, oc := range c.stats {
		s[op] = OpStats{Requests: oc.requests.Load(), Errors: oc.errors.Load(), Retries: oc.retries.Load(),
			BytesIn: oc.bytesIn.Load(), BytesOut: oc.bytesOut.Load(), Latency: time.Duration(oc.latency.Load())}
	}
	return s
}

func (c *counters) Started(string) {}

func (c *counters) Retried(op string) { c.get(op).retries.Add(1) }

func (c *counters) Finished(op string, attempts int, d time.Duration, sent int64, err *Error) {
	oc := c.get(op)
	oc.requests.Add(1)
	oc.latency.Add(int64(d))
	if err != nil {
		oc.errors.Add(1)
	}
	oc.bytesOut.Add(sent)
}

func (c *counters) Received(op string, n int64) { c.get(op).bytesIn.Add(n) }

// observers sends every report to each of its members.
type observers []Observer

func (o observers) Started(op string) {
	for _, x := range o {
		x.Started(op)
	}
}

func (o observers) Retried(op string) {
	for _, x := range o {
		x.Retried(op)
	}
}

func (o observers) Finished(op string, attempts int, d time.Duration, sent int64, err *Error) {
	for _, x := range o {
		x.Finished(op, attempts, d, sent, err)
	}
}

func (o observers) Received(op string, n int64) {
	for _, x := range o {
		x.Received(op, n)
	}
}

// callInfo travels in a call's context to the transport.
type callInfo struct {
	op       string
	obs      Observer
	attempts atomic.Int32
}

type callKey struct{}

// startCall reports the start of a call of op and returns the context its
// requests must be sent with, and the function that reports its end.
func (c *Client) startCall(ctx context.Context, op string) (context.Context, func(sent int64, err *Error)) {
	ci := &callInfo{op: op, obs: c.obs}
	c.obs.Started(op)
	start := time.Now()
	return context.WithValue(ctx, callKey{}, ci), func(sent int64, err *Error) {
		if err != nil {
			sent = 0
		}
		c.obs.Finished(op, int(ci.attempts.Load()), time.Since(start), sent, err)
	}
}

// countingTransport counts the HTTP attempts of each call (see callInfo).
type countingTransport struct {
	next http.RoundTripper
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if ci, ok := req.Context().Value(callKey{}).(*callInfo); ok {
		if ci.attempts.Add(1) > 1 {
			ci.obs.Retried(ci.op)
		}
	}
	return t.next.RoundTrip(req)
}

// countingHTTPClient returns a copy of hc whose transport counts attempts.
func countingHTTPClient(hc *http.Client) *http.Client {
	out := *hc
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = countingTransport{next: next}
	return &out
}

// countingBody reports the bytes read from a response body.
type countingBody struct {
	io.ReadCloser
	op  string
	obs Observer
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.obs.Received(b.op, int64(n))
	}
	return n, err
}

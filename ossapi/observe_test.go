package ossapi_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// recorder is an Observer keeping what it was told.
type recorder struct {
	mu       sync.Mutex
	started  map[string]int
	retried  map[string]int
	outcomes map[string]int // "op outcome kind"
	sent     map[string]int64
	received map[string]int64
}

func newRecorder() *recorder {
	return &recorder{started: map[string]int{}, retried: map[string]int{}, outcomes: map[string]int{},
		sent: map[string]int64{}, received: map[string]int64{}}
}

func (r *recorder) Started(op string) { r.mu.Lock(); r.started[op]++; r.mu.Unlock() }
func (r *recorder) Retried(op string) { r.mu.Lock(); r.retried[op]++; r.mu.Unlock() }
func (r *recorder) Received(op string, n int64) {
	r.mu.Lock()
	r.received[op] += n
	r.mu.Unlock()
}

func (r *recorder) Finished(op string, attempts int, d time.Duration, sent int64, err *ossapi.Error) {
	k := op + " " + ossapi.OutcomeOf(attempts, err)
	if err != nil {
		k += " " + err.Kind.String()
	}
	r.mu.Lock()
	r.outcomes[k]++
	r.sent[op] += sent
	r.mu.Unlock()
}

// TestObserverSeesAttemptsAndOutcomes: one call per request, its retries
// counted as the server saw them, outcomes ok / retried / failed by kind,
// and body bytes both ways.
func TestObserverSeesAttemptsAndOutcomes(t *testing.T) {
	srv := newServer(t)
	rec := newRecorder()
	c := newClient(t, srv, func(cfg *ossapi.Config) { cfg.Observer, cfg.RetryMax = rec, 3 })
	ctx := context.Background()
	data := bytes.Repeat([]byte("o"), 5000)
	if _, err := c.Put(ctx, ossapi.PutRequest{Key: "k", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	srv.AddFault(osstest.Fault{Op: "GetObject", Nth: 1, Status: 503, Code: "ServiceUnavailable"})
	r, err := c.GetRange(ctx, ossapi.GetRequest{Key: "k", Offset: 10, Length: 3000})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	srv.ClearFaults()
	srv.AddFault(osstest.Fault{Op: "HeadObject", Status: 503, Code: "ServiceUnavailable"})
	if _, err := c.Head(ctx, "k", ossapi.HeadOptions{}); ossapi.KindOf(err) != ossapi.KindTransient {
		t.Fatalf("HEAD under 503s: %v", err)
	}
	srv.ClearFaults()
	if _, err := c.Head(ctx, "missing", ossapi.HeadOptions{}); !ossapi.IsNotExist(err) {
		t.Fatalf("HEAD of a missing key: %v", err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	wantOutcomes := map[string]int{
		"PutObject ok":                1,
		"GetObject retried":           1,
		"HeadObject failed Transient": 1,
		"HeadObject failed NotExist":  1,
	}
	for k, n := range wantOutcomes {
		if rec.outcomes[k] != n {
			t.Errorf("outcome %q seen %d times, want %d (all: %v)", k, rec.outcomes[k], n, rec.outcomes)
		}
	}
	if len(rec.outcomes) != len(wantOutcomes) {
		t.Errorf("outcomes %v, want exactly %v", rec.outcomes, wantOutcomes)
	}
	// Retries as the server counted them: attempts - calls.
	if got, want := rec.retried["GetObject"], int(srv.Count("GetObject"))-1; got != want || got != 1 {
		t.Errorf("GetObject retries %d, want %d (server saw %d GETs)", got, want, srv.Count("GetObject"))
	}
	if got, want := rec.retried["HeadObject"], int(srv.Count("HeadObject"))-2; got != want || got < 1 {
		t.Errorf("HeadObject retries %d, want %d (server saw %d HEADs for 2 calls)", got, want, srv.Count("HeadObject"))
	}
	if rec.started["HeadObject"] != 2 || rec.started["GetObject"] != 1 || rec.started["PutObject"] != 1 {
		t.Errorf("calls started %v", rec.started)
	}
	if rec.sent["PutObject"] != 5000 || rec.received["GetObject"] != 3000 {
		t.Errorf("bytes sent %v, received %v; want PutObject 5000 and GetObject 3000", rec.sent, rec.received)
	}
	// The client's own counters come from the same reports.
	st := c.Stats()
	if st["GetObject"].Retries != 1 || st["GetObject"].Requests != 1 || st["HeadObject"].Errors != 2 {
		t.Errorf("client stats %+v", st)
	}
}

package ossapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// TestRetryRidesOutRestart: a request made while the server is down (every
// connection refused) succeeds once it is back within the retry window.
func TestRetryRidesOutRestart(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil) // default window: 30 s
	srv.SetDown(true)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.Put(context.Background(), ossapi.PutRequest{Key: "k", Body: strings.NewReader("data"), Size: 4})
		done <- err
	}()
	time.Sleep(3 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("the PUT ended while the server was down: %v", err)
	default:
	}
	if err := srv.SetDown(false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("PUT failed although the server came back after %v: %v", time.Since(start).Round(time.Second), err)
	}
	if b, _, err := srv.GetObject("test", "k"); err != nil || string(b) != "data" {
		t.Fatalf("object after the restart: %q %v", b, err)
	}
}

// TestRetryWindowEnds: a longer outage fails the request as transient (EIO
// above) once the window has passed, not before and not much later.
func TestRetryWindowEnds(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(cfg *ossapi.Config) { cfg.RetryWindow = 2 * time.Second })
	srv.SetDown(true)
	start := time.Now()
	_, err := c.Head(context.Background(), "k", ossapi.HeadOptions{})
	took := time.Since(start)
	if ossapi.KindOf(err) != ossapi.KindTransient {
		t.Fatalf("Head with the server down: %v (kind %v), want KindTransient", err, ossapi.KindOf(err))
	}
	if took < 2*time.Second || took > 20*time.Second {
		t.Fatalf("failed after %v, want after the 2 s window (and soon after)", took)
	}
	// The last error is the network's, named: never a context error.
	var ne net.Error
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("error does not say the connection was refused: %v", err)
	}
}

// TestRetry503UntilWindow: 503s are retried (with backoff) through the
// window, then fail.
func TestRetry503UntilWindow(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "k", []byte("x"), nil)
	c := newClient(t, srv, func(cfg *ossapi.Config) { cfg.RetryWindow = 2 * time.Second })
	srv.AddFault(osstest.Fault{Op: "HeadObject", Status: 503})
	start := time.Now()
	_, err := c.Head(context.Background(), "k", ossapi.HeadOptions{})
	if ossapi.KindOf(err) != ossapi.KindTransient {
		t.Fatalf("Head under 503s: %v, want KindTransient", err)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("gave up after %v, before the 2 s window", took)
	}
	// 200 ms doubling (with jitter) up to the window: 4 to 6 attempts.
	if n := srv.Count("HeadObject"); n < 3 || n > 10 {
		t.Errorf("%d attempts in a 2 s window, want backoff (3 to 10)", n)
	}
	// RetryMax still caps the attempts.
	srv.ResetCounts()
	c1 := newClient(t, srv, func(cfg *ossapi.Config) { cfg.RetryMax = 2 })
	c1.Head(context.Background(), "k", ossapi.HeadOptions{})
	if n := srv.Count("HeadObject"); n != 2 {
		t.Errorf("retry_max=2 made %d attempts", n)
	}
}

// TestRetryStopsWhenCanceled: a canceled request ends at once, in the
// middle of its backoff.
func TestRetryStopsWhenCanceled(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil)
	srv.SetDown(true)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Head(ctx, "k", ossapi.HeadOptions{})
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("a canceled request took %v to end", took)
	}
	if ossapi.KindOf(err) != ossapi.KindCanceled {
		t.Errorf("canceled request: %v, want KindCanceled", err)
	}
}

// TestFirstByteTimeout: a server that takes the request and never answers
// is given up on after FirstByteTimeout, and the request retried.
func TestFirstByteTimeout(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "k", []byte("hello"), nil)
	c := newClient(t, srv, func(cfg *ossapi.Config) { cfg.FirstByteTimeout = 500 * time.Millisecond })
	srv.AddFault(osstest.Fault{Op: "GetObject", Stall: true, Times: 1})
	start := time.Now()
	res, err := c.GetRange(context.Background(), ossapi.GetRequest{Key: "k", Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a stalled GET was noticed after %v, want about the 500 ms first-byte timeout", took)
	}
	if n := srv.Count("GetObject"); n != 2 {
		t.Errorf("%d GETs, want 2 (the stalled one, then its retry)", n)
	}
}

// TestSlowCopyIsNotCut: a request in which OSS copies data may take
// Timeout to answer, longer than FirstByteTimeout, without being retried.
func TestSlowCopyIsNotCut(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "a", []byte("x"), nil)
	c := newClient(t, srv, func(cfg *ossapi.Config) {
		cfg.FirstByteTimeout = 300 * time.Millisecond
		cfg.Timeout = 10 * time.Second
	})
	srv.AddFault(osstest.Fault{Op: "CopyObject", Latency: time.Second})
	if _, err := c.Copy(context.Background(), ossapi.CopyRequest{SrcKey: "a", DstKey: "b"}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("CopyObject"); n != 1 {
		t.Errorf("a copy answering after 1 s was sent %d times", n)
	}
	// The same delay on an ordinary request is a timeout, retried.
	srv.AddFault(osstest.Fault{Op: "HeadObject", Latency: time.Second, Times: 1})
	if _, err := c.Head(context.Background(), "a", ossapi.HeadOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("HeadObject"); n != 2 {
		t.Errorf("a HEAD answering after 1 s (first-byte timeout 300 ms) was sent %d times, want 2", n)
	}
}

// TestStalledBody: a response body that stops coming fails the read after
// StallTimeout with a timeout error (the reader then resumes from there);
// a reader that pauses between reads is not taken for a stalled server.
func TestStalledBody(t *testing.T) {
	srv := newServer(t)
	data := bytes.Repeat([]byte("0123456789"), 100000)
	srv.PutObject("test", "k", data, nil)
	c := newClient(t, srv, func(cfg *ossapi.Config) { cfg.StallTimeout = 500 * time.Millisecond })
	srv.AddFault(osstest.Fault{Op: "GetObject", StallAfter: 1000, Times: 1})
	res, err := c.GetRange(context.Background(), ossapi.GetRequest{Key: "k", Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("reading a stalled body: %d bytes, %v; want a timeout", len(b), err)
	}
	if len(b) != 1000 {
		t.Errorf("got %d bytes before the stall, want 1000", len(b))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the stall was noticed after %v, want about 500 ms", took)
	}
	// A slow reader of a healthy body.
	res, err = c.GetRange(context.Background(), ossapi.GetRequest{Key: "k", Length: 4096})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	for i := 0; i < 4; i++ {
		if _, err := io.ReadFull(res.Body, buf); err != nil {
			t.Fatalf("read %d of a body read slowly: %v", i, err)
		}
		time.Sleep(700 * time.Millisecond)
	}
	res.Body.Close()
}

// TestStalledUpload: a server that reads none of a request's body is given
// up on after StallTimeout (or FirstByteTimeout once the body is in the
// socket buffers), and the upload retried.
func TestStalledUpload(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(cfg *ossapi.Config) {
		cfg.StallTimeout = 500 * time.Millisecond
		cfg.FirstByteTimeout = 500 * time.Millisecond
	})
	srv.AddFault(osstest.Fault{Op: "PutObject", Stall: true, Times: 1})
	data := bytes.Repeat([]byte("x"), 16<<20)
	start := time.Now()
	if _, err := c.Put(context.Background(), ossapi.PutRequest{Key: "k", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a stalled upload was noticed after %v", took)
	}
	if n := srv.Count("PutObject"); n != 2 {
		t.Errorf("%d PUTs, want 2", n)
	}
	if b, _, _ := srv.GetObject("test", "k"); !bytes.Equal(b, data) {
		t.Errorf("object has %d bytes, want %d", len(b), len(data))
	}
}

// failingCreds is a credentials provider that cannot give credentials.
type failingCreds struct{ err error }

func (f failingCreds) Credentials(context.Context) (ossapi.Credentials, error) {
	return ossapi.Credentials{}, f.err
}

// TestProviderErrorIsNotRetried (issue 21, case 2): expired credentials
// whose last renewal failed with "connection refused" are not a network
// error: the request fails at once, KindExpired, and nothing is sent.
func TestProviderErrorIsNotRetried(t *testing.T) {
	srv := newServer(t)
	for _, c := range []struct {
		err  error
		kind ossapi.Kind
	}{
		{&ossapi.Error{Op: "Credentials", Kind: ossapi.KindExpired, Message: "credentials expired; last renewal failed",
			Err: errors.New(`Post "https://sts.example.com/": dial tcp 127.0.0.1:1: connect: connection refused`)}, ossapi.KindExpired},
		{errors.New("connect: connection refused"), ossapi.KindPermission},
	} {
		cl := newClient(t, srv, func(cfg *ossapi.Config) { cfg.Credentials = failingCreds{c.err} })
		start := time.Now()
		_, err := cl.Head(context.Background(), "k", ossapi.HeadOptions{})
		if took := time.Since(start); took > time.Second {
			t.Errorf("%v: failed after %v, want at once", c.err, took)
		}
		if ossapi.KindOf(err) != c.kind {
			t.Errorf("%v: got %v (kind %v), want kind %v", c.err, err, ossapi.KindOf(err), c.kind)
		}
	}
	if n := srv.Count("HeadObject"); n != 0 {
		t.Errorf("%d requests sent without credentials", n)
	}
}

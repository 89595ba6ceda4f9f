package e2e

// Outages and dead servers (CONFIGURATION.md, "Timeouts and retries"): a
// short outage is ridden out without failing the application, a longer one
// fails with EIO once retry_window has passed, a server that stops
// answering is noticed within the per-attempt timeouts, and expired
// credentials fail at once, never retried.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// TestServerRestartIsRiddenOut (issue 14, case 6): with the default options
// a 20-second server restart (every connection refused) in the middle of a
// write and of a read fails neither; a longer outage then fails both with
// EIO (never ECONNREFUSED) once the 30-second retry window has passed.
func TestServerRestartIsRiddenOut(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	want := randBytes(6 << 20)
	srv.PutObject("test", "r.bin", want, nil)
	m := startMount(t, srv, "test")
	written := randBytes(20 << 20)

	srv.SetDown(true)
	downAt := time.Now()
	var wg sync.WaitGroup
	var readErr, writeErr error
	var got []byte
	wg.Add(2)
	go func() {
		defer wg.Done()
		got, readErr = os.ReadFile(m.path("r.bin"))
	}()
	go func() {
		defer wg.Done()
		writeErr = os.WriteFile(m.path("w.bin"), written, 0o644)
	}()
	time.Sleep(20 * time.Second)
	if err := srv.SetDown(false); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("read and write done %v after the server went down for 20 s", time.Since(downAt).Round(time.Millisecond))
	if readErr != nil || !bytes.Equal(got, want) {
		t.Errorf("read across a 20 s restart: %d bytes, %v", len(got), readErr)
	}
	if writeErr != nil {
		t.Errorf("write across a 20 s restart: %v", writeErr)
	} else if b, _, err := srv.GetObject("test", "w.bin"); err != nil || !bytes.Equal(b, written) {
		t.Errorf("object written across the restart: %d bytes, %v", len(b), err)
	}

	// A longer outage: EIO after the window, for an fsync (the upload)
	// and for a lookup alike.
	srv.PutObject("test", "r2.bin", want, nil)
	if err := os.Mkdir(m.path("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(m.path("sub", "x.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(randBytes(64 << 10)); err != nil {
		t.Fatal(err)
	}
	srv.SetDown(true)
	start := time.Now()
	type result struct {
		what string
		err  error
		took time.Duration
	}
	results := make(chan result, 2)
	go func() {
		err := f.Sync()
		results <- result{"fsync", err, time.Since(start)}
	}()
	go func() {
		_, err := os.ReadFile(m.path("r2.bin"))
		results <- result{"read of a new name", err, time.Since(start)}
	}()
	for range 2 {
		r := <-results
		t.Logf("%s failed after %v: %v", r.what, r.took.Round(time.Millisecond), r.err)
		if !errors.Is(r.err, syscall.EIO) {
			t.Errorf("%s with the server down: %v; want EIO", r.what, r.err)
		}
		if r.took < 25*time.Second || r.took > 90*time.Second {
			t.Errorf("%s failed after %v; want after the 30 s retry window", r.what, r.took)
		}
	}
	srv.SetDown(false)
}

// TestStalledServerIsNoticed: a GET the server takes and never answers, or
// whose body stops coming, is retried after the first-byte (10 s) or stall
// (10 s) timeout, and the read succeeds, in seconds rather than minutes.
func TestStalledServerIsNoticed(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	want := randBytes(1 << 20)
	srv.PutObject("test", "s.bin", want, nil)
	srv.PutObject("test", "t.bin", want, nil)
	m := startMount(t, srv, "test")
	for _, c := range []struct {
		name  string
		fault osstest.Fault
	}{
		{"s.bin", osstest.Fault{Op: "GetObject", Key: "s.bin", Stall: true, Times: 1}},
		{"t.bin", osstest.Fault{Op: "GetObject", Key: "t.bin", StallAfter: 100 << 10, Times: 1}},
	} {
		os.Stat(m.path(c.name))
		srv.AddFault(c.fault)
		start := time.Now()
		p := startProc(t, "sha256sum", m.path(c.name))
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: a read stalled by the server still waits after 30 s", c.name)
		}
		took := time.Since(start)
		t.Logf("%s: read in %v despite the stall", c.name, took.Round(time.Millisecond))
		if !p.cmd.ProcessState.Success() {
			t.Errorf("%s: %v %s", c.name, p.cmd.ProcessState, p.out.String())
		}
	}
	if n := srv.Count("GetObject"); n < 4 {
		t.Errorf("%d GETs: the stalled ones were not retried", n)
	}
}

// TestExpiredCredentialsFailFast (issue 21, case 2): once the credentials
// have expired while the credential service refuses connections, an
// operation fails with EACCES at once: the provider's error, which quotes
// "connection refused", is never retried as a network error.
func TestExpiredCredentialsFailFast(t *testing.T) {
	t.Parallel()
	_, _, sts, m, _ := roleMount(t, 6*time.Second, noCache)
	n := sts.Issued()
	if !credWait(20*time.Second, func() bool { return sts.Issued() > n }) {
		t.Fatalf("no renewal of 6 s tokens within 20 s\n%s", m.log.String())
	}
	sts.Close() // renewals now get "connection refused"
	closedAt := time.Now()
	var lastErr error
	for i := 0; ; i++ {
		name := fmt.Sprintf("f%03d", i)
		err := os.WriteFile(m.path(name), []byte(name), 0o644)
		if err == nil {
			if time.Since(closedAt) > 30*time.Second {
				t.Fatalf("operations still succeed 30 s after the 6 s token's service went away")
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		lastErr = err
		if !errors.Is(err, syscall.EACCES) {
			t.Fatalf("operation with expired credentials: %v; want EACCES", err)
		}
		break
	}
	// Expired now: every operation fails with EACCES in well under 1 s.
	for i, op := range []func() error{
		func() error { _, err := os.Stat(m.path("missing-name")); return err },
		func() error { return os.WriteFile(m.path("g.txt"), []byte("x"), 0o644) },
		func() error { _, err := os.ReadDir(m.path()); return err },
	} {
		start := time.Now()
		err := op()
		took := time.Since(start)
		if !errors.Is(err, syscall.EACCES) {
			t.Errorf("op %d with expired credentials: %v; want EACCES", i, err)
		}
		if took > time.Second {
			t.Errorf("op %d with expired credentials took %v; want EACCES in under 1 s (no retries)", i, took)
		}
	}
	t.Logf("expired: %v", lastErr)
}

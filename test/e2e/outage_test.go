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
	"os/exec"
	"path/filepath"
	"strings"
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
	// The files are held open by child processes, not by the test binary:
	// a process forked by another test while one of them is open would
	// share it (until it execs) and could keep the mount busy.
	t.Parallel()
	srv := newServer(t)
	want := randBytes(6 << 20)
	srv.PutObject("test", "r.bin", want, nil)
	m := startMount(t, srv, "test")
	local := t.TempDir()
	written := randBytes(20 << 20)
	if err := os.WriteFile(filepath.Join(local, "w.src"), written, 0o644); err != nil {
		t.Fatal(err)
	}

	srv.SetDown(true)
	downAt := time.Now()
	reader := startProc(t, "cp", m.path("r.bin"), filepath.Join(local, "r.copy"))
	writer := startProc(t, "cp", filepath.Join(local, "w.src"), m.path("w.bin"))
	time.Sleep(20 * time.Second)
	if err := srv.SetDown(false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*proc{reader, writer} {
		select {
		case <-p.exited:
		case <-time.After(90 * time.Second):
			t.Fatalf("%v still running 90 s after the server came back", p.cmd.Args)
		}
		if !p.cmd.ProcessState.Success() {
			t.Errorf("%v across a 20 s restart: %v %s", p.cmd.Args, p.cmd.ProcessState, p.out.String())
		}
	}
	t.Logf("read and write done %v after the server went down for 20 s", time.Since(downAt).Round(time.Millisecond))
	if got, err := os.ReadFile(filepath.Join(local, "r.copy")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("read across a 20 s restart: %d bytes, %v", len(got), err)
	}
	if b, _, err := srv.GetObject("test", "w.bin"); err != nil || !bytes.Equal(b, written) {
		t.Errorf("object written across the restart: %d bytes, %v", len(b), err)
	}

	// A longer outage: EIO after the window, for an fsync (the upload)
	// and for a lookup alike.
	srv.PutObject("test", "r2.bin", want, nil)
	if err := os.Mkdir(m.path("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	fsync := exec.Command("perl", "-e", `use IO::Handle; $| = 1;
		open(my $f, ">", $ARGV[0]) or die "open: $!"; print $f "x" x 65536; $f->flush;
		print "ready\n"; <STDIN>;
		if ($f->sync) { print "fsync ok\n" } else { print "fsync failed: $!\n" }`, m.path("sub", "x.bin"))
	fsyncOut := &syncBuffer{}
	fsync.Stdout, fsync.Stderr = fsyncOut, fsyncOut
	go0, err := fsync.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := fsync.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsync.Process.Kill(); fsync.Wait() })
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(fsyncOut.String(), "ready"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the writer did not get ready: %s", fsyncOut.String())
		}
	}
	srv.SetDown(true)
	start := time.Now()
	go0.Write([]byte("\n"))
	lookup := startProc(t, "cat", m.path("r2.bin"))
	var fsyncTook, lookupTook time.Duration
	for fsyncTook == 0 || lookupTook == 0 {
		if fsyncTook == 0 && strings.Contains(fsyncOut.String(), "fsync") {
			fsyncTook = time.Since(start)
		}
		select {
		case <-lookup.exited:
			if lookupTook == 0 {
				lookupTook = time.Since(start)
			}
		default:
		}
		if time.Since(start) > 120*time.Second {
			t.Fatalf("fsync (%q) or lookup still waiting 120 s into an outage", fsyncOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("fsync failed after %v: %s", fsyncTook.Round(time.Millisecond), strings.TrimSpace(fsyncOut.String()))
	t.Logf("lookup failed after %v: %s", lookupTook.Round(time.Millisecond), strings.TrimSpace(lookup.out.String()))
	if !strings.Contains(fsyncOut.String(), "fsync failed: Input/output error") {
		t.Errorf("fsync with the server down: %q; want EIO", fsyncOut.String())
	}
	if !strings.Contains(lookup.out.String(), "Input/output error") {
		t.Errorf("open with the server down: %q; want EIO", lookup.out.String())
	}
	for what, took := range map[string]time.Duration{"fsync": fsyncTook, "lookup": lookupTook} {
		if took < 25*time.Second || took > 90*time.Second {
			t.Errorf("%s failed after %v; want after the 30 s retry window", what, took)
		}
	}
	srv.SetDown(false)
	fsync.Wait()
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

// TestThrottlingIsEIO (issue 15, case 6): throttling that outlasts the
// retries fails the call with EIO, not EAGAIN ("try again now").
func TestThrottlingIsEIO(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "a.txt", []byte("a"), nil)
	m := startMount(t, srv, "test", "-o", "retry_max=2")
	srv.AddFault(osstest.Fault{Op: "PutObject", Status: 503, Code: "SlowDown"})
	srv.AddFault(osstest.Fault{Op: "HeadObject", Status: 429, Code: "TooManyRequests"})
	if err := os.WriteFile(m.path("t.txt"), []byte("x"), 0o644); !errors.Is(err, syscall.EIO) {
		t.Errorf("write under SlowDown: %v; want EIO", err)
	}
	if _, err := os.ReadFile(m.path("a.txt")); !errors.Is(err, syscall.EIO) {
		t.Errorf("open under TooManyRequests: %v; want EIO", err)
	}
	if !m.waitLog("Throttled", 5*time.Second) {
		t.Errorf("the log does not say the requests were throttled:\n%s", m.log.String())
	}
}

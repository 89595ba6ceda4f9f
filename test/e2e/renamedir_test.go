package e2e

// A directory rename fails fast and leaves a known state (SEMANTICS.md,
// "Namespace operations"): it stops at its first failed object, removes
// the copies it made, and a caller killed during it ends at once.

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// seedDir puts n objects under dir/ on the server.
func seedDir(t *testing.T, srv *osstest.Server, dir string, n int) {
	t.Helper()
	for i := range n {
		if err := srv.PutObject("test", fmt.Sprintf("%s/f%03d", dir, i), []byte(fmt.Sprintf("object %d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRenameDirFailsFast (issue 15, case 2): under 503s on every copy, a
// 200-object directory rename fails with EIO within 60 s with the default
// options, instead of retrying every object in turn, and leaves the source
// whole and no destination.
func TestRenameDirFailsFast(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	seedDir(t, srv, "d", 200)
	m := startMount(t, srv, "test")
	srv.AddFault(osstest.Fault{Op: "CopyObject", Status: 503})
	start := time.Now()
	p := startProc(t, "mv", m.path("d"), m.path("e"))
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("mv of 200 objects under 503s still running after 60 s")
	}
	took := time.Since(start)
	t.Logf("mv failed after %v: %s (%d copy attempts)", took.Round(time.Millisecond), strings.TrimSpace(p.out.String()), srv.Count("CopyObject"))
	if p.cmd.ProcessState.Success() || !strings.Contains(p.out.String(), "Input/output error") {
		t.Errorf("mv under 503s: %v %q; want Input/output error", p.cmd.ProcessState, p.out.String())
	}
	if n := len(keysUnder(srv, "d/")); n != 200 {
		t.Errorf("the source holds %d of its 200 objects after the failed rename", n)
	}
	if n := len(keysUnder(srv, "e/")); n != 0 {
		t.Errorf("the failed rename left %d objects at the destination", n)
	}
	if !m.waitLog("directory rename failed", 5*time.Second) {
		t.Errorf("the log does not say the rename failed:\n%s", m.log.String())
	}
}

// TestRenameDirUndo: one object whose copy keeps failing stops the rename;
// the copies of the others are removed again, so the source is whole and
// the destination as it was.
func TestRenameDirUndo(t *testing.T) {
	srv := newServer(t)
	seedDir(t, srv, "d", 100)
	srv.PutObject("test", "e/", nil, nil) // an empty destination directory
	m := startMount(t, srv, "test", "-o", "retry_max=2")
	srv.AddFault(osstest.Fault{Op: "CopyObject", Key: "e/f050", Status: 503})
	out, err := exec.Command("mv", "-T", m.path("d"), m.path("e")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Input/output error") {
		t.Fatalf("mv with one object failing: %v %q; want Input/output error", err, out)
	}
	if n := len(keysUnder(srv, "d/")); n != 100 {
		t.Errorf("the source holds %d of its 100 objects", n)
	}
	if keys := len(keysUnder(srv, "e/")); keys != 1 {
		t.Errorf("the destination holds %d objects after the failed rename, want only its own marker e/", keys)
	}
	if _, _, err := srv.GetObject("test", "e/"); err != nil {
		t.Errorf("the existing destination directory lost its marker: %v", err)
	}
	if !m.waitLog("nothing was moved", 5*time.Second) {
		t.Errorf("the log does not say the rename was undone:\n%s", m.log.String())
	}
}

// TestRenameDirKilledStops (issue 15, case 2): a caller killed (or
// terminated) in the middle of a rename that fails on every copy ends at
// once, and the rename stops: no more copies are attempted.
func TestRenameDirKilledStops(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			srv := newServer(t)
			seedDir(t, srv, "d", 320)
			m := startMount(t, srv, "test")
			srv.AddFault(osstest.Fault{Op: "CopyObject", Status: 503})
			p := startProc(t, "mv", m.path("d"), m.path("e"))
			waitRequest(t, srv, "CopyObject", 16, p)
			time.Sleep(time.Second)
			took := p.mustDieWithin(t, m, sig, killBound)
			t.Logf("mv gone %v after %v", took.Round(time.Millisecond), sig)
			time.Sleep(time.Second)
			n := srv.Count("CopyObject")
			time.Sleep(3 * time.Second)
			if n2 := srv.Count("CopyObject"); n2 != n {
				t.Errorf("the rename went on after its caller died: %d more copy attempts in 3 s", n2-n)
			}
			if k := len(keysUnder(srv, "d/")); k != 320 {
				t.Errorf("the source holds %d of its 320 objects", k)
			}
			srv.ClearFaults()
		})
	}
}

package e2e

// What comes right after close(2): the kernel sends RELEASE after close has
// returned, on its own time, so the next system call often reaches the mount
// before it. A new file is on the server once close returned (its upload
// succeeded): an unlink must delete it there, and a presign must sign it.

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRightAfterClose(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	const rounds = 60
	for i := range rounds {
		name := fmt.Sprintf("f%03d", i)
		if err := os.WriteFile(m.path(name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := os.Remove(m.path(name)); err != nil {
				t.Fatalf("unlink right after close: %v", err)
			}
		} else if _, err := syscall.Getxattr(m.path(name), "user.oss.presign", make([]byte, 4096)); err != nil {
			t.Errorf("presign right after close (round %d): %v", i, err)
		}
	}
	// unlink deletes on the server before it returns: nothing removed may
	// be there now (nor later: a release has nothing more to upload).
	left := 0
	for i := 0; i < rounds; i += 2 {
		if _, _, err := srv.GetObject("test", fmt.Sprintf("f%03d", i)); err == nil {
			left++
		}
	}
	if left > 0 {
		t.Errorf("%d of %d files unlinked right after their close are still on the server", left, rounds/2)
	}
}

// TestInheritedCloseUploadsNothing: a program writing a file that starts
// another program (fork, then exec, which closes every inherited
// descriptor: one FLUSH each) neither publishes its half-written file nor
// makes the new program wait for that upload; its own close does.
func TestInheritedCloseUploadsNothing(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	p := exec.Command("perl", "-e", `$| = 1;
		open(my $f, ">", $ARGV[0]) or die "open: $!"; select((select($f), $| = 1)[0]);
		print $f "first half\n";
		system("true") == 0 or die "system: $?";   # fork + exec: the child closes its copy of $f
		print "forked\n"; <STDIN>;
		print $f "second half\n"; close($f) or die "close: $!"; print "closed\n";`, m.path("f.txt"))
	out := &syncBuffer{}
	p.Stdout, p.Stderr = out, out
	p.WaitDelay = 5 * time.Second // a child stuck in its exec holds the output pipe
	in, err := p.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	defer p.Process.Kill()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "forked"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the writer did not get past its fork: %s", out.String())
		}
	}
	if b, _, err := srv.GetObject("test", "f.txt"); err == nil {
		t.Errorf("a child's close of an inherited descriptor published the half-written file: %q", b)
	}
	in.Write([]byte("\n"))
	if err := p.Wait(); err != nil || !strings.Contains(out.String(), "closed") {
		t.Fatalf("writer: %v %s", err, out.String())
	}
	if b, _, err := srv.GetObject("test", "f.txt"); err != nil || string(b) != "first half\nsecond half\n" {
		t.Errorf("after the writer's close the object is %q (%v), want both halves", b, err)
	}
}

// TestExecWithFileOpen: a program that writes a file and then execs
// another without closing it (the descriptor is close-on-exec, as Perl's,
// Python's and Go's are) closes it in the middle of its exec. That close
// uploads the file, and neither waits for the other: the kernel holds the
// exec's lock while it sends the FLUSH, and reading the caller's
// /proc/TID/stat then waits for the exec (it once did: the program stayed
// in state D for good and the mount could not be unmounted).
func TestExecWithFileOpen(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	p := exec.Command("perl", "-e", `open(my $f, ">", $ARGV[0]) or die "open: $!";
		print $f "written before exec\n"; $f->flush or die "flush: $!";
		exec("true") or die "exec: $!";`, m.path("g.txt"))
	out := &syncBuffer{}
	p.Stdout, p.Stderr = out, out
	p.WaitDelay = 5 * time.Second
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Process.Kill()
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("writer: %v %s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the program is still in its exec 30 s later (state %s)", procState(p.Process.Pid))
	}
	if b, _, err := srv.GetObject("test", "g.txt"); err != nil || string(b) != "written before exec\n" {
		t.Errorf("after the exec the object is %q (%v), want what was written", b, err)
	}
}

// procState is the State line of /proc/PID/status (which, unlike stat, a
// process in the middle of an exec does not hold up).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	_, v, _ := strings.Cut(string(b), "\nState:")
	v, _, _ = strings.Cut(v, "\n")
	return strings.TrimSpace(v)
}

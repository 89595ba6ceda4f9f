package e2e

// A fatal signal ends any caller at once (SEMANTICS.md, "Signals"): with
// the server stalling the request a system call is waiting for, the caller
// is gone within a few seconds of SIGKILL (or of a fatal SIGTERM), whatever
// the operation, and a harmless signal does not cut the request short.

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// killBound is how soon after a fatal signal its caller must be gone.
const killBound = 5 * time.Second

// proc is a process making system calls in a mount.
type proc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// state is the process's state letter from /proc (D: uninterruptible).
func (p *proc) state() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return "gone"
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}

// waitRequest waits until the server has received more than n requests of
// op: the caller is then blocked in the mount on a request that stalls.
func waitRequest(t *testing.T, srv *osstest.Server, op string, n int64, p *proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for srv.Count(op) <= n {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before its %s reached the server: %v\n%s", p.cmd.Path, op, p.cmd.ProcessState, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s reached the server within 60 s", op)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mustDieWithin sends sig and checks that the process is gone within d.
// On failure the mount's process is killed, which frees the caller.
func (p *proc) mustDieWithin(t *testing.T, m *mount, sig syscall.Signal, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		return time.Since(start)
	case <-time.After(d):
	}
	state := p.state()
	m.cmd.Process.Kill()
	<-m.exited
	exec.Command("umount", "-l", m.dir).Run()
	t.Fatalf("%s still there %v after %v (state %s): the mount keeps a killed caller waiting", p.cmd.Path, d, sig, state)
	return 0
}

// stillWorks checks that the mount answers normally once the faults are
// gone (the requests still stalled are dropped by a restart of the server).
func stillWorks(t *testing.T, srv *osstest.Server, m *mount, name string) {
	t.Helper()
	srv.ClearFaults()
	srv.SetDown(true)
	srv.SetDown(false)
	if _, err := os.Stat(m.path(name)); err != nil {
		t.Fatalf("the mount no longer works after the caller was killed: %v", err)
	}
}

// hangCase is one system call blocked on a stalled request.
type hangCase struct {
	name  string
	warm  []string      // names stat'ed before the fault (cached lookups)
	fault osstest.Fault // Stall is set by the test
	cmd   []string      // relative paths are made absolute in the mount
	sig   syscall.Signal
	opts  []string // mount options
}

func TestKilledCallerIsNotKeptWaiting(t *testing.T) {
	cases := []hangCase{
		// Issue 15 case 1: a lookup's LIST stalls, SIGTERM then kill -9.
		{name: "lookup/SIGKILL", fault: osstest.Fault{Op: "ListObjectsV2"}, cmd: []string{"stat", "d/f"}, sig: syscall.SIGKILL},
		{name: "lookup/SIGTERM", fault: osstest.Fault{Op: "ListObjectsV2"}, cmd: []string{"sha256sum", "d/f"}, sig: syscall.SIGTERM},
		{name: "readdir", warm: []string{"d"}, fault: osstest.Fault{Op: "ListObjectsV2"}, cmd: []string{"ls", "d"}, sig: syscall.SIGKILL},
		// (The open asks OSS however fresh the lookup: open_fresh_ttl=0.)
		{name: "open", warm: []string{"d/f"}, fault: osstest.Fault{Op: "HeadObject"}, cmd: []string{"cat", "d/f"}, sig: syscall.SIGKILL, opts: []string{"-o", "open_fresh_ttl=0"}},
		{name: "read", warm: []string{"d/f"}, fault: osstest.Fault{Op: "GetObject"}, cmd: []string{"cat", "d/f"}, sig: syscall.SIGKILL},
		{name: "setxattr", warm: []string{"d/f"}, fault: osstest.Fault{Op: "HeadObject"}, cmd: []string{"setfattr", "-n", "user.a", "-v", "b", "d/f"}, sig: syscall.SIGKILL},
		{name: "chmod", warm: []string{"d/f"}, fault: osstest.Fault{Op: "CopyObject"}, cmd: []string{"chmod", "600", "d/f"}, sig: syscall.SIGKILL},
		{name: "rename-file", warm: []string{"d/f", "d/g"}, fault: osstest.Fault{Op: "CopyObject"}, cmd: []string{"mv", "d/f", "d/g"}, sig: syscall.SIGKILL},
		{name: "rename-dir", warm: []string{"d", "e"}, fault: osstest.Fault{Op: "CopyObject"}, cmd: []string{"mv", "d", "e"}, sig: syscall.SIGKILL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t)
			srv.PutObject("test", "d/f", randBytes(100<<10), nil)
			m := startMount(t, srv, "test", c.opts...)
			for _, w := range c.warm {
				os.Stat(m.path(w))
			}
			c.fault.Stall = true
			before := srv.Count(c.fault.Op)
			srv.AddFault(c.fault)
			args := append([]string(nil), c.cmd[1:]...)
			for i, a := range args {
				if !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "user.") && a != "b" && a != "600" {
					args[i] = m.path(a)
				}
			}
			p := startProc(t, c.cmd[0], args...)
			waitRequest(t, srv, c.fault.Op, before, p)
			took := p.mustDieWithin(t, m, c.sig, killBound)
			t.Logf("%s gone %v after %v", c.cmd[0], took.Round(time.Millisecond), c.sig)
			stillWorks(t, srv, m, "d")
		})
	}
}

// TestKilledWriterIsNotKeptWaiting: a writer blocked because the parts it
// streamed do not get through (the server stalls them) dies at once.
func TestKilledWriterIsNotKeptWaiting(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "seed.txt", []byte("seed"), nil)
	m := startMount(t, srv, "test")
	srv.AddFault(osstest.Fault{Op: "UploadPart", Stall: true})
	p := startProc(t, "dd", "if=/dev/zero", "of="+m.path("big"), "bs=1M", "count=200")
	// upload_concurrency (8) parts stall; the writer then waits for one.
	waitRequest(t, srv, "UploadPart", 3, p)
	time.Sleep(200 * time.Millisecond)
	took := p.mustDieWithin(t, m, syscall.SIGKILL, killBound)
	t.Logf("dd gone %v after SIGKILL", took.Round(time.Millisecond))
	stillWorks(t, srv, m, "seed.txt")
}

// TestHarmlessSignalThenKill: a signal the caller handles does not cut its
// request short (no EINTR from stat), and a SIGKILL that comes later,
// which sends no interrupt of its own, still ends the caller at once.
func TestHarmlessSignalThenKill(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "d/f", []byte("x"), nil)
	m := startMount(t, srv, "test")
	srv.AddFault(osstest.Fault{Op: "ListObjectsV2", Stall: true, Times: 1})
	p := startProc(t, "perl", "-e", `$SIG{USR1} = sub { print "usr1\n" }; $| = 1; print "start\n"; my @s = stat($ARGV[0]); print(@s ? "ok\n" : "error $!\n");`, m.path("d", "f"))
	waitRequest(t, srv, "ListObjectsV2", 0, p)
	p.cmd.Process.Signal(syscall.SIGUSR1)
	time.Sleep(time.Second)
	select {
	case <-p.exited:
		t.Fatalf("a handled signal ended the stat: %s", p.out.String())
	default:
	}
	if strings.Contains(p.out.String(), "error") {
		t.Fatalf("a handled signal failed the stat: %s", p.out.String())
	}
	took := p.mustDieWithin(t, m, syscall.SIGKILL, killBound)
	t.Logf("gone %v after SIGKILL that followed SIGUSR1", took.Round(time.Millisecond))
}

// TestKilledQueuedRenameIsNotKeptWaiting: directory renames run one at a
// time; one waiting behind another (stalled on the server) still dies at
// once when killed.
func TestKilledQueuedRenameIsNotKeptWaiting(t *testing.T) {
	srv := newServer(t)
	// In two directories: the kernel itself lets renames in one
	// directory wait for each other (on the directory's lock).
	srv.PutObject("test", "a/d/f", []byte("f"), nil)
	srv.PutObject("test", "b/x/g", []byte("g"), nil)
	m := startMount(t, srv, "test")
	for _, n := range []string{"a/d", "a/e", "b/x", "b/y"} {
		os.Stat(m.path(n))
	}
	srv.AddFault(osstest.Fault{Op: "CopyObject", Key: "a/e/f", Stall: true})
	first := startProc(t, "mv", m.path("a/d"), m.path("a/e"))
	waitRequest(t, srv, "CopyObject", 0, first)
	second := startProc(t, "mv", m.path("b/x"), m.path("b/y"))
	time.Sleep(500 * time.Millisecond) // it queues behind the first
	took := second.mustDieWithin(t, m, syscall.SIGKILL, killBound)
	t.Logf("the queued mv gone %v after SIGKILL", took.Round(time.Millisecond))
	first.mustDieWithin(t, m, syscall.SIGKILL, killBound)
	stillWorks(t, srv, m, "b/x")
}

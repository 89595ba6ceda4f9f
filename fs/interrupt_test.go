package fs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// setStatField returns stat with field n (1-based, as in proc(5)) set to v.
func setStatField(t *testing.T, stat string, n int, v uint64) string {
	t.Helper()
	i := strings.LastIndexByte(stat, ')')
	f := strings.Fields(stat[i+1:])
	if n-3 >= len(f) {
		t.Fatalf("stat has no field %d: %q", n, stat)
	}
	f[n-3] = strconv.FormatUint(v, 10)
	return stat[:i+1] + " " + strings.Join(f, " ")
}

func TestStatDying(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	// A command name with spaces and parentheses must not shift fields.
	live := strings.Replace(string(b), "(", "(a) b (", 1)
	if statDying([]byte(live)) {
		t.Fatalf("a live thread taken for dying: %q", live)
	}
	cases := []struct {
		name  string
		stat  string
		dying bool
	}{
		{"SIGKILL pending", setStatField(t, live, 31, 1<<8), true},
		{"SIGKILL among others", setStatField(t, live, 31, 1<<8|1<<14|1), true},
		{"SIGTERM pending (handled)", setStatField(t, live, 31, 1<<14), false},
		{"exiting after a signal", setStatField(t, setStatField(t, live, 9, 0x4), 52, 9), true},
		{"exiting normally", setStatField(t, setStatField(t, live, 9, 0x4), 52, 0x100), false},
		{"exit code without PF_EXITING", setStatField(t, live, 52, 9), false},
		{"garbage", "12 (x", false},
	}
	for _, c := range cases {
		if got := statDying([]byte(c.stat)); got != c.dying {
			t.Errorf("%s: statDying = %v, want %v (%q)", c.name, got, c.dying, c.stat)
		}
	}
}

// fuseContext is what go-fuse hands a node method: the caller and the
// channel closed on FUSE_INTERRUPT.
func fuseContext(pid uint32) (*fuse.Context, func()) {
	ch := make(chan struct{})
	return &fuse.Context{Caller: fuse.Caller{Pid: pid, Owner: fuse.Owner{Uid: 7}}, Cancel: ch}, func() { close(ch) }
}

func TestWatchCallerIgnoresHarmlessSignals(t *testing.T) {
	var checks atomic.Int32
	fctx, interrupt := fuseContext(42)
	ctx, done := watchCaller(fctx, func(tid uint32) bool {
		if tid != 42 {
			t.Errorf("looked at thread %d, want 42", tid)
		}
		checks.Add(1)
		return false
	})
	defer done()
	if c, ok := fuse.FromContext(ctx); !ok || c.Uid != 7 {
		t.Fatalf("the request context lost its caller: %v %v", c, ok)
	}
	time.Sleep(2 * callerWatchInterval)
	if checks.Load() != 0 {
		t.Fatalf("the caller was looked at %d times before any interrupt", checks.Load())
	}
	interrupt()
	deadline := time.Now().Add(10 * time.Second)
	for checks.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("an interrupted request looked at its caller %d times in 10 s, want it watched", checks.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatalf("a request whose caller is not dying was canceled: %v", ctx.Err())
	}
	done()
	n := checks.Load()
	time.Sleep(3 * callerWatchInterval)
	if m := checks.Load(); m > n+1 {
		t.Errorf("the caller was still watched after the request ended (%d -> %d checks)", n, m)
	}
}

func TestWatchCallerCancelsWhenCallerDies(t *testing.T) {
	var dying atomic.Bool
	fctx, interrupt := fuseContext(42)
	ctx, done := watchCaller(fctx, func(uint32) bool { return dying.Load() })
	defer done()
	interrupt()
	time.Sleep(2 * callerWatchInterval)
	if ctx.Err() != nil {
		t.Fatal("canceled before the caller was dying")
	}
	// A SIGKILL after a harmless signal sends no second interrupt: the
	// watch must notice it by itself.
	dying.Store(true)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not canceled within 10 s of its caller dying")
	}
	if !errors.Is(context.Cause(ctx), errCallerDying) {
		t.Errorf("cause %v, want errCallerDying", context.Cause(ctx))
	}
}

func TestWatchCallerWithoutCaller(t *testing.T) {
	ctx, done := watchCaller(context.Background(), func(uint32) bool { return true })
	defer done()
	if ctx.Err() != nil {
		t.Fatal("a context without a FUSE caller was canceled")
	}
	done()
	if ctx.Err() == nil {
		t.Fatal("done did not end the request context")
	}
}

func TestCallerProcess(t *testing.T) {
	// The calling thread is any thread of the process: the answer is the
	// process (thread group) id.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, tid := range []int{os.Getpid(), syscall.Gettid()} {
		ctx := &fuse.Context{Caller: fuse.Caller{Pid: uint32(tid)}}
		if got := callerProcess(ctx); got != int32(os.Getpid()) {
			t.Errorf("thread %d: process %d, want %d", tid, got, os.Getpid())
		}
	}
	if got := callerProcess(context.Background()); got != 0 {
		t.Errorf("no caller: %d, want 0", got)
	}
	if got := callerProcess(&fuse.Context{Caller: fuse.Caller{Pid: 0}}); got != 0 {
		t.Errorf("pid 0 (another pid namespace): %d, want 0", got)
	}
}

func TestClosedByOther(t *testing.T) {
	self := &fuse.Context{Caller: fuse.Caller{Pid: uint32(os.Getpid())}}
	if closedByOther(self, int32(os.Getpid())) {
		t.Error("the opener's own close taken for another process's")
	}
	if closedByOther(self, 0) {
		t.Error("a handle of unknown opener: a close taken for another process's")
	}
	if closedByOther(&fuse.Context{}, int32(os.Getpid())) {
		t.Error("a close of unknown caller (pid 0) taken for another process's")
	}
	// The opener is another process, alive: this close is an inherited
	// descriptor's. Once it has exited, the close may be the last one.
	opener := exec.Command("sleep", "60")
	if err := opener.Start(); err != nil {
		t.Fatal(err)
	}
	if !closedByOther(self, int32(opener.Process.Pid)) {
		t.Error("a close while another process that opened the file lives: not taken for an inherited descriptor's")
	}
	opener.Process.Kill()
	opener.Wait()
	if closedByOther(self, int32(opener.Process.Pid)) {
		t.Error("a close after the opener exited taken for an inherited descriptor's")
	}
}

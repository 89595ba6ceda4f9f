package fs

// Signals to the caller of a FUSE request.
//
// The kernel (fs/fuse/dev.c, request_wait_answer) sends FUSE_INTERRUPT for a
// request the first time its calling thread gets any signal, even one the
// program handles and restarts after (Go programs get SIGURG all the time,
// shells get SIGCHLD). It then goes on waiting: killably while the request
// is still queued, and once the daemon has read it, uninterruptibly (state
// D) until the daemon answers, fatal signal or not. No second interrupt is
// sent for a later signal.
//
// So honouring every interrupt would turn harmless signals into spurious
// EINTR from open, stat, close or rename, which programs do not expect from
// a file system; ignoring them all would keep a killed program in D state
// for as long as OSS takes to fail. requestContext does neither: when the
// request is interrupted it looks at the calling thread, and cancels the
// request (EINTR, and every retry of it stops) only if that thread is
// dying. A thread that is not dying yet is looked at again every
// callerWatchInterval until the request ends, because a SIGKILL that comes
// after a harmless signal produces no interrupt of its own.
//
// A thread is dying when SIGKILL is pending for it: the kernel turns every
// fatal signal (SIGKILL, and any signal whose action is the default
// "terminate" and that is not blocked, such as SIGTERM, SIGINT or SIGPIPE;
// also another thread's exit_group) into a group exit that queues SIGKILL
// to each thread (kernel/signal.c, complete_signal). /proc/TID/stat shows a
// thread's own pending set (field 31). A thread already exiting because of
// a signal (flag PF_EXITING, field 9, with a signal in its exit code, field
// 52) is dying too: that is the case of the close(2) that the kernel does
// for a killed process's open files, which sends FLUSH without a signal
// pending any more (flushContext checks it at once).
//
// A thread in the middle of an exec is the exception to looking at it:
// the kernel closes its close-on-exec descriptors (one FLUSH each) while it
// holds the lock that reading its /proc/TID/stat waits for, so that read
// would wait for the exec, which waits for the FLUSH: both for ever, the
// program in state D and the mount busy. Every read of a caller's /proc
// files is therefore bounded (procReadTimeout); a thread that does not
// answer in time is not taken for dying.
//
// callerProcess tells which process a request comes from (its
// /proc/TID/status, which an exec does not hold up): a close (FLUSH) by a
// process that inherited the descriptor, such as the exec of a child the
// writer started, is not the application's (file.go, Flush).
//
// Reads are the exception: they keep honouring every interrupt at once
// (reader.go selects on the request's own context). A read has nothing to
// leave half done, EINTR from read(2) is a documented outcome that programs
// and runtimes retry (Go, Python, coreutils' safe_read, SQLite), and a
// program that handles SIGINT to stop a long read gets its answer at once.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// callerWatchInterval is how often an interrupted request whose caller was
// not dying looks at it again.
const callerWatchInterval = 150 * time.Millisecond

// errCallerDying is the cause of a request context canceled because its
// calling thread is being killed.
var errCallerDying = errors.New("the calling process is being killed")

// requestContext returns the context a FUSE request works under, detached
// from the request's interruption except when the caller is dying (see
// above), and the function to call when the request ends. The context
// keeps the caller (fuse.FromContext).
func requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return watchCaller(ctx, threadDying)
}

// flushContext is requestContext for FLUSH: it also cancels at once when
// the caller is already dying (the close of a killed process's files).
func flushContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c, ok := fuse.FromContext(ctx); ok && c.Pid != 0 && threadDying(c.Pid) {
		rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		cancel(errCallerDying)
		return rctx, func() {}
	}
	return watchCaller(ctx, threadDying)
}

// detachedContext is the context of work that no caller waits for (the
// release of a file after its last close): never canceled.
func detachedContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// watchCaller implements requestContext with dying as the test of a
// thread.
func watchCaller(ctx context.Context, dying func(tid uint32) bool) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	c, ok := fuse.FromContext(ctx)
	if !ok || c.Pid == 0 || ctx.Done() == nil {
		return rctx, func() { cancel(nil) }
	}
	tid := c.Pid
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTicker(callerWatchInterval)
		defer t.Stop()
		for {
			if dying(tid) {
				cancel(errCallerDying)
				return
			}
			select {
			case <-rctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return rctx, func() {
		stop()
		cancel(nil)
	}
}

// procReadTimeout bounds a read of a caller's /proc files (see above).
const procReadTimeout = 250 * time.Millisecond

// threadDying reports whether thread tid is being killed (see above). A
// thread that cannot be looked at (gone, another pid namespace, /proc
// mounted with hidepid, in the middle of an exec) is not taken for dying.
func threadDying(tid uint32) bool {
	b, err := readProc(tid, "stat")
	if err != nil {
		return false
	}
	return statDying(b)
}

// readProc reads /proc/TID/name, waiting at most procReadTimeout: a read
// that takes longer is left to finish in the background (the exec it
// waits for goes on once the request is answered).
func readProc(tid uint32, name string) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(tid), 10) + "/" + name)
		ch <- result{b, err}
	}()
	t := time.NewTimer(procReadTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-t.C:
		return nil, errProcTimeout
	}
}

// errProcTimeout: a /proc file of the caller did not answer in time.
var errProcTimeout = errors.New("/proc did not answer in time (the thread is in an exec)")

// callerProcess is the process (thread group id) of the request's calling
// thread, 0 if unknown.
func callerProcess(ctx context.Context) int32 {
	c, ok := fuse.FromContext(ctx)
	if !ok || c.Pid == 0 {
		return 0
	}
	b, err := readProc(c.Pid, "status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(b, []byte("\nTgid:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

// closedByOther reports whether a close (FLUSH) comes from a process other
// than opener, the one that opened the file, while that one still lives:
// a descriptor inherited across fork, closed by the child's exit or exec.
// An unknown process (0) is never another.
func closedByOther(ctx context.Context, opener int32) bool {
	if opener == 0 {
		return false
	}
	p := callerProcess(ctx)
	if p == 0 || p == opener {
		return false
	}
	// The opener gone (a daemon that forked and exited): this close may
	// well be the application's last.
	return syscall.Kill(int(opener), 0) != syscall.ESRCH
}

// statDying reads /proc/TID/stat: SIGKILL pending, or exiting because of a
// signal.
func statDying(stat []byte) bool {
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses: the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3
	field := func(n int) (uint64, bool) {
		if n-3 >= len(f) {
			return 0, false
		}
		v, err := strconv.ParseInt(string(f[n-3]), 10, 64)
		return uint64(v), err == nil
	}
	const (
		sigkill   = 1 << (9 - 1)
		pfExiting = 0x4
	)
	if pending, ok := field(31); ok && pending&sigkill != 0 {
		return true
	}
	flags, ok := field(9)
	if !ok || flags&pfExiting == 0 {
		return false
	}
	code, ok := field(52)
	return ok && code&0x7f != 0
}

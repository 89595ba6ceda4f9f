package e2e

// Safe mount and unmount, usage errors and the daemon's log (issue 15,
// cases 3 to 6): ossmount unmount acts only on ossmount mounts, a mount is
// refused on a non-empty directory (unless -o nonempty) and on a mount
// point already holding an ossmount mount, every usage error is one line
// and exit status 2, and a daemon without syslog logs to a file it names.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runOssmount runs ossmount (30 s at most) and returns its output and exit
// status.
func runOssmount(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ossmountBin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("ossmount %v: %v", args, err)
	return "", -1
}

// oneLine checks that out is one line containing every want.
func oneLine(t *testing.T, what, out string, want ...string) {
	t.Helper()
	if n := strings.Count(strings.TrimRight(out, "\n"), "\n"); n != 0 {
		t.Errorf("%s: %d lines, want one:\n%s", what, n+1, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: %q does not say %q", what, out, w)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	ep := "endpoint=" + srv.URL() + ",region=" + testRegion
	for _, c := range []struct {
		name string
		args []string
		env  []string
		code int
		want []string
	}{
		{"unknown --flag", []string{"--frobnicate", "test", dir, "-o", ep}, credEnv(), 2, []string{"unknown option --frobnicate"}},
		{"unknown --flag after the arguments", []string{"-f", "test", dir, "--frobnicate=1", "-o", ep}, credEnv(), 2, []string{"unknown option --frobnicate"}},
		{"unknown -o option", []string{"-f", "test", dir, "-o", ep + ",frobnicate"}, credEnv(), 2, []string{"frobnicate"}},
		{"unknown unmount flag", []string{"unmount", "--frobnicate", dir}, credEnv(), 2, []string{"unknown option --frobnicate"}},
		{"missing mount point", []string{"-f", "test", filepath.Join(dir, "nonexistent"), "-o", ep}, credEnv(), 2, []string{"no such directory"}},
		{"mount point is a file", []string{"-f", "test", "/etc/hostname", "-o", ep}, credEnv(), 2, []string{"not a directory"}},
		// The endpoint derived from the region is named (the proxy
		// refusing makes the failure quick and offline).
		{"endpoint from the region", []string{"-f", "test", dir, "-o", "region=cn-hangzhou,retry_max=1"},
			append(credEnv(), "HTTPS_PROXY=http://127.0.0.1:1", "https_proxy=http://127.0.0.1:1"), 1,
			[]string{"cannot reach endpoint https://oss-cn-hangzhou.aliyuncs.com", "connection refused"}},
	} {
		out, code := runOssmount(t, c.env, c.args...)
		if code != c.code {
			t.Errorf("%s: exit status %d, want %d\n%s", c.name, code, c.code, out)
		}
		oneLine(t, c.name, out, c.want...)
	}
}

func TestUnmountOnlyOssmount(t *testing.T) {
	// A tmpfs: refused, named, left mounted.
	tmp := t.TempDir()
	if err := syscall.Mount("tmpfs", tmp, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(tmp, syscall.MNT_DETACH) })
	out, code := runOssmount(t, credEnv(), "unmount", tmp)
	if code != 1 {
		t.Errorf("unmount of a tmpfs: exit status %d, want 1", code)
	}
	oneLine(t, "unmount of a tmpfs", out, "not an ossmount mount", "tmpfs")
	if !isMounted(tmp) {
		t.Fatalf("ossmount unmount detached a tmpfs")
	}
	// /proc: refused, and no suggestion to force it.
	out, code = runOssmount(t, credEnv(), "unmount", "-z", "/proc")
	if code != 1 || strings.Contains(out, "-z") {
		t.Errorf("unmount -z /proc: exit %d %q; want a refusal (exit 1) without -z advice", code, out)
	}
	oneLine(t, "unmount /proc", out, "/proc is not an ossmount mount", "proc")
	if !isMounted("/proc") {
		t.Fatalf("/proc is gone")
	}
	// A directory inside an ossmount mount, and a missing path.
	srv := newServer(t)
	m := startMount(t, srv, "test")
	os.Mkdir(m.path("sub"), 0o755)
	out, code = runOssmount(t, credEnv(), "unmount", m.path("sub"))
	if code != 1 {
		t.Errorf("unmount of a directory inside a mount: exit %d", code)
	}
	oneLine(t, "unmount of a directory inside a mount", out, "not a mount point", "inside the ossmount mount at "+m.dir)
	out, code = runOssmount(t, credEnv(), "unmount", filepath.Join(tmp, "nonexistent"))
	if code != 1 {
		t.Errorf("unmount of a missing path: exit %d", code)
	}
	oneLine(t, "unmount of a missing path", out, "no such file or directory")
	// The mount itself: unmounted.
	if out, code := runOssmount(t, credEnv(), "unmount", m.dir); code != 0 {
		t.Fatalf("unmount of the ossmount mount: exit %d\n%s", code, out)
	}
	if isMounted(m.dir) {
		t.Errorf("still mounted after ossmount unmount")
	}
}

func TestMountRefusals(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "remote.txt", []byte("remote"), nil)
	ep := "endpoint=" + srv.URL() + ",region=" + testRegion

	// A non-empty directory: refused; with -o nonempty, mounted over.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "local.txt"), []byte("local"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runOssmount(t, credEnv(), "-f", "test", dir, "-o", ep)
	if code != 1 {
		t.Errorf("mount on a non-empty directory: exit %d, want 1\n%s", code, out)
	}
	oneLine(t, "mount on a non-empty directory", out, "not empty", "nonempty")
	if isMounted(dir) {
		t.Fatalf("mounted on a non-empty directory without -o nonempty")
	}
	m := launchMount(t, dir, credEnv(), []string{"-f", "test", dir, "-o", ep + ",nonempty"})
	if b, err := os.ReadFile(m.path("remote.txt")); err != nil || string(b) != "remote" {
		t.Errorf("mount with -o nonempty: %q %v", b, err)
	}

	// A second mount on the same point: refused; the first one serves on.
	out, code = runOssmount(t, credEnv(), "-f", "test", dir, "-o", ep+",nonempty")
	if code != 1 {
		t.Errorf("second mount on the same point: exit %d, want 1\n%s", code, out)
	}
	oneLine(t, "second mount on the same point", out, "already holds an ossmount mount")
	n := 0
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d mounts stacked on %s, want 1", n, dir)
	}
	if b, err := os.ReadFile(m.path("remote.txt")); err != nil || string(b) != "remote" {
		t.Errorf("the first mount after a refused second one: %q %v", b, err)
	}
	m.stop()
	if b, err := os.ReadFile(filepath.Join(dir, "local.txt")); err != nil || string(b) != "local" {
		t.Errorf("the directory's own file after the unmount: %q %v", b, err)
	}
}

// TestDaemonLogsWithoutSyslog (issue 15, case 5): a daemon with no syslog
// to log to says on stderr, before detaching, which file it logs to, and
// logs there (its SIGUSR1 counters included).
func TestDaemonLogsWithoutSyslog(t *testing.T) {
	if _, err := os.Stat("/dev/log"); err == nil {
		t.Skip("this machine has a syslog socket (/dev/log): the daemon logs there, not to a file")
	}
	if os.Geteuid() != 0 {
		t.Skip("the default log file of a non-root daemon is under $HOME; this test checks root's, /var/log/ossmount")
	}
	srv := newServer(t)
	mnt := t.TempDir()
	logFile := "/var/log/ossmount/" + strings.ReplaceAll(strings.Trim(mnt, "/"), "/", "-") + ".log"
	os.Remove(logFile)
	t.Cleanup(func() { os.Remove(logFile) })
	detachAtCleanup(t, mnt)
	out, code := runOssmount(t, credEnv(), "test", mnt, "-o", "endpoint="+srv.URL()+",region="+testRegion)
	if code != 0 {
		t.Fatalf("ossmount (daemon): exit %d\n%s", code, out)
	}
	oneLine(t, "the daemon's parent", out, "no syslog", logFile)
	pids := daemonPids(mnt)
	if len(pids) != 1 {
		t.Fatalf("want one daemon serving %s, found %v", mnt, pids)
	}
	st, err := os.Stat(logFile)
	if err != nil {
		t.Fatalf("no log file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, want 0600", st.Mode().Perm())
	}
	if dst, err := os.Stat(filepath.Dir(logFile)); err != nil || dst.Mode().Perm() != 0o700 {
		t.Errorf("log directory: %v %v, want mode 0700", dst.Mode(), err)
	}
	os.WriteFile(filepath.Join(mnt, "x.txt"), []byte("x"), 0o644)
	syscall.Kill(pids[0], syscall.SIGUSR1)
	deadline := time.Now().Add(20 * time.Second)
	for b, _ := os.ReadFile(logFile); !strings.Contains(string(b), "PutObject"); b, _ = os.ReadFile(logFile) {
		if time.Now().After(deadline) {
			t.Fatalf("no request counters in the log file 20 s after SIGUSR1:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, code := runOssmount(t, credEnv(), "unmount", mnt); code != 0 {
		t.Fatalf("unmount: exit %d\n%s", code, out)
	}
	waitDaemonExit(t, pids)
	b, _ := os.ReadFile(logFile)
	for _, want := range []string{"msg=mounted", "msg=unmounted"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the log file lacks %q:\n%s", want, b)
		}
	}
}

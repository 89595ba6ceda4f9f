package e2e

// System integration: ossmount run the way a system runs a filesystem —
// by mount(8) through Debian fuse3's mount.fuse3 or through the
// /sbin/mount.fuse.ossmount link that `make install` creates, from an
// fstab line and a systemd mount unit, as a detaching daemon, as a
// Type=notify service, stopped by signals and by `ossmount unmount`.
//
// mount(8) clears PATH before it runs a helper, so mount.fuse3 finds
// `ossmount` only in /bin/sh's default PATH (/usr/local/sbin, ...). The
// tests that go through mount(8) therefore run in a private mount
// namespace where the freshly built binaries are bind-mounted over
// /usr/local/sbin (or the `make install` tree over /usr/local/bin and
// /usr/sbin): nothing outside the test changes, and the FUSE mounts made
// there are invisible to the rest of the system.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// ---------------------------------------------------------------- helpers

// mountNS is a private mount namespace held open by a sleeping process.
type mountNS struct {
	t      *testing.T
	holder *exec.Cmd
	pid    int
	mounts []string // mount points to detach at cleanup
}

// newMountNS starts a private mount namespace (propagation private, so
// nothing mounted there shows outside).
func newMountNS(t *testing.T) *mountNS {
	t.Helper()
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	h := exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "300")
	if err := h.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	ns := &mountNS{t: t, holder: h, pid: h.Process.Pid}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", ns.pid))
		if err == nil && l != self {
			break
		}
		if time.Now().After(deadline) {
			h.Process.Kill()
			h.Wait()
			t.Fatalf("unshare did not create a mount namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		for i := len(ns.mounts) - 1; i >= 0; i-- {
			mnt := ns.mounts[i]
			if ns.isMounted(mnt) {
				pids := daemonPids(mnt)
				exec.Command("nsenter", "-t", strconv.Itoa(ns.pid), "-m", "--", "umount", "-l", mnt).Run()
				waitGone(pids, 10*time.Second)
			}
		}
		h.Process.Kill()
		h.Wait()
	})
	return ns
}

// command runs args inside the namespace.
func (ns *mountNS) command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(ns.pid), "-m", "--"}, args...)...)
	c.Env = env
	return c
}

// try runs args inside the namespace (30 s at most) and returns the
// combined output and the error.
func (ns *mountNS) try(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := ns.command(ctx, env, args...).CombinedOutput()
	return string(out), err
}

// must runs args inside the namespace and fails the test on an error.
func (ns *mountNS) must(env []string, args ...string) string {
	ns.t.Helper()
	out, err := ns.try(env, args...)
	if err != nil {
		ns.t.Fatalf("in the mount namespace: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// path is p as seen inside the namespace, usable from the test.
func (ns *mountNS) path(p string) string {
	return fmt.Sprintf("/proc/%d/root%s", ns.pid, p)
}

// mountLine returns the mountinfo line of mnt inside the namespace.
func (ns *mountNS) mountLine(mnt string) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", ns.pid))
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == mnt {
			return line
		}
	}
	return ""
}

func (ns *mountNS) isMounted(mnt string) bool { return ns.mountLine(mnt) != "" }

// track makes the cleanup detach mnt if a test left it mounted.
func (ns *mountNS) track(mnt string) { ns.mounts = append(ns.mounts, mnt) }

// daemonPids lists the ossmount processes whose command line names mnt.
func daemonPids(mnt string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) < 2 || !strings.Contains(filepath.Base(args[0]), "ossmount") {
			continue
		}
		for _, a := range args[1:] {
			if a == mnt {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// sessionID reads the session id of pid from /proc (0 if unknown).
func sessionID(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	// After the name: state ppid pgrp session ...
	f := strings.Fields(s[i+1:])
	if len(f) < 4 {
		return 0
	}
	sid, _ := strconv.Atoi(f[3])
	return sid
}

// detachAtCleanup makes sure dir is not left mounted when the test ends,
// even if it failed half-way: the connection is aborted (freeing any
// process stuck on it) and the mount detached.
func detachAtCleanup(t *testing.T, dir string) {
	t.Cleanup(func() {
		if isMounted(dir) {
			abortConnection(dir)
			exec.Command("umount", "-l", dir).Run()
		}
	})
}

// abortConnection aborts the FUSE connection of the mount at dir (through
// a fusectl mounted in a throw-away namespace), freeing processes stuck on
// it.
func abortConnection(dir string) {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			_, minor, _ := strings.Cut(f[2], ":")
			exec.Command("unshare", "-m", "sh", "-c",
				"mount -t fusectl none /sys/fs/fuse/connections && echo 1 > /sys/fs/fuse/connections/"+minor+"/abort").Run()
		}
	}
}

// processGone reports whether pid has exited (or is a zombie).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// waitGone waits until every pid has exited; it reports the ones left.
func waitGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, p := range pids {
			if !processGone(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDaemonExit waits for the daemons serving mnt (listed before it was
// unmounted) to exit, as they do once their uploads are done.
func waitDaemonExit(t *testing.T, pids []int) {
	t.Helper()
	if left := waitGone(pids, 20*time.Second); len(left) > 0 {
		t.Fatalf("ossmount daemon(s) %v still running 20 s after the unmount", left)
	}
}

// systemEnv is the environment without credentials (they come from a
// passwd file) and without NOTIFY_SOCKET.
func systemEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "ALIBABA_CLOUD_") || strings.HasPrefix(e, "OSS_") || strings.HasPrefix(e, "NOTIFY_SOCKET=") {
			continue
		}
		env = append(env, e)
	}
	return env
}

// passwdFile writes an ossfs passwd file (bucket:AK:SK, mode 0600).
func passwdFile(t *testing.T, bucket string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "passwd-ossfs")
	if err := os.WriteFile(p, []byte(bucket+":"+testAK+":"+testSK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startOsslocal runs cmd/osslocal on a free loopback port and returns its URL.
func startOsslocal(t *testing.T, bucket string) string {
	t.Helper()
	cmd := exec.Command(osslocalBin, "--listen", "127.0.0.1:0", "--bucket", bucket, "--region", testRegion, "--data-dir", t.TempDir())
	cmd.Env = append(systemEnv(), "OSSLOCAL_ACCESS_KEY_ID="+testAK, "OSSLOCAL_ACCESS_KEY_SECRET="+testSK)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		pw.Close()
	})
	urlc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case u := <-urlc:
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("osslocal did not print its address in 10 s")
	}
	return ""
}

// setOptions rewrites the values of the named options in a mount option
// list, keeping every option and their order; it fails the test if one
// of them is not in the list.
func setOptions(t *testing.T, list string, values map[string]string) string {
	t.Helper()
	items := strings.Split(list, ",")
	seen := map[string]bool{}
	for i, it := range items {
		k, _, _ := strings.Cut(it, "=")
		if v, ok := values[k]; ok {
			items[i] = k + "=" + v
			seen[k] = true
		}
	}
	for k := range values {
		if !seen[k] {
			t.Fatalf("option %s missing from %q", k, list)
		}
	}
	return strings.Join(items, ",")
}

// contribFile reads a file of contrib/.
func contribFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "contrib", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unitValues returns the Key=Value settings of an INI-style unit file.
func unitValues(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// ----------------------------------------------------------------- tests

// TestSystemMountHelper mounts with `mount -t fuse.ossmount` through
// mount(8) → /sbin/mount.fuse (mount.fuse3) → sh -c 'ossmount ...', with
// the credentials in a passwd file and FUSE options, then reads, writes,
// and unmounts with umount(8).
func TestSystemMountHelper(t *testing.T) {
	srv := newServer(t)
	hello := []byte("hello from the server\n")
	srv.PutObject("test", "sub/hello.txt", hello, nil)
	srv.PutObject("test", "sub/dir/a", []byte("a"), nil)
	srv.PutObject("test", "outside.txt", []byte("not under the prefix"), nil)
	pw := passwdFile(t, "test")
	ns := newMountNS(t)
	if _, err := os.Lstat("/sbin/mount.fuse.ossmount"); err == nil {
		// `make install` put ossmount there as mount(8)'s own helper
		// (TestSystemInstallFstab covers it): in the namespace, it hands
		// over to mount.fuse3, the path under test here, with mount(8)'s
		// arguments and the type mount(8) gives mount.fuse3 when it runs it.
		wrapper := filepath.Join(t.TempDir(), "mount.fuse.ossmount")
		if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec /sbin/mount.fuse3 \"$@\" -t fuse.ossmount\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		target, err := filepath.EvalSymlinks("/sbin/mount.fuse.ossmount")
		if err != nil {
			t.Fatal(err)
		}
		ns.must(nil, "mount", "--bind", wrapper, target)
	}
	// mount.fuse3 runs `ossmount` with sh's default PATH: put it (and a
	// credentials command) in /usr/local/sbin.
	sbin := t.TempDir()
	if err := os.Symlink(ossmountBin, filepath.Join(sbin, "ossmount")); err != nil {
		t.Fatal(err)
	}
	credScript := fmt.Sprintf("#!/bin/sh\necho '{\"mode\":\"AK\",\"access_key_id\":\"%s\",\"access_key_secret\":\"%s\"}'\n", testAK, testSK)
	if err := os.WriteFile(filepath.Join(sbin, "ossmount-test-credentials"), []byte(credScript), 0o755); err != nil {
		t.Fatal(err)
	}
	ns.must(nil, "mount", "--bind", sbin, "/usr/local/sbin")
	// A fake syslog: Go's log/syslog tries /dev/log, then /var/run/syslog.
	// (A fresh /run also gives the namespace its own pid files.)
	ns.must(nil, "mount", "-t", "tmpfs", "tmpfs", "/run")
	syslogConn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns.path("/run/syslog"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syslogConn.Close() })
	syslogMsgs := &syncBuffer{}
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := syslogConn.Read(buf)
			if err != nil {
				return
			}
			syslogMsgs.Write(append(buf[:n:n], '\n'))
		}
	}()
	mnt := t.TempDir()
	ns.track(mnt)
	env := systemEnv()
	base := "endpoint=" + srv.URL() + ",region=" + testRegion + ",passwd_file=" + pw

	ns.must(env, "mount", "-t", "fuse.ossmount", "test:/sub", mnt, "-o",
		"_netdev,nofail,allow_other,default_permissions,uid=1234,gid=2345,file_mode=0640,dir_mode=0750,"+base)
	line := ns.mountLine(mnt)
	if line == "" {
		t.Fatalf("mount returned 0 but %s is not mounted", mnt)
	}
	if !strings.Contains(line, " - fuse.ossmount ossmount:test:/sub ") || !strings.Contains(line, "allow_other") || !strings.Contains(line, "default_permissions") {
		t.Errorf("mountinfo line lacks the type, source or FUSE options: %s", line)
	}
	if got, err := os.ReadFile(ns.path(mnt + "/hello.txt")); err != nil || !bytes.Equal(got, hello) {
		t.Fatalf("read through the mount: %q, %v", got, err)
	}
	if _, err := os.Stat(ns.path(mnt + "/outside.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("object outside the prefix is visible: %v", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(ns.path(mnt+"/hello.txt"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 1234 || st.Gid != 2345 || st.Mode&0o7777 != 0o640 {
		t.Errorf("file: uid %d gid %d mode %o, want 1234 2345 640 from uid=, gid=, file_mode=", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if err := syscall.Stat(ns.path(mnt+"/dir"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o750 || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Errorf("directory mode %o, want dir 750 from dir_mode=", st.Mode)
	}
	written := randBytes(300 << 10)
	if err := os.WriteFile(ns.path(mnt+"/new.bin"), written, 0o644); err != nil {
		t.Fatalf("write through the mount: %v", err)
	}
	pids := daemonPids(mnt)
	if len(pids) != 1 {
		t.Fatalf("want one ossmount daemon serving %s, found %v", mnt, pids)
	}
	// The daemon logs to syslog (facility daemon, priority info).
	wantLog := regexp.MustCompile(fmt.Sprintf(`(?m)^<30>.* ossmount\[%d\]: mounted `, pids[0]))
	for end := time.Now().Add(5 * time.Second); !wantLog.MatchString(syslogMsgs.String()) && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if !wantLog.MatchString(syslogMsgs.String()) {
		t.Errorf("no daemon.info \"mounted\" message from ossmount[%d] on syslog; got:\n%s", pids[0], syslogMsgs.String())
	}
	ns.must(nil, "umount", mnt)
	if ns.isMounted(mnt) {
		t.Fatalf("still mounted after umount")
	}
	waitDaemonExit(t, pids)
	if got, _, err := srv.GetObject("test", "sub/new.bin"); err != nil || !bytes.Equal(got, written) {
		t.Fatalf("written file on the server: %d bytes, %v (want %d)", len(got), err, len(written))
	}

	// ro through mount(8): writes fail with EROFS. The credentials come
	// from a command found by name: mount(8) clears PATH, ossmount
	// restores a default one.
	ns.must(env, "mount", "-t", "fuse.ossmount", "test", mnt, "-o",
		"ro,umask=077,credential_source=credential_process,credential_process=ossmount-test-credentials,endpoint="+srv.URL()+",region="+testRegion)
	if err := syscall.Stat(ns.path(mnt+"/sub/hello.txt"), &st); err != nil || st.Mode&0o7777 != 0o600 {
		t.Errorf("umask=077: file mode %o (%v), want 600", st.Mode&0o7777, err)
	}
	if err := syscall.Stat(ns.path(mnt+"/sub"), &st); err != nil || st.Mode&0o7777 != 0o700 {
		t.Errorf("umask=077: directory mode %o (%v), want 700", st.Mode&0o7777, err)
	}
	if err := os.WriteFile(ns.path(mnt+"/ro.txt"), []byte("x"), 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write on a ro mount: %v, want EROFS", err)
	}
	if !strings.Contains(ns.mountLine(mnt), " ro,") && !strings.Contains(ns.mountLine(mnt), " ro ") {
		t.Errorf("ro mount not read-only in mountinfo: %s", ns.mountLine(mnt))
	}
	// SIGTERM to the daemon mount(8) started (without PATH) while the
	// mount is busy: it detaches the mount lazily and
	// exits once the last file there is closed.
	busy, err := os.Open(ns.path(mnt))
	if err != nil {
		t.Fatal(err)
	}
	pids = daemonPids(mnt)
	if len(pids) != 1 {
		t.Fatalf("want one ossmount daemon serving %s, found %v", mnt, pids)
	}
	syscall.Kill(pids[0], syscall.SIGTERM)
	deadline := time.Now().Add(15 * time.Second)
	for ns.isMounted(mnt) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ns.isMounted(mnt) {
		t.Errorf("busy mount not detached 15 s after SIGTERM to its daemon")
	}
	busy.Close()
	waitDaemonExit(t, pids)

	// An unknown option is refused, naming it; mount(8) fails.
	out, err := ns.try(env, "mount", "-t", "fuse.ossmount", "test", mnt, "-o", "no_such_option=1,"+base)
	if err == nil || !strings.Contains(out, `"no_such_option"`) {
		t.Errorf("unknown option: err %v, output %q; want a failure naming no_such_option", err, out)
	}
	// A missing bucket: mount(8) fails with ossmount's message.
	out, err = ns.try(env, "mount", "-t", "fuse.ossmount", "nosuchbucket", mnt, "-o", "endpoint="+srv.URL()+",region="+testRegion+",passwd_file="+passwdFile(t, "nosuchbucket"))
	if err == nil || !strings.Contains(out, `bucket "nosuchbucket" does not exist`) {
		t.Errorf("missing bucket: err %v, output %q; want a failure saying the bucket does not exist", err, out)
	}
	if ns.isMounted(mnt) {
		t.Errorf("%s mounted after failed mounts", mnt)
	}
}

// TestSystemInstallFstab installs with `make install DESTDIR=... PREFIX=...`,
// then, in a namespace where that tree is the system's, mounts with
// `mount -v -T FSTAB MOUNTPOINT` using contrib/fstab's line (and the
// command systemd runs for contrib/data-bucket.mount) against osslocal:
// mount(8) runs /sbin/mount.fuse.ossmount, which is ossmount.
func TestSystemInstallFstab(t *testing.T) {
	dest := t.TempDir()
	// make install builds the binaries again: minutes on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	mk := exec.CommandContext(ctx, "make", "-s", "-C", "../..", "install", "DESTDIR="+dest, "PREFIX=/usr/local", "BIN="+filepath.Join(t.TempDir(), "build"))
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	bin := filepath.Join(dest, "usr/local/bin/ossmount")
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("make install: %s missing or not executable: %v", bin, err)
	}
	if l, err := os.Readlink(filepath.Join(dest, "sbin/mount.fuse.ossmount")); err != nil || l != "/usr/local/bin/ossmount" {
		t.Fatalf("make install: sbin/mount.fuse.ossmount -> %q (%v), want /usr/local/bin/ossmount", l, err)
	}
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.Contains(string(out), "ossmount version") {
		t.Fatalf("installed ossmount --version: %v %s", err, out)
	}

	url := startOsslocal(t, "demo")
	// The contrib line, with this test's mount point, endpoint and
	// passwd file; everything else, including the shape, stays.
	var contribLine string
	for _, l := range strings.Split(contribFile(t, "fstab"), "\n") {
		if s := strings.TrimSpace(l); s != "" && s[0] != '#' {
			if contribLine != "" {
				t.Fatalf("contrib/fstab has more than one entry")
			}
			contribLine = s
		}
	}
	f := strings.Fields(contribLine)
	if len(f) != 6 || f[2] != "fuse.ossmount" {
		t.Fatalf("contrib/fstab line %q: want 6 fields of type fuse.ossmount", contribLine)
	}
	mnt := t.TempDir()
	f[1] = mnt
	f[3] = setOptions(t, f[3], map[string]string{"endpoint": url, "region": testRegion, "passwd_file": passwdFile(t, f[0])})
	fstab := filepath.Join(t.TempDir(), "fstab")
	os.WriteFile(fstab, []byte("# test fstab\n"+strings.Join(f, " ")+"\n"), 0o644)

	ns := newMountNS(t)
	ns.must(nil, "mount", "--bind", filepath.Join(dest, "usr/local/bin"), "/usr/local/bin")
	// /usr/sbin plus the installed sbin/mount.fuse.ossmount.
	ns.must(nil, "mount", "-t", "overlay", "overlay", "-o", "lowerdir="+filepath.Join(dest, "sbin")+":/usr/sbin", "/usr/sbin")
	if target, err := os.Readlink(ns.path("/sbin/mount.fuse.ossmount")); err != nil || target != "/usr/local/bin/ossmount" {
		t.Fatalf("namespace setup: /sbin/mount.fuse.ossmount -> %q, %v", target, err)
	}
	ns.track(mnt)
	env := systemEnv()
	// -v: mount(8) passes -v to the helper, which must not take it for --version.
	ns.must(env, "mount", "-v", "-T", fstab, mnt)
	line := ns.mountLine(mnt)
	if !strings.Contains(line, " - fuse.ossmount ossmount:demo ") || !strings.Contains(line, "allow_other") {
		t.Fatalf("after mount -T: mountinfo %q", line)
	}
	data := randBytes(2<<20 + 99)
	if err := os.WriteFile(ns.path(mnt+"/fstab.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	pids := daemonPids(mnt)
	if len(pids) != 1 {
		t.Fatalf("want one ossmount daemon for %s, found %v", mnt, pids)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pids[0])); exe != "/usr/local/bin/ossmount" {
		t.Errorf("daemon runs %q, want the installed /usr/local/bin/ossmount", exe)
	}
	ns.must(nil, "umount", mnt)
	waitDaemonExit(t, pids)

	// What systemd runs for contrib/data-bucket.mount:
	// mount WHAT WHERE -t TYPE -o OPTIONS. The data written above is there.
	u := unitValues(contribFile(t, "data-bucket.mount"))
	if u["What"] != f[0] || u["Type"] != "fuse.ossmount" || u["Where"] != "/data/bucket" {
		t.Fatalf("contrib/data-bucket.mount: What=%q Where=%q Type=%q", u["What"], u["Where"], u["Type"])
	}
	opts := setOptions(t, u["Options"], map[string]string{"endpoint": url, "region": testRegion, "passwd_file": passwdFile(t, f[0])})
	ns.must(env, "mount", u["What"], mnt, "-t", u["Type"], "-o", opts)
	if got, err := os.ReadFile(ns.path(mnt + "/fstab.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file written before the remount: %d bytes, %v", len(got), err)
	}
	pids = daemonPids(mnt)
	ns.must(nil, "umount", mnt)
	waitDaemonExit(t, pids)

	// systemd accepts the unit files (with the service pointing at the
	// installed binary).
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		dir := t.TempDir()
		for _, n := range []string{"data-bucket.mount", "data-bucket.automount", "ossmount@.service"} {
			os.WriteFile(filepath.Join(dir, n), []byte(strings.ReplaceAll(contribFile(t, n), "/usr/local/bin/ossmount", bin)), 0o644)
		}
		out, err := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "data-bucket.mount"), filepath.Join(dir, "data-bucket.automount"), filepath.Join(dir, "ossmount@demo.service")).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
}

// TestSystemDaemon runs ossmount as mount(8) would, without -f: it
// detaches once the mount answers, ignores mount(8)-only options, logs to
// log_file, and `ossmount unmount` stops it. A missing bucket or an
// unknown option makes it exit non-zero with the reason on stderr.
func TestSystemDaemon(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "seed.txt", []byte("seed"), nil)
	mnt := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "ossmount.log")
	base := "endpoint=" + srv.URL() + ",region=" + testRegion
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	t.Cleanup(func() {
		if isMounted(mnt) {
			pids := daemonPids(mnt)
			abortConnection(mnt)
			exec.Command("umount", "-l", mnt).Run()
			waitGone(pids, 10*time.Second)
		}
	})

	start := time.Now()
	cmd := exec.CommandContext(ctx, ossmountBin, "test", mnt, "-o",
		"_netdev,nofail,auto,noauto,user,users,defaults,dev,suid,x-systemd.automount,x-systemd.requires=network-online.target,comment=systemd.automount,"+
			base+",log_file="+logFile+",log_level=debug")
	cmd.Env = credEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ossmount (daemon): %v\n%s", err, out)
	}
	t.Logf("daemon ready after %v", time.Since(start).Round(time.Millisecond))
	// The parent exits only once the mount answers.
	if !isMounted(mnt) {
		t.Fatalf("ossmount exited 0 but %s is not mounted", mnt)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "seed.txt")); err != nil || string(got) != "seed" {
		t.Fatalf("read right after ossmount returned: %q %v", got, err)
	}
	pids := daemonPids(mnt)
	if len(pids) != 1 {
		t.Fatalf("want one detached ossmount serving %s, found %v", mnt, pids)
	}
	if sid := sessionID(pids[0]); sid != pids[0] {
		t.Errorf("daemon %d is not a session leader (sid %d): not detached", pids[0], sid)
	}
	if err := os.WriteFile(filepath.Join(mnt, "daemon.txt"), []byte("from the daemon test"), 0o644); err != nil {
		t.Fatal(err)
	}

	// ossmount unmount: not mounted, then the real thing.
	res, err := exec.Command(ossmountBin, "unmount", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(res), "is not mounted") {
		t.Errorf("unmount of a plain directory: %v %s", err, res)
	}
	// ossmount unmount waits for the daemon to finish after the unmount:
	// with the daemon stopped (SIGSTOP), it unmounts, then waits.
	syscall.Kill(pids[0], syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(pids[0], syscall.SIGCONT) })
	um := exec.CommandContext(ctx, ossmountBin, "unmount", mnt)
	umOut := &syncBuffer{}
	um.Stdout, um.Stderr = umOut, umOut
	if err := um.Start(); err != nil {
		t.Fatal(err)
	}
	umDone := make(chan error, 1)
	go func() { umDone <- um.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for isMounted(mnt) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if isMounted(mnt) {
		t.Fatalf("ossmount unmount did not unmount within 10 s (daemon stopped)\n%s", umOut.String())
	}
	select {
	case err := <-umDone:
		t.Fatalf("ossmount unmount returned (%v) while the daemon serving the mount was still running\n%s", err, umOut.String())
	case <-time.After(1500 * time.Millisecond):
	}
	if !strings.Contains(umOut.String(), fmt.Sprintf("waiting for ossmount (pid %d)", pids[0])) {
		t.Errorf("ossmount unmount does not say what it waits for: %q", umOut.String())
	}
	syscall.Kill(pids[0], syscall.SIGCONT)
	select {
	case err := <-umDone:
		if err != nil {
			t.Fatalf("ossmount unmount: %v\n%s", err, umOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("ossmount unmount still waiting 15 s after the daemon was continued\n%s", umOut.String())
	}
	if left := waitGone(pids, 0); len(left) != 0 {
		t.Errorf("daemon %v still running when ossmount unmount returned", left)
	}
	if got, _, err := srv.GetObject("test", "daemon.txt"); err != nil || string(got) != "from the daemon test" {
		t.Errorf("file on the server: %q %v", got, err)
	}
	logText, _ := os.ReadFile(logFile)
	for _, want := range []string{"level=INFO msg=mounted", "level=DEBUG", "msg=unmounted"} {
		if !strings.Contains(string(logText), want) {
			t.Errorf("log_file lacks %q:\n%s", want, logText)
		}
	}

	// Ctrl-C while the daemon is still setting up (its first request is
	// slow) stops both processes: non-zero exit, nothing left mounted.
	srv.AddFault(osstest.Fault{Latency: 5 * time.Second, Times: 1})
	cmd = exec.CommandContext(ctx, ossmountBin, "test", mnt, "-o", base)
	cmd.Env = credEnv()
	intOut := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = intOut, intOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	setupPids := daemonPids(mnt)
	if len(setupPids) != 2 {
		t.Errorf("want ossmount and its detached child running during setup, found %v", setupPids)
	}
	cmd.Process.Signal(syscall.SIGINT)
	start = time.Now()
	err = cmd.Wait()
	if err == nil || time.Since(start) > 3*time.Second || !strings.Contains(intOut.String(), "interrupted") {
		t.Errorf("SIGINT during setup: %v after %v, output %q; want a prompt failure saying interrupted", err, time.Since(start), intOut.String())
	}
	if left := waitGone(setupPids, 5*time.Second); len(left) > 0 || isMounted(mnt) {
		t.Errorf("after SIGINT during setup: processes %v left, mounted %v", left, isMounted(mnt))
	}
	srv.ClearFaults()

	// A missing bucket: non-zero exit, the reason on stderr, no mount.
	cmd = exec.CommandContext(ctx, ossmountBin, "nosuchbucket", mnt, "-o", base)
	cmd.Env = credEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(stderr.String(), `bucket "nosuchbucket" does not exist`) {
		t.Errorf("missing bucket: %v, stderr %q; want a non-zero exit saying the bucket does not exist", err, stderr.String())
	}
	// An unknown option (in a -o list or as a flag): refused, named.
	for _, args := range [][]string{
		{"test", mnt, "-o", base + ",no_such_option"},
		{"-o", "no_such_option=3", "test", mnt, "-o", base},
		{"test", mnt, "--no_such_option", "-o", base},
	} {
		cmd = exec.CommandContext(ctx, ossmountBin, args...)
		cmd.Env = credEnv()
		res, err := cmd.CombinedOutput()
		if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(string(res), "no_such_option") {
			t.Errorf("ossmount %s: %v %q; want a failure naming no_such_option", strings.Join(args, " "), err, res)
		}
	}
	if isMounted(mnt) {
		t.Errorf("mounted after failed mounts")
	}
}

// notifyListener is a fake systemd notification socket.
type notifyListener struct {
	conn *net.UnixConn
	msgs chan string
}

func newNotifyListener(t *testing.T) (*notifyListener, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "ntf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	l := &notifyListener{conn: conn, msgs: make(chan string, 16)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(l.msgs)
				return
			}
			for _, m := range strings.Split(string(buf[:n]), "\n") {
				if m != "" {
					l.msgs <- m
				}
			}
		}
	}()
	return l, sock
}

// wait returns once state arrives; it fails the test after timeout.
func (l *notifyListener) wait(t *testing.T, state string, timeout time.Duration) {
	t.Helper()
	tm := time.After(timeout)
	for {
		select {
		case m, ok := <-l.msgs:
			if !ok {
				t.Fatalf("notify socket closed before %s", state)
			}
			if m == state {
				return
			}
		case <-tm:
			t.Fatalf("no %s on NOTIFY_SOCKET within %v", state, timeout)
		}
	}
}

// TestSystemNotify runs contrib/ossmount@.service's ExecStart the way
// systemd does for Type=notify: READY=1 arrives once the mount answers,
// SIGTERM (systemctl stop) sends STOPPING=1, unmounts and exits 0. Without
// -f, NOTIFY_SOCKET keeps ossmount in the foreground too.
func TestSystemNotify(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "n.txt", []byte("notify"), nil)
	unit := unitValues(contribFile(t, "ossmount@.service"))
	if unit["Type"] != "notify" {
		t.Fatalf("contrib/ossmount@.service: Type=%q, want notify", unit["Type"])
	}
	execStart := strings.Fields(unit["ExecStart"])
	pw := passwdFile(t, "test")
	for _, variant := range []string{"ExecStart", "without -f"} {
		t.Run(strings.ReplaceAll(variant, " ", "_"), func(t *testing.T) {
			mnt := t.TempDir()
			var args []string
			for i, a := range execStart {
				a = strings.ReplaceAll(a, "/data/%i", mnt)
				a = strings.ReplaceAll(a, "%i", "test")
				switch {
				case i == 0:
					if a != "/usr/local/bin/ossmount" {
						t.Fatalf("ExecStart runs %q", a)
					}
					continue
				case a == "-f" && variant != "ExecStart":
					continue
				case i > 0 && execStart[i-1] == "-o":
					a = setOptions(t, a, map[string]string{"endpoint": srv.URL(), "region": testRegion, "passwd_file": pw})
				}
				args = append(args, a)
			}
			l, sock := newNotifyListener(t)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, ossmountBin, args...)
			cmd.Env = append(systemEnv(), "NOTIFY_SOCKET="+sock, "INVOCATION_ID=0123456789abcdef0123456789abcdef")
			log := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = log, log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				cmd.Process.Kill()
			})
			detachAtCleanup(t, mnt)
			l.wait(t, "READY=1", 20*time.Second)
			if got, err := os.ReadFile(filepath.Join(mnt, "n.txt")); err != nil || string(got) != "notify" {
				t.Fatalf("READY=1 sent but the mount does not answer: %q %v\n%s", got, err, log.String())
			}
			select {
			case err := <-exited:
				t.Fatalf("the service process exited after READY=1 (%v): it must stay in the foreground\n%s", err, log.String())
			default:
			}
			if !strings.Contains(log.String(), "msg=mounted") {
				t.Errorf("under systemd the log goes to stderr (the journal); got %q", log.String())
			}
			cmd.Process.Signal(syscall.SIGTERM)
			l.wait(t, "STOPPING=1", 10*time.Second)
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no exit within 20 s of SIGTERM\n%s", log.String())
			}
			if isMounted(mnt) {
				t.Errorf("still mounted after the service stopped")
			}
		})
	}
}

// TestSystemSignals: SIGTERM during a write lets the writer finish and
// the file is complete on the server once ossmount has exited; a second
// signal forces the unmount.
func TestSystemSignals(t *testing.T) {
	srv := newServer(t)
	t.Run("SIGTERM_during_write", func(t *testing.T) {
		m := startMount(t, srv, "test", "-o", "upload_part_size=1M")
		detachAtCleanup(t, m.dir)
		f, err := os.Create(m.path("during-term.bin"))
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		write := func(n int) {
			b := randBytes(n)
			if _, err := f.Write(b); err != nil {
				t.Fatalf("write at %d (after SIGTERM: the file must stay writable): %v\n%s", len(data), err, m.log.String())
			}
			data = append(data, b...)
		}
		write(3 << 20)
		m.cmd.Process.Signal(syscall.SIGTERM)
		if !m.waitLog("signal received", 10*time.Second) {
			t.Fatalf("no reaction to SIGTERM\n%s", m.log.String())
		}
		// Keep writing while ossmount flushes and, the mount being busy,
		// detaches it.
		deadline := time.Now().Add(20 * time.Second)
		for isMounted(m.dir) {
			if time.Now().After(deadline) {
				t.Fatalf("busy mount not detached 20 s after SIGTERM\n%s", m.log.String())
			}
			write(32 << 10)
			time.Sleep(20 * time.Millisecond)
		}
		write(1<<20 + 4321)
		select {
		case <-m.exited:
			t.Fatalf("ossmount exited while a file was still open for writing\n%s", m.log.String())
		default:
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close after SIGTERM: %v\n%s", err, m.log.String())
		}
		select {
		case <-m.exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("ossmount still running 30 s after SIGTERM and the writer's close\n%s", m.log.String())
		}
		if !m.cmd.ProcessState.Success() {
			t.Errorf("ossmount exited with %v\n%s", m.cmd.ProcessState, m.log.String())
		}
		got, _, err := srv.GetObject("test", "during-term.bin")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("file on the server after SIGTERM: %d bytes, %v; want the complete %d", len(got), err, len(data))
		}
	})
	t.Run("second_signal_forces", func(t *testing.T) {
		m := startMount(t, srv, "test")
		detachAtCleanup(t, m.dir)
		f, err := os.Create(m.path("held-open.txt"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.Write([]byte("still open"))
		m.cmd.Process.Signal(syscall.SIGINT)
		if !m.waitLog("signal received", 10*time.Second) {
			t.Fatalf("no reaction to SIGINT\n%s", m.log.String())
		}
		m.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-m.exited:
		case <-time.After(10 * time.Second):
			t.Fatalf("a second signal did not force ossmount out within 10 s\n%s", m.log.String())
		}
		if m.cmd.ProcessState.Success() || !strings.Contains(m.log.String(), "forcing") {
			t.Errorf("forced exit: %v, log:\n%s", m.cmd.ProcessState, m.log.String())
		}
		if isMounted(m.dir) {
			t.Errorf("still mounted after a forced exit")
		}
	})
}

// TestSystemUnmountCommand: `ossmount unmount` explains a busy mount and
// detaches it with -z, and unmounts a stale one (ossmount killed).
func TestSystemUnmountCommand(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	detachAtCleanup(t, m.dir)
	d, err := os.Open(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Readdirnames(-1)
	// Busy: refused, with the way out.
	if out, err := exec.Command(ossmountBin, "unmount", m.dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "busy") || !strings.Contains(string(out), "-z") {
		t.Errorf("unmount of a busy mount: %v %q; want a failure explaining busy and -z", err, out)
	}
	if !isMounted(m.dir) {
		t.Fatalf("a refused unmount unmounted")
	}
	if out, err := exec.Command(ossmountBin, "unmount", "-z", m.dir).CombinedOutput(); err != nil {
		t.Fatalf("unmount -z: %v %s", err, out)
	}
	if isMounted(m.dir) {
		t.Errorf("still mounted after unmount -z")
	}
	d.Close()
	select {
	case <-m.exited:
		if !m.cmd.ProcessState.Success() {
			t.Errorf("ossmount exited with %v after a lazy unmount\n%s", m.cmd.ProcessState, m.log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("ossmount still running 15 s after the lazy unmount and the last close\n%s", m.log.String())
	}

	// Stale: the process is gone, the mount point answers ENOTCONN.
	m2 := startMount(t, srv, "test")
	detachAtCleanup(t, m2.dir)
	// SIGKILL only once the mount is fully up: killed in the middle of its
	// own first requests, a FUSE server can hang on itself in the kernel.
	if !m2.waitLog("msg=mounted", 10*time.Second) {
		t.Fatalf("no mounted message\n%s", m2.log.String())
	}
	m2.cmd.Process.Kill()
	select {
	case <-m2.exited:
	case <-time.After(10 * time.Second):
		abortConnection(m2.dir)
		t.Fatalf("ossmount did not die of SIGKILL within 10 s (aborted its FUSE connection)")
	}
	if _, err := os.ReadDir(m2.dir); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("after SIGKILL, listing the mount point: %v, want ENOTCONN", err)
	}
	out, err := exec.Command(ossmountBin, "unmount", m2.dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "stale") {
		t.Errorf("unmount of a stale mount: %v %q; want success explaining the stale mount", err, out)
	}
	if isMounted(m2.dir) {
		exec.Command("umount", "-l", m2.dir).Run()
		t.Errorf("stale mount still mounted after ossmount unmount")
	}
	// The pid file the killed process left is gone too.
	pidFiles, _ := filepath.Glob("/run/ossmount/*.pid")
	for _, p := range pidFiles {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), "\n"+m2.dir+"\n") {
			t.Errorf("pid file %s of the killed ossmount left behind: %q", p, b)
		}
	}
}

// optionTable reads cmd/ossmount/options.go's option table: name, group
// and default of every listed option.
func optionTable(t *testing.T) (groups []string, opts []struct{ name, group, def string }) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "cmd", "ossmount", "options.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, id := range vs.Names {
				if i < len(vs.Values) {
					if bl, ok := vs.Values[i].(*ast.BasicLit); ok && bl.Kind == token.STRING {
						consts[id.Name], _ = strconv.Unquote(bl.Value)
					}
				}
			}
		}
		return true
	})
	str := func(e ast.Expr) string {
		switch v := e.(type) {
		case *ast.BasicLit:
			s, _ := strconv.Unquote(v.Value)
			return s
		case *ast.Ident:
			if v.Name == "true" {
				return "true"
			}
			return consts[v.Name]
		}
		return ""
	}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 {
			return true
		}
		cl, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		switch vs.Names[0].Name {
		case "groupOrder":
			for _, e := range cl.Elts {
				groups = append(groups, str(e))
			}
		case "options":
			for _, e := range cl.Elts {
				var o struct{ name, group, def string }
				hidden := false
				for _, kv := range e.(*ast.CompositeLit).Elts {
					kv := kv.(*ast.KeyValueExpr)
					switch kv.Key.(*ast.Ident).Name {
					case "name":
						o.name = str(kv.Value)
					case "group":
						o.group = str(kv.Value)
					case "def":
						o.def = str(kv.Value)
					case "hidden":
						hidden = str(kv.Value) == "true"
					}
				}
				if !hidden {
					opts = append(opts, o)
				}
			}
		}
		return true
	})
	if len(groups) != 5 || len(opts) < 40 {
		t.Fatalf("could not read the option table: %d groups, %d options", len(groups), len(opts))
	}
	return groups, opts
}

// TestSystemHelp: `ossmount --help` and `ossmount help mount` list every
// option of the table under its group heading, with its default;
// `ossmount --version` prints the version.
func TestSystemHelp(t *testing.T) {
	groups, opts := optionTable(t)
	isGroup := map[string]bool{}
	for _, g := range groups {
		isGroup[g] = true
	}
	for _, args := range [][]string{{"--help"}, {"help", "mount"}, {"mount", "--help"}} {
		out, err := exec.Command(ossmountBin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ossmount %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		// option name → (group heading above it, its line)
		seen := map[string][2]string{}
		var order []string
		group := ""
		for _, line := range strings.Split(string(out), "\n") {
			s := strings.TrimSpace(line)
			if isGroup[s] {
				group = s
				order = append(order, s)
				continue
			}
			if strings.HasPrefix(s, "--") {
				name := strings.Fields(strings.TrimPrefix(s, "--"))[0]
				name = strings.TrimSuffix(name, ",")
				seen[name] = [2]string{group, s}
			}
		}
		if strings.Join(order, ",") != strings.Join(groups, ",") {
			t.Errorf("ossmount %s: groups in the order %v, want %v", strings.Join(args, " "), order, groups)
		}
		for _, o := range opts {
			got, ok := seen[o.name]
			switch {
			case !ok:
				t.Errorf("ossmount %s: option --%s missing", strings.Join(args, " "), o.name)
			case got[0] != o.group:
				t.Errorf("ossmount %s: --%s listed under %q, want %q", strings.Join(args, " "), o.name, got[0], o.group)
			case o.def != "" && !strings.Contains(got[1], fmt.Sprintf("(default: %q)", o.def)) && !strings.Contains(got[1], "(default: "+o.def+")"):
				t.Errorf("ossmount %s: --%s lacks its default %q: %s", strings.Join(args, " "), o.name, o.def, got[1])
			}
		}
	}
	out, err := exec.Command(ossmountBin, "--version").CombinedOutput()
	if err != nil || !regexp.MustCompile(`^ossmount version \S+\n$`).Match(out) {
		t.Errorf("ossmount --version: %v %q", err, out)
	}
}

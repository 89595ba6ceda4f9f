// Package e2e holds the end-to-end tests: they build bin/ossmount, run it as
// a subprocess against the OSS emulator over real HTTP (signatures checked)
// and exercise real FUSE mounts with ordinary system calls and tools.
package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/internal/testenv"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

const (
	testAK     = "LTAItestaccesskey"
	testSK     = "test-secret-key-0123456789"
	testRegion = "cn-hangzhou"
)

var (
	cleanupDirs []string // removed when the tests end
	binDir      string   // holds ossmount and osslocal built for this run
	ossmountBin string
	osslocalBin string
)

func TestMain(m *testing.M) {
	if os.Getenv(opsChildEnv) != "" {
		os.Exit(opsChild(os.Args[1:]))
	}
	if mode := os.Getenv(benchChildEnv); mode != "" {
		if err := benchChild(mode, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code, err := setup(m)
	for _, d := range cleanupDirs {
		os.RemoveAll(d)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			return 1, fmt.Errorf("the end-to-end tests need root or fusermount3 (apt-get install fuse3)")
		}
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return 1, fmt.Errorf("/dev/fuse is missing: %v", err)
	}
	dir, err := os.MkdirTemp("", "ossmount-e2e-bin-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	binDir = dir
	// Mounts not given an attr_cache_dir keep their attribute stores here,
	// not in the machine's cache directory.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "xdg-cache"))
	ossmountBin = filepath.Join(dir, "ossmount")
	osslocalBin = filepath.Join(dir, "osslocal")
	// make test has just built them into $OSSMOUNT_E2E_BIN: copied, not
	// built again (minutes on a loaded machine).
	prebuilt := os.Getenv("OSSMOUNT_E2E_BIN")
	for _, b := range [][2]string{{ossmountBin, "../../cmd/ossmount"}, {osslocalBin, "../../cmd/osslocal"}} {
		if prebuilt != "" {
			if err := copyFile(filepath.Join(prebuilt, filepath.Base(b[0])), b[0]); err != nil {
				return 1, fmt.Errorf("OSSMOUNT_E2E_BIN: %v", err)
			}
			continue
		}
		out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput()
		if err != nil {
			return 1, fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	return m.Run(), nil
}

// copyFile copies the executable src to dst.
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// newServer starts an in-process emulator with bucket "test".
func newServer(t testing.TB, buckets ...string) *osstest.Server {
	t.Helper()
	if len(buckets) == 0 {
		buckets = []string{"test"}
	}
	srv, err := osstest.NewServer(osstest.Options{
		Region:      testRegion,
		Buckets:     buckets,
		Credentials: map[string]string{testAK: testSK},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// syncBuffer is a buffer safe for a subprocess's writes and our reads.
type syncBuffer = testenv.LogBuf

// mount is a running ossmount process.
type mount struct {
	t      testing.TB
	dir    string
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
}

// credEnv is the environment carrying the test keys.
func credEnv() []string {
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "ALIBABA_CLOUD_") && !strings.HasPrefix(e, "OSS_") {
			env = append(env, e)
		}
	}
	return append(env, "ALIBABA_CLOUD_ACCESS_KEY_ID="+testAK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET="+testSK)
}

// startMount mounts source ("test" or "test:/prefix") in the foreground
// with extra arguments and waits until the mount answers. Mounts of one
// server share an attribute store of their own (attrCacheDir).
func startMount(t testing.TB, srv *osstest.Server, source string, extra ...string) *mount {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"-f", source, dir, "-o", "endpoint=" + srv.URL() + ",region=" + testRegion +
		",attr_cache_dir=" + attrCacheDir(t, srv)}, extra...)
	return launchMount(t, dir, credEnv(), args)
}

var attrCacheDirs sync.Map // *osstest.Server -> directory

// attrCacheDir is the attribute store directory of srv's mounts: one per
// server, so a test never meets another test's records (a later server
// may get the same port).
func attrCacheDir(t testing.TB, srv *osstest.Server) string {
	t.Helper()
	if d, ok := attrCacheDirs.Load(srv); ok {
		return d.(string)
	}
	d, err := os.MkdirTemp(binDir, "attrs-")
	if err != nil {
		t.Fatal(err)
	}
	actual, _ := attrCacheDirs.LoadOrStore(srv, d)
	return actual.(string)
}

// cacheDirOptRE finds a cache_dir option (not attr_cache_dir or data_cache).
var cacheDirOptRE = regexp.MustCompile(`(^|[\s,])cache_dir=`)

// launchMount runs ossmount with args and env, mounting at dir, and waits
// until the mount answers and ossmount says it is mounted.
func launchMount(t testing.TB, dir string, env, args []string) *mount {
	t.Helper()
	if !strings.Contains(strings.Join(args, " "), "attr_cache_dir=") {
		// Not the machine's cache directory.
		args = append(args, "-o", "attr_cache_dir="+filepath.Join(binDir, "attrs"))
	}
	if !cacheDirOptRE.MatchString(strings.Join(args, " ")) {
		// Staging and upload records in the run's directory, not in the
		// machine's /var/cache/ossmount (a test that wants the default
		// says cache_dir= with no value).
		args = append(args, "-o", "cache_dir="+filepath.Join(binDir, "cache"))
	}
	m := &mount{t: t, dir: dir, log: &syncBuffer{}, exited: make(chan struct{})}
	m.cmd = exec.Command(ossmountBin, args...)
	m.cmd.Env = env
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.cmd.Wait()
		close(m.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(dir) {
		select {
		case <-m.exited:
			t.Fatalf("ossmount exited before mounting: %v\n%s", m.cmd.ProcessState, m.log.String())
		default:
		}
		if time.Now().After(deadline) {
			m.cmd.Process.Kill()
			<-m.exited
			t.Fatalf("mount did not come up in 30 s\n%s", m.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The mount answers a moment before ossmount has finished starting
	// (signal handling, the "mounted" line): wait for that too, so a
	// quick stop() is a clean shutdown, not an interrupted start.
	if !m.waitLog("msg=mounted", 30*time.Second) {
		m.cmd.Process.Kill()
		t.Fatalf("ossmount never logged that it was mounted\n%s", m.log.String())
	}
	// Registered first, run last: a failed test shows what the daemon
	// said, shutdown included (the end of it, for a long log).
	t.Cleanup(func() {
		if t.Failed() {
			out := m.log.String()
			if len(out) > 32<<10 {
				out = "...\n" + out[len(out)-32<<10:]
			}
			t.Logf("log of the ossmount on %s:\n%s", dir, out)
		}
	})
	t.Cleanup(m.stop)
	return m
}

// waitLog waits until the mount's log contains s (its output reaches us
// through a pipe, a little after the process wrote it).
func (m *mount) waitLog(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(m.log.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// path joins names under the mount point.
func (m *mount) path(names ...string) string {
	return filepath.Join(append([]string{m.dir}, names...)...)
}

// stop unmounts with SIGTERM and waits for the process; it fails the test
// if ossmount does not exit cleanly.
func (m *mount) stop() {
	select {
	case <-m.exited:
		return
	default:
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(60 * time.Second):
		// Say why: where ossmount's goroutines are (SIGQUIT makes Go
		// print them to the log), which processes are stuck in the kernel,
		// and who holds the mount.
		stuck := stuckProcesses()
		held := mountHolders(m.dir)
		m.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-m.exited:
		case <-time.After(5 * time.Second):
			m.cmd.Process.Kill()
		}
		<-m.exited
		exec.Command("umount", "-l", m.dir).Run()
		m.t.Errorf("ossmount did not exit within 60 s of SIGTERM; processes using the mount: %s; processes in D state: %s\n%s", held, stuck, m.log.String())
		return
	}
	if isMounted(m.dir) {
		exec.Command("umount", "-l", m.dir).Run()
		m.t.Errorf("mount point still mounted after ossmount exited")
	}
	if st := m.cmd.ProcessState; st != nil && !st.Success() {
		m.t.Errorf("ossmount exited with %v\n%s", st, m.log.String())
	}
}

// stuckProcesses lists the processes in uninterruptible sleep (D), with
// where they wait and their parent. It reads /proc/PID/status, which a
// process in the middle of an exec does not block (its stat, wchan, fd and
// maps do: see procBounded).
func stuckProcesses() string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		b, err := os.ReadFile(p + "/status")
		if err != nil {
			continue
		}
		field := func(name string) string {
			_, v, _ := strings.Cut(string(b), "\n"+name+":")
			v, _, _ = strings.Cut(v, "\n")
			return strings.TrimSpace(v)
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(string(b), "Name:"), "\n")
		if !strings.HasPrefix(field("State"), "D") {
			continue
		}
		wchan, ok := procBounded(func() string { b, _ := os.ReadFile(p + "/wchan"); return string(b) })
		if !ok {
			wchan = "(unreadable: in exec?)"
		}
		out = append(out, fmt.Sprintf("%s (%s, ppid %s) in %s", filepath.Base(p), strings.TrimSpace(name), field("PPid"), wchan))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// procBounded runs read, which reads a process's /proc files, for at most
// a second: most of them (stat, wchan, fd, maps, cmdline) wait while the
// process is in the middle of an exec, which is the very process a stuck
// mount may be waiting for. A read that does not return is left behind.
func procBounded(read func() string) (string, bool) {
	ch := make(chan string, 1)
	go func() { ch <- read() }()
	select {
	case s := <-ch:
		return s, true
	case <-time.After(time.Second):
		return "", false
	}
}

// mountHolders lists the processes with a file, a mapping or their working
// directory under dir (and what), for a mount that will not go away.
func mountHolders(dir string) string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		held, ok := procBounded(func() string { return procHolds(p, dir) })
		if !ok {
			held = filepath.Base(p) + ": its /proc files do not answer (in exec?)"
		}
		if held != "" {
			out = append(out, held)
		}
	}
	if len(out) == 0 {
		return "none found"
	}
	return strings.Join(out, "; ")
}

// procHolds says what process p holds under dir ("" if nothing).
func procHolds(p, dir string) string {
	var what []string
	links, _ := filepath.Glob(p + "/fd/*")
	for _, l := range append(links, p+"/cwd", p+"/root") {
		if t, err := os.Readlink(l); err == nil && (t == dir || strings.HasPrefix(t, dir+"/")) {
			what = append(what, filepath.Base(l)+"="+t)
		}
	}
	if maps, err := os.ReadFile(p + "/maps"); err == nil && strings.Contains(string(maps), dir+"/") {
		what = append(what, "mmap")
	}
	if len(what) == 0 {
		return ""
	}
	cmd, _ := os.ReadFile(p + "/cmdline")
	state := ""
	if b, err := os.ReadFile(p + "/stat"); err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
			state = string(b[i+2 : i+3])
		}
	}
	return fmt.Sprintf("%s [%s] state %s: %s", filepath.Base(p),
		strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")), state, strings.Join(what, ", "))
}

func isMounted(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// randBytes returns n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// run runs a command with a timeout and returns its combined output.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

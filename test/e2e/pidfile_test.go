package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPidFileIsPrivate: a user's mount writes its pid file only into a
// directory of its own (created 0700), never through a symlink or into a
// directory planted by someone else in the shared temporary directory.
func TestPidFileIsPrivate(t *testing.T) {
	srv := newServer(t)
	bin := shareBin(t)
	// A user's mount needs /dev/fuse, which distributions leave open to
	// all (0666); this machine's is 0600: open it for the test.
	if st, err := os.Stat("/dev/fuse"); err == nil && st.Mode().Perm() != 0o666 {
		if err := os.Chmod("/dev/fuse", 0o666); err != nil {
			t.Fatalf("a user's mount needs /dev/fuse: %v", err)
		}
		t.Cleanup(func() { os.Chmod("/dev/fuse", st.Mode().Perm()) })
	}
	tmp := t.TempDir()
	os.Chmod(tmp, 0o1777)
	os.Chmod(filepath.Dir(tmp), 0o755) // the test's private parent
	// A mount run by uid 65534 (through fusermount3), TMPDIR=tmp, no
	// XDG_RUNTIME_DIR: the pid file's directory is tmp/ossmount-65534.
	start := func(t *testing.T) (stop func(), log *syncBuffer) {
		t.Helper()
		mnt := filepath.Join(tmp, "mnt")
		os.Mkdir(mnt, 0o755)
		os.Chown(mnt, nobody, nobody)
		var env []string
		for _, e := range credEnv() {
			if !strings.HasPrefix(e, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(e, "XDG_CACHE_HOME=") && !strings.HasPrefix(e, "TMPDIR=") && !strings.HasPrefix(e, "HOME=") {
				env = append(env, e)
			}
		}
		env = append(env, "TMPDIR="+tmp, "HOME="+tmp)
		log = &syncBuffer{}
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "-f", "test", mnt,
			"-o", "endpoint="+srv.URL()+",region="+testRegion+",attr_cache_dir=none")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop = func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				exec.Command("umount", "-l", mnt).Run()
				<-exited
			}
		}
		t.Cleanup(stop)
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(log.String(), "msg=mounted") {
			select {
			case <-exited:
				t.Fatalf("ossmount as uid 65534 exited: %s", log.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("ossmount as uid 65534 did not mount in 30 s: %s", log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return stop, log
	}
	runDir := filepath.Join(tmp, "ossmount-65534")

	t.Run("planted-symlink", func(t *testing.T) {
		victim := filepath.Join(tmp, "victim")
		os.Mkdir(victim, 0o755)
		os.Chown(victim, nobody, nobody)
		if err := os.Symlink(victim, runDir); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(runDir)
		stop, log := start(t)
		ents, _ := os.ReadDir(victim)
		stop()
		if len(ents) != 0 {
			t.Errorf("the pid file was written through a planted symlink: %v", ents)
		}
		if !strings.Contains(log.String(), "no pid file") {
			t.Errorf("no log line about the refused pid file directory:\n%s", log.String())
		}
	})
	t.Run("planted-directory", func(t *testing.T) {
		// A directory another user (root here) made, open to all.
		if err := os.Mkdir(runDir, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(runDir, 0o777)
		defer os.RemoveAll(runDir)
		stop, _ := start(t)
		ents, _ := os.ReadDir(runDir)
		stop()
		if len(ents) != 0 {
			t.Errorf("the pid file was written into a directory owned by another user: %v", ents)
		}
	})
	t.Run("own-directory", func(t *testing.T) {
		stop, _ := start(t)
		defer stop()
		st, err := os.Lstat(runDir)
		if err != nil {
			t.Fatalf("no pid file directory: %v", err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if !st.IsDir() || st.Mode().Perm() != 0o700 || sys.Uid != nobody {
			t.Errorf("pid file directory: %v uid %d; want a 0700 directory of uid 65534", st.Mode(), sys.Uid)
		}
		ents, _ := os.ReadDir(runDir)
		if len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), ".pid") {
			t.Errorf("pid file directory holds %v, want one pid file", ents)
		} else if info, _ := ents[0].Info(); info.Mode().Perm()&0o077 != 0 {
			t.Errorf("pid file mode %v", info.Mode())
		}
	})
}

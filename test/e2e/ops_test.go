package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// opsChildEnv runs this test binary as the ops child: it makes the system
// calls named by its arguments, as whatever user it was started as, and
// prints one result per call ("ok" or the errno's name, e.g. "EACCES").
const opsChildEnv = "OSSMOUNT_E2E_OPS"

// An op is one system call for the ops child: its name and arguments.
type op []string

// opsChild is the ops child's main.
func opsChild(args []string) int {
	for _, a := range args {
		f := strings.Split(a, "\x1f")
		err := doOp(f[0], f[1:])
		switch {
		case err == nil:
			fmt.Println("ok")
		default:
			var errno syscall.Errno
			if errors.As(err, &errno) {
				fmt.Println(unix.ErrnoName(errno))
			} else {
				fmt.Println("error:", strings.ReplaceAll(err.Error(), "\n", " "))
			}
		}
	}
	return 0
}

func doOp(name string, a []string) error {
	num := func(s string) int {
		n, _ := strconv.ParseInt(s, 0, 64)
		return int(n)
	}
	switch name {
	case "read": // PATH
		fd, err := unix.Open(a[0], unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Read(fd, make([]byte, 4096))
		return err
	case "append": // PATH
		fd, err := unix.Open(a[0], unix.O_WRONLY|unix.O_APPEND, 0)
		if err != nil {
			return err
		}
		if _, err := unix.Write(fd, []byte("x")); err != nil {
			unix.Close(fd)
			return err
		}
		return unix.Close(fd)
	case "create": // PATH MODE
		fd, err := unix.Open(a[0], unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, uint32(num(a[1])))
		if err != nil {
			return err
		}
		if _, err := unix.Write(fd, []byte("made by "+strconv.Itoa(os.Getuid()))); err != nil {
			unix.Close(fd)
			return err
		}
		return unix.Close(fd)
	case "truncate": // PATH SIZE
		return unix.Truncate(a[0], int64(num(a[1])))
	case "chmod": // PATH MODE
		return unix.Chmod(a[0], uint32(num(a[1])))
	case "chown": // PATH UID GID (-1 keeps)
		return unix.Lchown(a[0], num(a[1]), num(a[2]))
	case "utimes": // PATH UNIX-SECONDS
		t := unix.NsecToTimespec(int64(num(a[1])) * 1e9)
		return unix.UtimesNanoAt(unix.AT_FDCWD, a[0], []unix.Timespec{t, t}, 0)
	case "touchnow": // PATH
		return unix.UtimesNanoAt(unix.AT_FDCWD, a[0], nil, 0)
	case "unlink":
		return unix.Unlink(a[0])
	case "rmdir":
		return unix.Rmdir(a[0])
	case "mkdir": // PATH MODE
		return unix.Mkdir(a[0], uint32(num(a[1])))
	case "rename": // FROM TO
		return unix.Rename(a[0], a[1])
	case "symlink": // TARGET PATH
		return unix.Symlink(a[0], a[1])
	case "readlink":
		_, err := os.Readlink(a[0])
		return unwrap(err)
	case "readdir":
		_, err := os.ReadDir(a[0])
		return unwrap(err)
	case "stat":
		var st unix.Stat_t
		return unix.Lstat(a[0], &st)
	case "access": // PATH MASK
		return unix.Access(a[0], uint32(num(a[1])))
	case "getxattr": // PATH NAME
		_, err := unix.Getxattr(a[0], a[1], make([]byte, 4096))
		return err
	case "setxattr": // PATH NAME VALUE
		return unix.Setxattr(a[0], a[1], []byte(a[2]), 0)
	case "mkfifo": // PATH MODE
		return unix.Mkfifo(a[0], uint32(num(a[1])))
	case "exec": // PATH
		cmd := exec.Command(a[0])
		err := cmd.Run()
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	return fmt.Errorf("unknown op %q", name)
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

var (
	opsBinOnce sync.Once
	opsBin     string
	opsBinErr  error
)

// opsBinary is a copy of this test binary that uid 65534 may run (the
// build directory is private to root), removed when the tests end.
func opsBinary(t *testing.T) string {
	t.Helper()
	opsBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ossmount-ops-bin-")
		if err != nil {
			opsBinErr = err
			return
		}
		cleanupDirs = append(cleanupDirs, dir)
		if opsBinErr = os.Chmod(dir, 0o755); opsBinErr != nil {
			return
		}
		data, err := os.ReadFile(os.Args[0])
		if err != nil {
			opsBinErr = err
			return
		}
		opsBin = filepath.Join(dir, "e2e.test")
		opsBinErr = os.WriteFile(opsBin, data, 0o755)
	})
	if opsBinErr != nil {
		t.Fatal(opsBinErr)
	}
	return opsBin
}

// runOps makes the calls as uid/gid 65534 with the given supplementary
// groups (none: setpriv --clear-groups) and returns one result per call.
func runOps(t *testing.T, groups []int, ops ...op) []string {
	t.Helper()
	args := []string{"--reuid=65534", "--regid=65534"}
	if len(groups) == 0 {
		args = append(args, "--clear-groups")
	} else {
		var gs []string
		for _, g := range groups {
			gs = append(gs, strconv.Itoa(g))
		}
		args = append(args, "--groups="+strings.Join(gs, ","))
	}
	args = append(args, opsBinary(t))
	for _, o := range ops {
		args = append(args, strings.Join(o, "\x1f"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "setpriv", args...)
	cmd.Env = append(os.Environ(), opsChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("setpriv %v: %v\n%s", ops, err, out)
	}
	res := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(res) != len(ops) {
		t.Fatalf("ops child printed %d results for %d calls:\n%s", len(res), len(ops), out)
	}
	return res
}

// expectOps runs calls as 65534 and checks each result against its
// expectation ("ok" or an errno name).
func expectOps(t *testing.T, groups []int, cases ...opCase) {
	t.Helper()
	ops := make([]op, len(cases))
	for i, c := range cases {
		ops[i] = c.op
	}
	got := runOps(t, groups, ops...)
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("as uid 65534: %s: got %s, want %s", strings.Join(c.op, " "), got[i], c.want)
		}
	}
}

type opCase struct {
	op   op
	want string
}

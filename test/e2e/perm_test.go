package e2e

// Multi-user safety: what another user (uid 65534) may and may not do on an
// allow_other mount, with and without default_permissions (docs/SEMANTICS.md
// "Permissions").

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// multiUserMount mounts bucket "test" with allow_other so that other users
// can reach it, with default_permissions when kernel is set (the kernel
// checks permissions), else without (ossmount checks them).
func multiUserMount(t *testing.T, srv *osstest.Server, kernel bool, extra ...string) *mount {
	t.Helper()
	opts := "allow_other"
	if kernel {
		opts += ",default_permissions"
	}
	m := startMount(t, srv, "test", append([]string{"-o", opts}, extra...)...)
	// The mount point's parent is the test's private temporary directory.
	if err := os.Chmod(filepath.Dir(m.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return m
}

// permModes are the two ways a mount checks permissions.
var permModes = []struct {
	name   string
	kernel bool
}{{"ossmount-checks", false}, {"default_permissions", true}}

// rootFile writes a file through the mount as root and gives it mode and
// owner.
func rootFile(t *testing.T, p string, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.WriteFile(p, []byte("content of "+filepath.Base(p)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(p, uint32(mode)); err != nil {
		t.Fatal(err)
	}
}

func rootDir(t *testing.T, p string, mode uint32) {
	t.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// TestPermissionsOtherUser: another user gets exactly what the stored mode
// and owner allow, even right after root listed everything, whether the
// kernel or ossmount checks.
func TestPermissionsOtherUser(t *testing.T) {
	for _, pm := range permModes {
		t.Run(pm.name, func(t *testing.T) {
			srv := newServer(t)
			m := multiUserMount(t, srv, pm.kernel)
			p := m.path
			rootFile(t, p("secret.txt"), 0o600, 0, 0)
			rootFile(t, p("public.txt"), 0o644, 0, 0)
			rootFile(t, p("group.txt"), 0o640, 0, 4242)
			rootFile(t, p("zero.txt"), 0o000, 65534, 65534)
			rootDir(t, p("private"), 0o700)
			rootFile(t, p("private", "inside.txt"), 0o644, 0, 0)
			rootDir(t, p("open"), 0o777)
			rootDir(t, p("sticky"), 0o1777)
			rootFile(t, p("sticky", "rootfile"), 0o666, 0, 0)
			rootDir(t, p("setgid"), 0o2777)
			if err := os.Chown(p("setgid"), 0, 4242); err != nil {
				t.Fatal(err)
			}
			// Root lists everything first: a listing must not widen access.
			run(t, "ls", "-lR", m.dir)

			st, err := os.Stat(p("zero.txt"))
			if err != nil || st.Mode().Perm() != 0 {
				t.Fatalf("chmod 000: stat shows %v %v, want mode 000", st.Mode(), err)
			}
			expectOps(t, nil,
				opCase{op{"read", p("secret.txt")}, "EACCES"},
				opCase{op{"append", p("secret.txt")}, "EACCES"},
				opCase{op{"getxattr", p("secret.txt"), "user.oss.presign"}, "EACCES"},
				opCase{op{"getxattr", p("secret.txt"), "user.oss.etag"}, "EACCES"},
				opCase{op{"access", p("secret.txt"), "4"}, "EACCES"},
				opCase{op{"chmod", p("secret.txt"), "0777"}, "EPERM"},
				opCase{op{"chown", p("secret.txt"), "65534", "-1"}, "EPERM"},
				opCase{op{"truncate", p("secret.txt"), "0"}, "EACCES"},
				opCase{op{"unlink", p("secret.txt")}, "EACCES"},
				opCase{op{"rename", p("secret.txt"), p("open", "stolen")}, "EACCES"},
				opCase{op{"create", p("new.txt"), "0644"}, "EACCES"},
				opCase{op{"mkdir", p("newdir"), "0755"}, "EACCES"},
				opCase{op{"symlink", "secret.txt", p("link")}, "EACCES"},
				opCase{op{"mkfifo", p("fifo"), "0644"}, "EACCES"},
				opCase{op{"readdir", p("private")}, "EACCES"},
				opCase{op{"read", p("private", "inside.txt")}, "EACCES"},
				opCase{op{"stat", p("private", "inside.txt")}, "EACCES"},
				opCase{op{"read", p("group.txt")}, "EACCES"},
				opCase{op{"read", p("zero.txt")}, "EACCES"},
				opCase{op{"read", p("public.txt")}, "ok"},
				opCase{op{"access", p("public.txt"), "4"}, "ok"},
				opCase{op{"append", p("public.txt")}, "EACCES"},
				opCase{op{"setxattr", p("public.txt"), "user.x", "v"}, "EACCES"},
				opCase{op{"utimes", p("public.txt"), "1000000000"}, "EPERM"},
				opCase{op{"touchnow", p("public.txt")}, "EACCES"},
				opCase{op{"rmdir", p("private")}, "EACCES"},
				// What the mode allows still works.
				opCase{op{"create", p("open", "mine"), "0644"}, "ok"},
				opCase{op{"read", p("open", "mine")}, "ok"},
				opCase{op{"chmod", p("open", "mine"), "0600"}, "ok"},
				opCase{op{"chown", p("open", "mine"), "-1", "65534"}, "ok"},
				opCase{op{"chown", p("open", "mine"), "-1", "0"}, "EPERM"},
				opCase{op{"utimes", p("open", "mine"), "1000000000"}, "ok"},
				opCase{op{"rename", p("open", "mine"), p("open", "mine2")}, "ok"},
				opCase{op{"chmod", p("zero.txt"), "0600"}, "ok"}, // its owner
				opCase{op{"read", p("zero.txt")}, "ok"},
				// Sticky: only the owner removes.
				opCase{op{"unlink", p("sticky", "rootfile")}, "EPERM"},
				opCase{op{"rename", p("sticky", "rootfile"), p("sticky", "x")}, "EPERM"},
				opCase{op{"append", p("sticky", "rootfile")}, "ok"},
				opCase{op{"create", p("sticky", "mine"), "0644"}, "ok"},
				opCase{op{"unlink", p("sticky", "mine")}, "ok"},
				// Set-group-ID directory: new files take its group.
				opCase{op{"create", p("setgid", "f"), "0644"}, "ok"},
				opCase{op{"mkdir", p("setgid", "d"), "0755"}, "ok"},
			)
			// A supplementary group counts.
			expectOps(t, []int{4242}, opCase{op{"read", p("group.txt")}, "ok"})

			for name, want := range map[string]string{"secret.txt": "content of secret.txt", "sticky/rootfile": "content of rootfilex"} {
				b, _, err := srv.GetObject("test", name)
				if err != nil || string(b) != want {
					t.Errorf("%s on the server: %q %v, want %q", name, b, err, want)
				}
			}
			for name, want := range map[string]string{"setgid/f": fmt.Sprint(syscall.S_IFREG | 0o644), "setgid/d/": fmt.Sprint(syscall.S_IFDIR | 0o2755)} {
				_, h, err := srv.GetObject("test", name)
				if err != nil || h.Get("X-Oss-Meta-Gid") != "4242" || h.Get("X-Oss-Meta-Uid") != "65534" || h.Get("X-Oss-Meta-Mode") != want {
					t.Errorf("%s: uid %s gid %s mode %s %v; want 65534 4242 %s", name, h.Get("X-Oss-Meta-Uid"), h.Get("X-Oss-Meta-Gid"), h.Get("X-Oss-Meta-Mode"), err, want)
				}
			}
			for _, name := range []string{"new.txt", "newdir/", "link", "fifo", "open/stolen"} {
				if _, _, err := srv.StatObject("test", name); err == nil {
					t.Errorf("%s was created on the server by a refused call", name)
				}
			}
		})
	}
}

// TestPermissionsOnObjectsOfOtherClients: objects written by another client
// (ossfs metadata in the bucket, never HEADed by this mount) are as private
// on a fresh mount as their stored mode says, after a listing too.
func TestPermissionsOnObjectsOfOtherClients(t *testing.T) {
	for _, pm := range permModes {
		t.Run(pm.name, func(t *testing.T) {
			srv := newServer(t)
			meta := func(mode uint32, uid int) []string {
				return []string{"x-oss-meta-mode", strconv.Itoa(int(mode)), "x-oss-meta-uid", strconv.Itoa(uid), "x-oss-meta-gid", "0"}
			}
			srv.PutObject("test", "d/", nil, hdr(append(meta(syscall.S_IFDIR|0o700, 0), "Content-Type", "application/x-directory")...))
			srv.PutObject("test", "d/in.txt", []byte("in"), hdr(meta(syscall.S_IFREG|0o644, 0)...))
			srv.PutObject("test", "top/secret.txt", []byte("secret"), hdr(meta(syscall.S_IFREG|0o600, 0)...))
			srv.PutObject("test", "top/shared.txt", []byte("shared"), hdr(meta(syscall.S_IFREG|0o644, 0)...))
			m := multiUserMount(t, srv, pm.kernel, "-o", "dir_mode=0777,file_mode=0666")
			run(t, "ls", "-lR", m.dir)
			expectOps(t, nil,
				opCase{op{"read", m.path("top", "secret.txt")}, "EACCES"},
				opCase{op{"getxattr", m.path("top", "secret.txt"), "user.oss.presign"}, "EACCES"},
				opCase{op{"readdir", m.path("d")}, "EACCES"},
				opCase{op{"read", m.path("d", "in.txt")}, "EACCES"},
				opCase{op{"read", m.path("top", "shared.txt")}, "ok"},
			)
		})
	}
}

// TestPermissionsFastListing: with fast_listing the listing's guess is shown
// (file_mode), but access is still decided by the stored mode.
func TestPermissionsFastListing(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "secret.txt", []byte("secret"), hdr("x-oss-meta-mode", strconv.Itoa(syscall.S_IFREG|0o600), "x-oss-meta-uid", "0"))
	m := multiUserMount(t, srv, false, "-o", "fast_listing,file_mode=0644")
	out := run(t, "ls", "-ln", m.dir)
	if !strings.Contains(out, "-rw-r--r--") {
		t.Errorf("fast_listing: ls -l shows %q, want the listing's guess (file_mode 0644)", out)
	}
	expectOps(t, nil, opCase{op{"read", m.path("secret.txt")}, "EACCES"})
}

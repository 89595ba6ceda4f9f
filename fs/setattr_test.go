package fs

// SETATTR and the xattr calls driven without a mount (harness_test.go):
// what each leaves on the server, for files with and without a writer and
// for directories with and without a marker.

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

// chmodIn is a SETATTR of mode (and mtime, when given) on node, with the
// handle fh (0: by path).
func chmodIn(node, fh uint64, mode uint32, mtime *time.Time) *fuse.SetAttrIn {
	in := &fuse.SetAttrIn{}
	in.InHeader = header(node)
	in.Valid = fuse.FATTR_MODE
	in.Mode = mode
	if fh != 0 {
		in.Valid |= fuse.FATTR_FH
		in.Fh = fh
	}
	if mtime != nil {
		in.Valid |= fuse.FATTR_MTIME
		in.Mtime, in.Mtimensec = uint64(mtime.Unix()), uint32(mtime.Nanosecond())
	}
	return in
}

func (tf *testFS) setattr(in *fuse.SetAttrIn) (fuse.AttrOut, syscall.Errno) {
	var out fuse.AttrOut
	st := tf.raw.SetAttr(nil, in, &out)
	return out, syscall.Errno(st)
}

func (tf *testFS) head(key string) *ossapi.ObjectInfo {
	tf.t.Helper()
	info, err := tf.fs.cfg.Store.Head(context.Background(), key, ossapi.HeadOptions{})
	if err != nil {
		tf.t.Fatalf("HEAD %s: %v", key, err)
	}
	return info
}

// A chmod and utimes of a file nobody writes is made on the server (a
// self-copy) before SETATTR returns, keeping the data and other metadata.
func TestSetattrFileOnServer(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	node := tf.writeFile("f", []byte("hello"))
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	out, errno := tf.setattr(chmodIn(node, 0, 0o600, &mt))
	if errno != 0 {
		t.Fatalf("setattr: %v", errno)
	}
	if out.Mode&0o7777 != 0o600 || out.Mtime != uint64(mt.Unix()) {
		t.Errorf("setattr answered mode %o mtime %d, want 600 and %d", out.Mode&0o7777, out.Mtime, mt.Unix())
	}
	info := tf.head("f")
	if info.Meta["mode"] != "33152" { // S_IFREG|0600
		t.Errorf("x-oss-meta-mode = %q, want 33152", info.Meta["mode"])
	}
	if got, ok := engine.ParseMtime(info.Meta["mtime"]); !ok || !got.Equal(mt) {
		t.Errorf("x-oss-meta-mtime = %q, want %v", info.Meta["mtime"], mt)
	}
	if got := string(tf.object("f")); got != "hello" {
		t.Errorf("data after chmod = %q, want hello", got)
	}
}

// A chmod through a handle of a file being written changes nothing on the
// server; the upload at close carries it.
func TestSetattrCarriedByUpload(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	h := tf.create("g")
	h.writeAll([]byte("data"), 0)
	if _, errno := tf.setattr(chmodIn(h.node, h.fh, 0o640, nil)); errno != 0 {
		t.Fatalf("fchmod: %v", errno)
	}
	if _, err := tf.fs.cfg.Store.Head(context.Background(), "g", ossapi.HeadOptions{}); !ossapi.IsNotExist(err) {
		t.Fatalf("HEAD before close: %v, want not found (nothing published before close)", err)
	}
	if errno := h.close(); errno != 0 {
		t.Fatalf("close: %v", errno)
	}
	if m := tf.head("g").Meta["mode"]; m != "33184" { // S_IFREG|0640
		t.Errorf("x-oss-meta-mode after close = %q, want 33184", m)
	}
}

// A chmod of an implicit directory (no marker) creates its marker with the
// mode; a second one rewrites it.
func TestSetattrDirectoryMarker(t *testing.T) {
	srv := newTestServer(t)
	tf := newTestFS(t, srv, nil)
	if _, err := tf.fs.cfg.Store.Put(context.Background(), ossapi.PutRequest{Key: "d/x", Body: strings.NewReader("x"), Size: 1}); err != nil {
		t.Fatal(err)
	}
	node, errno := tf.lookup("d")
	if errno != 0 || node == 0 {
		t.Fatalf("lookup d: %v", errno)
	}
	if _, err := tf.fs.cfg.Store.Head(context.Background(), "d/", ossapi.HeadOptions{}); !ossapi.IsNotExist(err) {
		t.Fatalf("marker before chmod: %v, want none", err)
	}
	for _, mode := range []uint32{0o700, 0o750} {
		out, errno := tf.setattr(chmodIn(node, 0, mode, nil))
		if errno != 0 {
			t.Fatalf("chmod %o: %v", mode, errno)
		}
		if out.Mode != syscall.S_IFDIR|mode {
			t.Errorf("chmod %o answered mode %o", mode, out.Mode)
		}
		info := tf.head("d/")
		if want := syscall.S_IFDIR | mode; info.Meta["mode"] != itoa(want) {
			t.Errorf("marker mode after chmod %o = %q, want %d", mode, info.Meta["mode"], want)
		}
		if info.Headers.ContentType != "application/x-directory" {
			t.Errorf("marker Content-Type = %q", info.Headers.ContentType)
		}
	}
}

// The root has no object to carry attributes: EPERM.
func TestSetattrRootRefused(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	if _, errno := tf.setattr(chmodIn(fuse.FUSE_ROOT_ID, 0, 0o700, nil)); errno != syscall.EPERM {
		t.Errorf("chmod of the root: %v, want EPERM", errno)
	}
}

func itoa(n uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func (tf *testFS) setxattr(node uint64, name, value string) syscall.Errno {
	in := &fuse.SetXAttrIn{InHeader: header(node), Size: uint32(len(value))}
	return syscall.Errno(tf.raw.SetXAttr(nil, in, name, []byte(value)))
}

func (tf *testFS) getxattr(node uint64, name string) (string, syscall.Errno) {
	buf := make([]byte, 4096)
	n, st := tf.raw.GetXAttr(nil, ptr(header(node)), name, buf)
	if st != fuse.OK {
		return "", syscall.Errno(st)
	}
	return string(buf[:n]), 0
}

func (tf *testFS) listxattr(node uint64) ([]string, syscall.Errno) {
	buf := make([]byte, 4096)
	n, st := tf.raw.ListXAttr(nil, ptr(header(node)), buf)
	if st != fuse.OK {
		return nil, syscall.Errno(st)
	}
	return strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00"), 0
}

func (tf *testFS) removexattr(node uint64, name string) syscall.Errno {
	return syscall.Errno(tf.raw.RemoveXAttr(nil, ptr(header(node)), name))
}

// The xattr calls of a file and of a directory take one path: user.*
// becomes x-oss-meta-*, user.oss.content-type the header, on the server
// when the call returns; the cache attribute cannot be set on a directory.
func TestXattrFileAndDirectory(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	file := tf.writeFile("f", []byte("abc"))
	dir := tf.mkdir("d")
	for _, c := range []struct {
		name string
		node uint64
		key  string
	}{{"file", file, "f"}, {"directory", dir, "d/"}} {
		if errno := tf.setxattr(c.node, "user.color", "blue"); errno != 0 {
			t.Fatalf("%s: setxattr user.color: %v", c.name, errno)
		}
		if errno := tf.setxattr(c.node, "user.oss.content-type", "text/x-test"); errno != 0 {
			t.Fatalf("%s: setxattr content-type: %v", c.name, errno)
		}
		info := tf.head(c.key)
		if info.Meta["color"] != "blue" || info.Headers.ContentType != "text/x-test" {
			t.Errorf("%s: on the server: meta %v, Content-Type %q", c.name, info.Meta, info.Headers.ContentType)
		}
		if v, errno := tf.getxattr(c.node, "user.color"); errno != 0 || v != "blue" {
			t.Errorf("%s: getxattr user.color = %q, %v", c.name, v, errno)
		}
		names, errno := tf.listxattr(c.node)
		if errno != 0 || !contains(names, "user.color") || !contains(names, "user.oss.content-type") {
			t.Errorf("%s: listxattr = %q, %v", c.name, names, errno)
		}
		if errno := tf.removexattr(c.node, "user.color"); errno != 0 {
			t.Fatalf("%s: removexattr: %v", c.name, errno)
		}
		if _, ok := tf.head(c.key).Meta["color"]; ok {
			t.Errorf("%s: x-oss-meta-color still on the server after removexattr", c.name)
		}
		if _, errno := tf.getxattr(c.node, "user.color"); errno != syscall.ENODATA {
			t.Errorf("%s: getxattr after removexattr: %v, want ENODATA", c.name, errno)
		}
		if errno := tf.removexattr(c.node, xattrCache); errno != syscall.EINVAL {
			t.Errorf("%s: removexattr %s: %v, want EINVAL", c.name, xattrCache, errno)
		}
	}
	if errno := tf.setxattr(dir, xattrCache, "pin"); errno != syscall.EISDIR {
		t.Errorf("setxattr %s on a directory: %v, want EISDIR", xattrCache, errno)
	}
}

func ptr[T any](v T) *T { return &v }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

package engine

import (
	"context"
	"errors"
	"strconv"
	"syscall"
	"testing"
)

// Create makes a directory's marker, a device node and a symlink with one
// PUT each, with ossfs metadata and the right type, and the caches know
// them at once: a lookup of each, and of a name inside the new (empty)
// directory, costs no request.
func TestCreateEntries(t *testing.T) {
	srv := newTestServer(t, "test")
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	dir, err := n.Create(ctx, "d/", Entry{Mode: syscall.S_IFDIR | 0o750, UID: 7, GID: 8}, "")
	if err != nil || !dir.Dir || !dir.Known || dir.Mode != syscall.S_IFDIR|0o750 || dir.UID != 7 {
		t.Fatalf("mkdir: %+v, %v", dir, err)
	}
	dev, err := n.Create(ctx, "d/tty", Entry{Mode: syscall.S_IFCHR | 0o600, Rdev: 0x0501}, "")
	if err != nil || dev.Mode&syscall.S_IFMT != syscall.S_IFCHR || dev.Rdev != 0x0501 {
		t.Fatalf("mknod: %+v, %v", dev, err)
	}
	link, err := n.Create(ctx, "d/l", Entry{Mode: syscall.S_IFLNK | 0o777}, "tty")
	if err != nil || !link.IsSymlink() || link.Size != 3 {
		t.Fatalf("symlink: %+v, %v", link, err)
	}
	if c := srv.Counts(); len(c) != 1 || c["PutObject"] != 3 {
		t.Errorf("the three creates cost %v, want three PUTs", c)
	}
	h, _, err := srv.StatObject("test", "d/")
	if err != nil || h.Get("Content-Type") != "application/x-directory" || h.Get("X-Oss-Meta-Mode") != strconv.Itoa(syscall.S_IFDIR|0o750) {
		t.Errorf("the marker: %v, %v", h, err)
	}
	if h, _, _ := srv.StatObject("test", "d/tty"); h.Get("X-Oss-Meta-Rdev") != strconv.Itoa(0x0501) {
		t.Errorf("the device's metadata: %v", h)
	}
	if b, _, _ := srv.GetObject("test", "d/l"); string(b) != "tty" {
		t.Errorf("the symlink's body: %q", b)
	}
	srv.ResetCounts()
	for _, name := range []string{"tty", "l"} {
		if a, err := n.Lookup(ctx, "d/", name); err != nil || a.Mode&syscall.S_IFMT == 0 {
			t.Errorf("lookup of d/%s: %+v, %v", name, a, err)
		}
	}
	if _, err := n.Lookup(ctx, "", "d"); err != nil {
		t.Errorf("lookup of d: %v", err)
	}
	if _, err := n.Lookup(ctx, "d/", "new"); !isNotExist(err) {
		t.Errorf("lookup of a new name in the new directory: %v, want not found", err)
	}
	wantCost(t, srv, "lookups of what was just made", 0, 0)
}

// EmptyDir and RemoveDir: a directory with anything but its marker (an
// object, a subdirectory) is not empty and is not removed; an empty one
// is removed with one LIST and one DELETE, and known gone after.
func TestRemoveDir(t *testing.T) {
	srv := newTestServer(t, "test")
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	put(t, srv, "full/", 0, nil)
	put(t, srv, "full/a", 1, nil)
	put(t, srv, "nested/sub/b", 1, nil)
	put(t, srv, "empty/", 0, nil)
	for _, d := range []string{"full/", "nested/"} {
		if err := n.RemoveDir(ctx, d); !errors.Is(err, syscall.ENOTEMPTY) {
			t.Errorf("rmdir %s: %v, want ENOTEMPTY", d, err)
		}
	}
	if c := srv.Count("DeleteObject"); c != 0 {
		t.Errorf("%d deletes for directories not empty", c)
	}
	srv.ResetCounts()
	if err := n.RemoveDir(ctx, "empty/"); err != nil {
		t.Fatal(err)
	}
	if l, d := srv.Count("ListObjectsV2"), srv.Count("DeleteObject"); l != 1 || d != 1 {
		t.Errorf("rmdir cost %d LIST and %d DELETE, want one each", l, d)
	}
	if _, _, err := srv.StatObject("test", "empty/"); err == nil {
		t.Error("the marker is still there")
	}
	srv.ResetCounts()
	if _, err := n.Lookup(ctx, "", "empty"); !isNotExist(err) {
		t.Errorf("lookup after rmdir: %v, want not found", err)
	}
	wantCost(t, srv, "a lookup of the removed directory", 0, 0)
}

// RemoveFile deletes the object of a file on the server, and only records
// the name gone for one that never reached it.
func TestRemoveFile(t *testing.T) {
	srv := newTestServer(t, "test")
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	put(t, srv, "f", 3, nil)
	if err := n.RemoveFile(ctx, "local", false); err != nil {
		t.Fatal(err)
	}
	if c := srv.Count("DeleteObject"); c != 0 {
		t.Errorf("%d deletes for a file not on the server", c)
	}
	if err := n.RemoveFile(ctx, "f", true); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Keys("test"); len(keys) != 0 {
		t.Errorf("keys left: %v", keys)
	}
	srv.ResetCounts()
	for _, k := range []string{"f", "local"} {
		if _, err := n.Lookup(ctx, "", k); !isNotExist(err) {
			t.Errorf("lookup of %s after its removal: %v", k, err)
		}
	}
	wantCost(t, srv, "lookups of removed names", 0, 0)
}

// FullFile answers from the cache only what a HEAD gave (a listing's
// entry costs a HEAD); after a rename (FileRenamed) the old name is known
// gone and the new one has the moved attributes at its new version, with
// no request; MayExist makes a name known gone worth asking again.
func TestFullFileAndFileRenamed(t *testing.T) {
	srv := newTestServer(t, "test")
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	put(t, srv, "a", 5, map[string]string{"mode": strconv.Itoa(syscall.S_IFREG | 0o600), "mtime": "1700000000"})
	if _, err := n.ListDir(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	a, err := n.FullFile(ctx, "a")
	if err != nil || !a.Full() || a.Mode != syscall.S_IFREG|0o600 {
		t.Fatalf("full attributes of a listed file: %+v, %v", a, err)
	}
	if _, err := n.FullFile(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	wantCost(t, srv, "two FullFile of a listed file", 0, 1)

	n.FileRenamed("a", "b", FileMove{Info: a.Info, ETag: "\"new\""})
	if _, err := n.Lookup(ctx, "", "a"); !isNotExist(err) {
		t.Errorf("lookup of the old name: %v, want not found", err)
	}
	b, ok := n.Cached("b")
	if !ok || b.ETag != "\"new\"" || b.Mode != a.Mode || !b.Mtime().Equal(a.Mtime()) {
		t.Errorf("the new name: %+v, %v; want a's attributes at the new ETag", b, ok)
	}
	wantCost(t, srv, "lookups after a rename", 0, 0)

	n.MayExist("a")
	put(t, srv, "a", 1, nil)
	if _, err := n.Lookup(ctx, "", "a"); err != nil {
		t.Errorf("lookup of a name made again by another client after MayExist: %v", err)
	}
}

package engine

import (
	"context"
	"errors"
	"strconv"
	"syscall"
	"testing"
)

// A symlink's target is read from the version its attributes describe
// (one GET); replaced by a new symlink meanwhile, the new version is asked
// (a HEAD) and the new target read; replaced by a file, EINVAL.
func TestReadLink(t *testing.T) {
	srv := newTestServer(t, "test")
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	link := map[string]string{"mode": strconv.Itoa(syscall.S_IFLNK | 0o777)}
	putData(t, srv, "l", []byte("target/one"), link)
	a, err := n.HeadFile(ctx, "l")
	if err != nil || !a.IsSymlink() {
		t.Fatalf("head of the symlink: %+v, %v", a, err)
	}
	srv.ResetCounts()
	b, fresh, err := n.ReadLink(ctx, "l", a)
	if err != nil || string(b) != "target/one" || fresh != nil {
		t.Fatalf("readlink: %q, %v, %v", b, fresh, err)
	}
	if c := srv.Counts(); c["GetObject"] != 1 || c["HeadObject"] != 0 {
		t.Errorf("readlink cost %v, want one GET", c)
	}

	putData(t, srv, "l", []byte("target/two"), link)
	srv.ResetCounts()
	b, fresh, err = n.ReadLink(ctx, "l", a)
	if err != nil || string(b) != "target/two" || fresh == nil || fresh.ETag == a.ETag {
		t.Fatalf("readlink of a replaced symlink: %q, %+v, %v", b, fresh, err)
	}
	if c := srv.Counts(); c["GetObject"] != 2 || c["HeadObject"] != 1 {
		t.Errorf("readlink of a replaced symlink cost %v, want two GETs (one refused by If-Match) and a HEAD", c)
	}

	putData(t, srv, "l", []byte("plain file"), nil)
	_, fresh, err = n.ReadLink(ctx, "l", fresh)
	var ferr *Error
	if !errors.As(err, &ferr) || ferr.Errno != syscall.EINVAL || fresh == nil || fresh.IsSymlink() {
		t.Errorf("readlink of a symlink replaced by a file: %v (fresh %+v), want EINVAL", err, fresh)
	}

	long := make([]byte, symlinkMax+1)
	for i := range long {
		long[i] = 'x'
	}
	putData(t, srv, "long", long, link)
	a, _ = n.HeadFile(ctx, "long")
	if _, _, err := n.ReadLink(ctx, "long", a); !errors.As(err, &ferr) || ferr.Errno != syscall.ENAMETOOLONG {
		t.Errorf("readlink of a 4097-byte target: %v, want ENAMETOOLONG", err)
	}
}

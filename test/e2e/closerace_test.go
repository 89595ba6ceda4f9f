package e2e

// What comes right after close(2): the kernel sends RELEASE after close has
// returned, on its own time, so the next system call often reaches the mount
// before it. A new file is on the server once close returned (its upload
// succeeded): an unlink must delete it there, and a presign must sign it.

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestRightAfterClose(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	const rounds = 60
	for i := range rounds {
		name := fmt.Sprintf("f%03d", i)
		if err := os.WriteFile(m.path(name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := os.Remove(m.path(name)); err != nil {
				t.Fatalf("unlink right after close: %v", err)
			}
		} else if _, err := syscall.Getxattr(m.path(name), "user.oss.presign", make([]byte, 4096)); err != nil {
			t.Errorf("presign right after close (round %d): %v", i, err)
		}
	}
	// unlink deletes on the server before it returns: nothing removed may
	// be there now (nor later: a release has nothing more to upload).
	left := 0
	for i := 0; i < rounds; i += 2 {
		if _, _, err := srv.GetObject("test", fmt.Sprintf("f%03d", i)); err == nil {
			left++
		}
	}
	if left > 0 {
		t.Errorf("%d of %d files unlinked right after their close are still on the server", left, rounds/2)
	}
}

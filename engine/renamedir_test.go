package engine

import (
	"context"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// caches records what a directory rename told the caches.
type caches struct {
	forgot, carried atomic.Int32
	hasMarker       atomic.Bool
	moved           atomic.Int32
}

func (c *caches) hooks() TreeCaches {
	return TreeCaches{
		Forget: func() { c.forgot.Add(1) },
		Carry: func(objs []ossapi.ObjectInfo, hasMarker bool, newETags map[string]string) {
			c.carried.Add(1)
			c.hasMarker.Store(hasMarker)
			c.moved.Store(int32(len(newETags)))
		},
	}
}

func putTree(wt *writerTest, keys ...string) {
	for _, k := range keys {
		if err := wt.srv.PutObject("test", k, []byte("data of "+k), nil); err != nil {
			wt.t.Fatal(err)
		}
	}
}

// A directory rename copies every object, then deletes the sources; the
// files being written under it follow to their new keys, publishing
// nothing until their flush, which uploads at the new key.
func TestRenameDirMovesTreeAndWriters(t *testing.T) {
	wt := newWriterTest(t, func(c *Config) { c.MaxRenameObjects = 100 })
	ctx := context.Background()
	putTree(wt, "d/", "d/a", "d/sub/b")
	w := wt.writer("d/new.bin", false)
	wt.write(w, []byte("pending"), 0)
	var c caches
	if err := wt.e.RenameDir(ctx, "d/", "e/", false, c.hooks()); err != nil {
		t.Fatal(err)
	}
	keys := strings.Join(wt.srv.Keys("test"), " ")
	if keys != "e/ e/a e/sub/b" {
		t.Errorf("keys after the rename: %s", keys)
	}
	if got := wt.object("e/sub/b"); string(got) != "data of d/sub/b" {
		t.Errorf("moved object: %q", got)
	}
	if c.carried.Load() != 1 || !c.hasMarker.Load() || c.moved.Load() != 3 || c.forgot.Load() != 0 {
		t.Errorf("caches told: carried %d (marker %v, %d moved), forgot %d", c.carried.Load(), c.hasMarker.Load(), c.moved.Load(), c.forgot.Load())
	}
	if w.Key() != "e/new.bin" {
		t.Errorf("the writer under the directory follows to %s", w.Key())
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := wt.object("e/new.bin"); string(got) != "pending" || wt.object("d/new.bin") != nil {
		t.Errorf("the file written under the directory: at the new key %q", got)
	}
}

// A copy that fails stops the rename, and the copies made are removed:
// the source is whole, the destination as it was. (The refusal comes late
// so that the other copies are made, not canceled in flight: a canceled
// CopyObject the server still carries out after the undo's delete would
// leave its copy behind, a gap of the undo this test does not cover.)
func TestRenameDirUndoesFailedCopy(t *testing.T) {
	wt := newWriterTest(t, func(c *Config) { c.MaxRenameObjects = 100 })
	putTree(wt, "d/a", "d/b", "d/c", "d/d")
	wt.srv.AddFault(osstest.Fault{Op: "CopyObject", Key: "e/c", Status: 403, Code: "AccessDenied", Latency: 2 * time.Second})
	var c caches
	err := wt.e.RenameDir(context.Background(), "d/", "e/", false, c.hooks())
	if ossapi.KindOf(err) != ossapi.KindPermission {
		t.Fatalf("rename with a refused copy: %v, want the refusal", err)
	}
	if keys := strings.Join(wt.srv.Keys("test"), " "); keys != "d/a d/b d/c d/d" {
		t.Errorf("keys after the failed rename: %s (the copies must be removed, the source whole)", keys)
	}
	if c.forgot.Load() != 1 || c.carried.Load() != 0 {
		t.Errorf("caches told: forgot %d, carried %d", c.forgot.Load(), c.carried.Load())
	}
	if n := wt.srv.Count("CopyObject"); n != 4 {
		t.Errorf("%d copies tried, want 4 (three made, then removed)", n)
	}
	if !strings.Contains(wt.log.String(), "nothing was moved") {
		t.Errorf("no log of the undone rename:\n%s", wt.log.String())
	}
}

// A tree too large, or with a key too long under the destination, is
// refused before anything is copied; so is one holding a file whose
// written parts only its streamed upload holds.
func TestRenameDirRefusals(t *testing.T) {
	wt := newWriterTest(t, func(c *Config) { c.MaxRenameObjects = 2; c.DiskBudget = 6 << 20 })
	ctx := context.Background()
	putTree(wt, "d/a", "d/b", "d/c")
	if err := wt.e.RenameDir(ctx, "d/", "e/", false, (&caches{}).hooks()); err != syscall.EXDEV {
		t.Errorf("a rename of 3 objects with max_rename_objects 2: %v, want EXDEV", err)
	}
	long := "x/" + strings.Repeat("k", 1000)
	putTree(wt, long)
	if err := wt.e.RenameDir(ctx, "x/", "y/"+strings.Repeat("z", 100)+"/", false, (&caches{}).hooks()); err != syscall.ENAMETOOLONG {
		t.Errorf("a rename making a key over 1023 bytes: %v, want ENAMETOOLONG", err)
	}
	w := wt.writer("s/big.bin", false)
	wt.write(w, randData(12<<20, 2), 0) // past disk_budget: the first parts leave the staging file
	if err := wt.e.RenameDir(ctx, "s/", "t/", false, (&caches{}).hooks()); err != syscall.EBUSY {
		t.Errorf("a rename over a file whose parts only its upload holds: %v, want EBUSY", err)
	}
	if n := wt.srv.Count("CopyObject"); n != 0 {
		t.Errorf("%d copies made by refused renames", n)
	}
	if w.Key() != "s/big.bin" {
		t.Errorf("the writer moved to %s with a refused rename", w.Key())
	}
}

// Once every object is copied, a failed delete leaves the destination
// complete and the source there; the caches forget both, the log says so.
func TestRenameDirFailedDelete(t *testing.T) {
	wt := newWriterTest(t, func(c *Config) { c.MaxRenameObjects = 100 })
	putTree(wt, "d/a", "d/b")
	wt.srv.AddFault(osstest.Fault{Op: "DeleteMultipleObjects", Status: 403, Code: "AccessDenied"})
	var c caches
	err := wt.e.RenameDir(context.Background(), "d/", "e/", false, c.hooks())
	wt.srv.ClearFaults()
	if err == nil {
		t.Fatal("a rename whose deletes failed succeeded")
	}
	if keys := strings.Join(wt.srv.Keys("test"), " "); keys != "d/a d/b e/a e/b" {
		t.Errorf("keys: %s", keys)
	}
	if c.forgot.Load() != 1 || !strings.Contains(wt.log.String(), "deleting the sources failed") {
		t.Errorf("forgot %d; log:\n%s", c.forgot.Load(), wt.log.String())
	}
}

// A failed directory rename waits for the copies in flight before it
// removes what they made: OSS finishes a copy whose client gave up, so a
// copy cancelled at the first failure could be made after the undo had
// deleted the copies, and stayed at the destination. (Here the copy to
// e/b takes effect 1.5 s after it is asked, whether or not the client
// waits; the copy to e/c is refused at once.)
func TestRenameDirUndoWaitsForCopiesInFlight(t *testing.T) {
	wt := newWriterTest(t, func(c *Config) { c.MaxRenameObjects = 100 })
	putTree(wt, "d/a", "d/b", "d/c", "d/d")
	wt.srv.AddFault(osstest.Fault{Op: "CopyObject", Key: "e/b", Slow: 1500 * time.Millisecond})
	wt.srv.AddFault(osstest.Fault{Op: "CopyObject", Key: "e/c", Status: 403, Code: "AccessDenied", Latency: 200 * time.Millisecond})
	var c caches
	err := wt.e.RenameDir(context.Background(), "d/", "e/", false, c.hooks())
	if ossapi.KindOf(err) != ossapi.KindPermission {
		t.Fatalf("rename with a refused copy: %v, want the refusal", err)
	}
	time.Sleep(2 * time.Second) // past the slow copy's effect
	if keys := strings.Join(wt.srv.Keys("test"), " "); keys != "d/a d/b d/c d/d" {
		t.Errorf("keys 2 s after the failed rename: %s (a copy in flight was made after the undo)", keys)
	}
}

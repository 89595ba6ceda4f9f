package engine

import (
	"context"
	"errors"
	"net/http"
	"syscall"
	"testing"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// The rename of a file nobody writes copies its object with its metadata
// to the new key and deletes the old one: one HEAD, one copy, one delete.
func TestRenameFileMovesObject(t *testing.T) {
	wt := newWriterTest(t, nil)
	h := http.Header{}
	h.Set("x-oss-meta-mode", "33188")
	if err := wt.srv.PutObject("test", "a.txt", []byte("data"), h); err != nil {
		t.Fatal(err)
	}
	wt.srv.ResetCounts()
	mv, err := wt.e.RenameFile(context.Background(), nil, nil, false, "a.txt", "b.txt")
	if err != nil {
		t.Fatal(err)
	}
	if mv.Local || mv.Info == nil || mv.Info.Meta["mode"] != "33188" || mv.ETag == "" {
		t.Errorf("the move: %+v", mv)
	}
	if keys := wt.keys(); keys != "b.txt" {
		t.Errorf("keys after the rename: %s", keys)
	}
	if _, hb, _ := wt.srv.GetObject("test", "b.txt"); hb.Get("x-oss-meta-mode") != "33188" {
		t.Errorf("the metadata did not move: %v", hb)
	}
	for op, want := range map[string]int64{"HeadObject": 1, "CopyObject": 1, "DeleteObject": 1, "PutObject": 0} {
		if n := wt.srv.Count(op); n != want {
			t.Errorf("%s: %d requests, want %d", op, n, want)
		}
	}
}

// A file created here and not uploaded yet only changes its name: no
// request at all; its close uploads at the new key.
func TestRenameFileLocalOnlyNoRequest(t *testing.T) {
	wt := newWriterTest(t, nil)
	w := wt.writer("new.txt", true)
	wt.write(w, []byte("pending"), 0)
	wt.srv.ResetCounts()
	mv, err := wt.e.RenameFile(context.Background(), w, nil, true, "new.txt", "moved.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !mv.Local || mv.Info != nil {
		t.Errorf("the move of a file not on the server: %+v", mv)
	}
	if n := wt.srv.Count("HeadObject") + wt.srv.Count("CopyObject") + wt.srv.Count("DeleteObject"); n != 0 {
		t.Errorf("%d requests for a rename of a file not on the server", n)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys := wt.keys(); keys != "moved.txt" {
		t.Errorf("keys after the close: %s", keys)
	}
}

// A file being written over an existing object: the object moves now,
// the pending bytes follow and are uploaded at the new key by the close,
// made from the moved copy. The writer of the file renamed over (vw) is
// made nameless: its close uploads nothing over the object renamed in.
func TestRenameFileWriterFollowsAndVictimNameless(t *testing.T) {
	wt := newWriterTest(t, nil)
	ctx := context.Background()
	wt.srv.PutObject("test", "src.txt", []byte("0123456789"), nil)
	wt.srv.PutObject("test", "dst.txt", []byte("old dst"), nil)
	w := wt.writer("src.txt", false)
	wt.write(w, []byte("AB"), 2)
	vw := wt.writer("dst.txt", false)
	wt.write(vw, []byte("victim"), 0)
	mv, err := wt.e.RenameFile(ctx, w, vw, false, "src.txt", "dst.txt")
	if err != nil {
		t.Fatal(err)
	}
	if mv.Local || mv.Info == nil {
		t.Fatalf("the move: %+v", mv)
	}
	if got := wt.object("dst.txt"); string(got) != "0123456789" {
		t.Errorf("at dst before the close: %q, want the moved object unchanged", got)
	}
	if err := vw.Flush(ctx); err != nil {
		t.Errorf("flush of the writer renamed over: %v", err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := wt.object("dst.txt"); string(got) != "01AB456789" {
		t.Errorf("at dst after the close: %q", got)
	}
	if wt.object("src.txt") != nil {
		t.Errorf("the old key still has an object")
	}
	if w.Key() != "dst.txt" {
		t.Errorf("the writer's key: %s", w.Key())
	}
}

// A writer whose upload failed refuses the rename (EIO, its data kept
// under the old name) and nothing moves.
func TestRenameFileFailedWriterRefused(t *testing.T) {
	wt := newWriterTest(t, nil)
	ctx := context.Background()
	w := wt.overwrite("f.txt", "old", "new data")
	wt.srv.AddFault(osstest.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied"})
	if err := w.Flush(ctx); err == nil {
		t.Fatal("the flush with a refused PUT succeeded")
	}
	wt.srv.ClearFaults()
	wt.srv.ResetCounts()
	_, err := wt.e.RenameFile(ctx, w, nil, false, "f.txt", "g.txt")
	var ferr *Error
	if !errors.As(err, &ferr) || ferr.Errno != syscall.EIO {
		t.Fatalf("rename of a failed writer's file: %v, want an EIO Error", err)
	}
	if keys := wt.keys(); keys != "f.txt" {
		t.Errorf("keys after the refused rename: %s", keys)
	}
	if n := wt.srv.Count("CopyObject") + wt.srv.Count("DeleteObject"); n != 0 {
		t.Errorf("%d copies and deletes for a refused rename", n)
	}
}

// A file being written whose object another client removed meanwhile:
// the file being written is all there is, so only its name moves.
func TestRenameFileObjectGoneWhileWriting(t *testing.T) {
	wt := newWriterTest(t, nil)
	ctx := context.Background()
	w := wt.overwrite("f.txt", "old", "mine")
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wt.write(w, []byte("MINE"), 0)
	if err := wt.srv.DeleteObject("test", "f.txt"); err != nil {
		t.Fatal(err)
	}
	mv, err := wt.e.RenameFile(ctx, w, nil, false, "f.txt", "g.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !mv.Local || mv.Info != nil {
		t.Errorf("the move: %+v, want local", mv)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := wt.object("g.txt"); string(got) != "MINE" {
		t.Errorf("at the new key: %q", got)
	}
}

// Without a writer, a source that does not exist is an error of its kind
// (not found), and nothing else is asked.
func TestRenameFileMissingSource(t *testing.T) {
	wt := newWriterTest(t, nil)
	wt.srv.ResetCounts()
	_, err := wt.e.RenameFile(context.Background(), nil, nil, false, "none", "x")
	if err == nil {
		t.Fatal("rename of a missing object succeeded")
	}
	if n := wt.srv.Count("CopyObject"); n != 0 {
		t.Errorf("%d copies", n)
	}
}

package fs

// Renames of files being written (issue 14): the object at a key changes
// only at close or fsync, so a rename while writing publishes nothing. A
// new file only changes its name; an overwritten object (the base) moves
// as the object of a closed file would; the bytes being written follow and
// appear at the new key, whole, at close.

import (
	"bytes"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// noObjects fails the test when the server holds any of keys.
func (tf *testFS) noObjects(when string, keys ...string) {
	tf.t.Helper()
	for _, k := range keys {
		if b := tf.object(k); b != nil {
			tf.t.Errorf("%s: an object at %s (%d bytes)", when, k, len(b))
		}
	}
}

// A new file renamed while written: nothing is sent at the rename (a
// small file makes no request at all; a streamed one only aborts the
// upload of its old name), neither key holds an object until the close,
// the new name is found by lookups, and the close publishes the whole
// file at the new name, once.
func TestWriteRenameNewFile(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		streamed bool
	}{{"small", 300 << 10, false}, {"streamed", 24 << 20, true}} {
		t.Run(tc.name, func(t *testing.T) {
			tf := newTestFS(t, nil, nil)
			data := randData(tc.size, 21)
			half := len(data) / 2
			h := tf.create("x.tmp")
			h.writeAll(data[:half], 0)
			// Not on the server yet, the file is found by a lookup (the
			// kernel asks again once its entry expires).
			if e, errno := tf.lookupIn(fuse.FUSE_ROOT_ID, "x.tmp"); errno != 0 || e.NodeId != h.node {
				t.Errorf("lookup of the file being created: node %d (want %d), %v", e.NodeId, h.node, errno)
			}
			if tc.streamed && !waitFor(30*time.Second, func() bool { return tf.srv.Count("UploadPart") >= 4 }) {
				t.Fatalf("the file did not stream: %v", tf.srv.Counts())
			}
			if tc.streamed {
				// The parts in flight finish first: the counts below are
				// the rename's own.
				w := tf.onlyWriter()
				w.Lock()
				w.WaitPartsLocked()
				w.Unlock()
			}
			before := tf.srv.Counts()
			if errno := tf.rename("x.tmp", "x.bin"); errno != 0 {
				t.Fatalf("rename: %v", errno)
			}
			for op, n := range tf.srv.Counts() {
				d := n - before[op]
				switch {
				case d == 0:
				case d == 1 && (op == "HeadObject" || op == "ListObjectsV2"):
					// The lookup of the destination, as in any rename.
				case d == 1 && op == "AbortMultipartUpload" && tc.streamed:
				default:
					t.Errorf("the rename sent %d %s", d, op)
				}
			}
			tf.noObjects("after the rename", "x.tmp", "x.bin")
			e, errno := tf.lookupIn(fuse.FUSE_ROOT_ID, "x.bin")
			if errno != 0 || e.NodeId != h.node || e.Attr.Size != uint64(half) {
				t.Errorf("lookup of the new name: node %d (want %d), size %d (want %d), %v", e.NodeId, h.node, e.Attr.Size, half, errno)
			}
			if e, _ := tf.lookupIn(fuse.FUSE_ROOT_ID, "x.tmp"); e.NodeId != 0 {
				t.Errorf("the old name is still found")
			}
			if got := h.mustRead(int64(half)/2, 4096); !bytes.Equal(got, data[half/2:half/2+4096]) {
				t.Errorf("read through the descriptor after the rename differs")
			}
			h.writeAll(data[half:], int64(half))
			tf.noObjects("before close", "x.tmp", "x.bin")
			if n := tf.srv.Count("CompleteMultipartUpload") + tf.srv.Count("PutObject"); n != 0 {
				t.Errorf("%d completions or PUTs before close", n)
			}
			if errno := h.close(); errno != 0 {
				t.Fatalf("close: %v\n%s", errno, tf.log.String())
			}
			if got := tf.object("x.bin"); !bytes.Equal(got, data) {
				t.Errorf("x.bin after close: %d bytes, want the %d written", len(got), len(data))
			}
			tf.noObjects("after close", "x.tmp")
			if n := tf.srv.Count("CompleteMultipartUpload") + tf.srv.Count("PutObject"); n != 1 {
				t.Errorf("%d completions and PUTs, want 1", n)
			}
			if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
				t.Errorf("uploads left: %v", ids)
			}
		})
	}
}

// A file overwriting an object, renamed while written: the object (the
// base) moves to the new name intact, the old name is gone, and the close
// puts the file written at the new name. Staged (a change in place, the
// rest read and copied from the moved base) and streamed (O_TRUNC).
func TestWriteRenameOverwrite(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	old := randData(20<<20, 22)

	// Staged: 7 bytes changed at 5 MiB.
	tf.srv.PutObject("test", "a.bin", old, nil)
	h := tf.mustOpen("a.bin", syscall.O_RDWR)
	if errno := h.write([]byte("CHANGED"), 5<<20+10); errno != 0 {
		t.Fatal(errno)
	}
	if errno := tf.rename("a.bin", "b.bin"); errno != 0 {
		t.Fatalf("rename: %v", errno)
	}
	tf.noObjects("after the rename", "a.bin")
	if got := tf.object("b.bin"); !bytes.Equal(got, old) {
		t.Errorf("b.bin after the rename: %d bytes, want the old object intact", len(got))
	}
	want := bytes.Clone(old)
	copy(want[5<<20+10:], "CHANGED")
	if got := h.mustRead(5<<20, 4096); !bytes.Equal(got, want[5<<20:5<<20+4096]) {
		t.Errorf("read of the changed range after the rename differs")
	}
	if got := h.mustRead(15<<20, 4096); !bytes.Equal(got, old[15<<20:15<<20+4096]) {
		t.Errorf("read of an unchanged range (from the moved base) after the rename differs")
	}
	if errno := h.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if got := tf.object("b.bin"); !bytes.Equal(got, want) {
		t.Errorf("b.bin after close: not the file written (%d bytes)", len(got))
	}
	tf.noObjects("after close", "a.bin")
	if tf.srv.Count("UploadPartCopy") == 0 {
		t.Errorf("the unchanged ranges were not copied from the moved base: %v", tf.srv.Counts())
	}

	// Streamed: O_TRUNC, half written, renamed, the rest written.
	tf.srv.PutObject("test", "c.bin", old, nil)
	data := randData(24<<20, 23)
	parts := tf.srv.Count("UploadPart")
	h = tf.mustOpen("c.bin", syscall.O_WRONLY|syscall.O_TRUNC)
	h.writeAll(data[:12<<20], 0)
	if !waitFor(30*time.Second, func() bool { return tf.srv.Count("UploadPart") >= parts+4 }) {
		t.Fatalf("the overwrite did not stream: %v", tf.srv.Counts())
	}
	if errno := tf.rename("c.bin", "d.bin"); errno != 0 {
		t.Fatalf("rename: %v", errno)
	}
	tf.noObjects("after the rename", "c.bin")
	if got := tf.object("d.bin"); !bytes.Equal(got, old) {
		t.Errorf("d.bin after the rename: %d bytes, want the old object intact", len(got))
	}
	h.writeAll(data[12<<20:], 12<<20)
	if got := tf.object("d.bin"); !bytes.Equal(got, old) {
		t.Errorf("d.bin before close: %d bytes, want the old object intact", len(got))
	}
	if errno := h.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if got := tf.object("d.bin"); !bytes.Equal(got, data) {
		t.Errorf("d.bin after close: %d bytes, want the %d written", len(got), len(data))
	}
	tf.noObjects("after close", "c.bin")
	if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
}

// A directory renamed above files being written: a new one and an
// overwritten one follow to their new keys without publishing; the
// overwritten object moves with the directory, intact, and the closes put
// the files written at the new keys.
func TestWriteRenameDirWithWriters(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	old := randData(10<<20, 24)
	tf.srv.PutObject("test", "d/", nil, nil)
	tf.srv.PutObject("test", "d/old.bin", old, nil)
	d, errno := tf.lookup("d")
	if errno != 0 {
		t.Fatal(errno)
	}
	newData := randData(24<<20, 25)
	over := randData(16<<20, 26)
	hn := tf.createIn(d, "new.bin")
	hn.writeAll(newData[:12<<20], 0)
	ho, errno := tf.openIn(d, "old.bin", syscall.O_WRONLY|syscall.O_TRUNC)
	if errno != 0 {
		t.Fatal(errno)
	}
	ho.writeAll(over[:8<<20], 0)
	if !waitFor(30*time.Second, func() bool { return tf.srv.Count("UploadPart") >= 8 }) {
		t.Fatalf("the files did not stream: %v", tf.srv.Counts())
	}
	if errno := tf.renameAt(fuse.FUSE_ROOT_ID, "d", fuse.FUSE_ROOT_ID, "e", 0); errno != 0 {
		t.Fatalf("rename of the directory: %v", errno)
	}
	check := func(when string) {
		t.Helper()
		tf.noObjects(when, "d/", "d/new.bin", "d/old.bin", "e/new.bin")
		if got := tf.object("e/old.bin"); !bytes.Equal(got, old) {
			t.Errorf("%s: e/old.bin: %d bytes, want the old object intact", when, len(got))
		}
	}
	check("after the rename")
	if got := hn.mustRead(1<<20, 4096); !bytes.Equal(got, newData[1<<20:1<<20+4096]) {
		t.Errorf("read through the new file's descriptor after the rename differs")
	}
	hn.writeAll(newData[12<<20:], 12<<20)
	ho.writeAll(over[8<<20:], 8<<20)
	check("before close")
	if errno := hn.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if errno := ho.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if got := tf.object("e/new.bin"); !bytes.Equal(got, newData) {
		t.Errorf("e/new.bin after close: %d bytes, want the %d written", len(got), len(newData))
	}
	if got := tf.object("e/old.bin"); !bytes.Equal(got, over) {
		t.Errorf("e/old.bin after close: %d bytes, want the %d written", len(got), len(over))
	}
	tf.noObjects("after close", "d/", "d/new.bin", "d/old.bin")
	if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
}

// When parts already sent were dropped from cache_dir (disk_budget), only
// the multipart upload at the old key holds their bytes, and an upload
// cannot change its key: a rename of the file, or of a directory above
// it, is refused with EBUSY (logged) before anything changes, and the
// close completes the file at its name.
func TestWriteRenameDroppedPartsRefused(t *testing.T) {
	tf := newTestFS(t, nil, func(c *Config) { c.DiskBudget, c.UploadConcurrency = 6<<20, 4 }) // more than the 4 parts in flight
	d := tf.mkdir("d")
	data := randData(12<<20, 27)
	h := tf.createIn(d, "big.bin")
	h.writeAll(data, 0)
	if _, errno := h.read(0, 4096); errno != syscall.ENODATA {
		t.Fatalf("the first parts were not dropped (read: %v)", errno)
	}
	if errno := tf.renameAt(d, "big.bin", d, "other.bin", 0); errno != syscall.EBUSY {
		t.Errorf("rename of the file: %v, want EBUSY", errno)
	}
	if errno := tf.renameAt(fuse.FUSE_ROOT_ID, "d", fuse.FUSE_ROOT_ID, "e", 0); errno != syscall.EBUSY {
		t.Errorf("rename of its directory: %v, want EBUSY", errno)
	}
	if !strings.Contains(tf.log.String(), "rename refused (EBUSY)") {
		t.Errorf("no log line about the refused rename:\n%s", tf.log.String())
	}
	if keys := tf.srv.Keys("test"); !slices.Equal(keys, []string{"d/"}) {
		t.Errorf("keys after the refused renames: %v, want only d/", keys)
	}
	if errno := h.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if got := tf.object("d/big.bin"); !bytes.Equal(got, data) {
		t.Errorf("d/big.bin after close: %d bytes, want the %d written", len(got), len(data))
	}
}

// After a rename took the streamed upload away, the next writes send the
// parts again under the new key, so that they can leave the staging file
// when disk_budget needs the room: writing on past the budget still works.
func TestWriteRenameThenPastDiskBudget(t *testing.T) {
	tf := newTestFS(t, nil, func(c *Config) { c.DiskBudget, c.UploadConcurrency = 8<<20, 4 }) // more than the 4 parts in flight
	data := randData(16<<20, 28)
	h := tf.create("x.tmp")
	h.writeAll(data[:6<<20], 0)
	if errno := tf.rename("x.tmp", "x.bin"); errno != 0 {
		t.Fatalf("rename: %v", errno)
	}
	h.writeAll(data[6<<20:], 6<<20)
	if errno := h.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if got := tf.object("x.bin"); !bytes.Equal(got, data) {
		t.Errorf("x.bin after close: %d bytes, want the %d written", len(got), len(data))
	}
	tf.noObjects("after close", "x.tmp")
	if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
}

// A new file renamed over an existing object: the object stays until the
// close replaces it (the new file is not complete before), and an unlink
// of the new name before then removes it. RENAME_NOREPLACE onto a file
// being created here is EEXIST.
func TestWriteRenameNewFileOverObject(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	tf.srv.PutObject("test", "target", []byte("the old object"), nil)
	tf.srv.PutObject("test", "doomed", []byte("the old object"), nil)
	data := randData(3<<20, 29)
	for _, name := range []string{"target", "doomed"} {
		if _, errno := tf.lookup(name); errno != 0 {
			t.Fatal(errno)
		}
		h := tf.create(name + ".tmp")
		h.writeAll(data, 0)
		if errno := tf.rename(name+".tmp", name); errno != 0 {
			t.Fatalf("rename over %s: %v", name, errno)
		}
		if got := tf.object(name); string(got) != "the old object" {
			t.Errorf("%s after the rename: %d bytes, want the old object until close", name, len(got))
		}
		if name == "doomed" {
			if errno := tf.unlink(name); errno != 0 {
				t.Fatalf("unlink: %v", errno)
			}
			tf.noObjects("after the unlink", name)
		}
		if errno := h.close(); errno != 0 {
			t.Fatalf("close: %v\n%s", errno, tf.log.String())
		}
	}
	if got := tf.object("target"); !bytes.Equal(got, data) {
		t.Errorf("target after close: %d bytes, want the %d written", len(got), len(data))
	}
	tf.noObjects("after close", "doomed", "target.tmp", "doomed.tmp")

	const renameNoreplace = 1
	h := tf.create("pending.bin")
	o := tf.create("other.bin")
	if errno := tf.renameAt(fuse.FUSE_ROOT_ID, "other.bin", fuse.FUSE_ROOT_ID, "pending.bin", renameNoreplace); errno != syscall.EEXIST {
		t.Errorf("RENAME_NOREPLACE onto a file being created: %v, want EEXIST", errno)
	}
	for _, x := range []*handle{h, o} {
		if errno := x.close(); errno != 0 {
			t.Fatal(errno)
		}
	}
}

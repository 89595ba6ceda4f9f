package fs

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// Case 1 of issue 14: a file unlinked while it is written (and streamed)
// is never uploaded, not even when it is read back through its descriptor
// (which used to complete the streamed parts into an object), and its
// parts are aborted.
func TestWriteUnlinkedNeverUploaded(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	data := randData(24<<20, 1)
	h := tf.create("doomed.bin")
	h.writeAll(data, 0)
	if !waitFor(30*time.Second, func() bool { return tf.srv.Count("UploadPart") >= 4 }) {
		t.Fatalf("the file did not stream: %v", tf.srv.Counts())
	}
	if errno := tf.unlink("doomed.bin"); errno != 0 {
		t.Fatalf("unlink: %v", errno)
	}
	if got := h.mustRead(0, 4096); !bytes.Equal(got, data[:4096]) {
		t.Errorf("read through the open descriptor after unlink differs")
	}
	if got := h.mustRead(20<<20, 4096); !bytes.Equal(got, data[20<<20:20<<20+4096]) {
		t.Errorf("read of a streamed range after unlink differs")
	}
	h.writeAll(data[:1<<20], 24<<20) // writes go on, locally
	if errno := h.fsync(); errno != 0 {
		t.Errorf("fsync of the unlinked file: %v", errno)
	}
	if errno := h.close(); errno != 0 {
		t.Errorf("close of the unlinked file: %v", errno)
	}
	if b := tf.object("doomed.bin"); b != nil {
		t.Errorf("the unlinked file was uploaded (%d bytes)", len(b))
	}
	if n := tf.srv.Count("CompleteMultipartUpload"); n != 0 {
		t.Errorf("%d CompleteMultipartUpload for an unlinked file", n)
	}
	if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("the unlinked file's parts were not aborted: %v", ids)
	}
}

// Case 1, renamed over: a file being written that another file is renamed
// over never completes its upload over the object renamed in.
func TestWriteRenamedOverNeverUploaded(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	data := randData(24<<20, 2)
	h := tf.create("target.bin")
	h.writeAll(data, 0)
	if !waitFor(30*time.Second, func() bool { return tf.srv.Count("UploadPart") >= 4 }) {
		t.Fatalf("the file did not stream: %v", tf.srv.Counts())
	}
	other := tf.create("new.bin")
	other.writeAll([]byte("the file renamed in"), 0)
	if errno := other.close(); errno != 0 {
		t.Fatal(errno)
	}
	if errno := tf.rename("new.bin", "target.bin"); errno != 0 {
		t.Fatalf("rename: %v", errno)
	}
	if got := h.mustRead(4<<20, 10); !bytes.Equal(got, data[4<<20:4<<20+10]) {
		t.Errorf("read through the descriptor of the replaced file differs")
	}
	if errno := h.close(); errno != 0 {
		t.Errorf("close of the replaced file: %v", errno)
	}
	if got := tf.object("target.bin"); string(got) != "the file renamed in" {
		t.Errorf("target.bin after the replaced file's close: %d bytes, want the file renamed in", len(got))
	}
	if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("the replaced file's parts were not aborted: %v", ids)
	}
}

// Case 2: a reader during a streamed overwrite sees the new bytes from
// local state, and the object stays the old one, whole, until close: never
// a truncated object made of the first parts.
func TestWriteReaderDuringOverwrite(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	old := randData(20<<20, 3)
	tf.srv.PutObject("test", "big.bin", old, nil)
	data := randData(30<<20, 4)
	w := tf.mustOpen("big.bin", syscall.O_WRONLY|syscall.O_TRUNC)
	w.writeAll(data[:24<<20], 0)
	if !waitFor(30*time.Second, func() bool { return tf.srv.Count("UploadPart") >= 4 }) {
		t.Fatalf("the file did not stream: %v", tf.srv.Counts())
	}
	r := tf.mustOpen("big.bin", syscall.O_RDONLY)
	if got := r.mustRead(0, 4); !bytes.Equal(got, data[:4]) {
		t.Errorf("head -c 4 during the overwrite: %x, want %x", got, data[:4])
	}
	if got := r.mustRead(10<<20, 1<<20); !bytes.Equal(got, data[10<<20:11<<20]) {
		t.Errorf("read of a streamed range during the overwrite differs")
	}
	if errno := r.fsync(); errno != 0 {
		t.Errorf("fsync of the reader: %v", errno)
	}
	if errno := r.close(); errno != 0 {
		t.Errorf("close of the reader: %v", errno)
	}
	if got := tf.object("big.bin"); !bytes.Equal(got, old) {
		t.Fatalf("the object changed before the writer's close: %d bytes (old %d)", len(got), len(old))
	}
	if n := tf.srv.Count("CompleteMultipartUpload"); n != 0 {
		t.Errorf("%d CompleteMultipartUpload before close", n)
	}
	// A write before the frontier (a part already sent is sent again) and
	// more writes; then the close publishes the whole file at once.
	copy(data[1<<20:], "rewritten")
	if errno := w.write([]byte("rewritten"), 1<<20); errno != 0 {
		t.Fatal(errno)
	}
	w.writeAll(data[24<<20:], 24<<20)
	if errno := w.close(); errno != 0 {
		t.Fatalf("close: %v", errno)
	}
	if got := tf.object("big.bin"); !bytes.Equal(got, data) {
		t.Errorf("the object after close is not the file written (%d bytes, want %d)", len(got), len(data))
	}
	if n := tf.srv.Count("CompleteMultipartUpload"); n != 1 {
		t.Errorf("%d CompleteMultipartUpload, want 1", n)
	}
}

// Truncates during a stream change only the parts they cut; the object is
// the file at close.
func TestWriteStreamTruncate(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	data := randData(12<<20, 5)
	h := tf.create("t.bin")
	h.writeAll(data, 0)
	if errno := h.truncate(5<<20 + 100); errno != 0 {
		t.Fatal(errno)
	}
	data = append(data[:5<<20+100], make([]byte, 1<<20)...)
	h.writeAll(data[6<<20+100:], 6<<20+100) // zeros after a hole: still the same bytes
	more := randData(3<<20, 6)
	h.writeAll(more, int64(len(data)))
	data = append(data, more...)
	if got := h.mustRead(5<<20, 200); !bytes.Equal(got, data[5<<20:5<<20+200]) {
		t.Errorf("read across the truncated end differs")
	}
	if errno := h.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if got := tf.object("t.bin"); !bytes.Equal(got, data) {
		t.Errorf("object after truncates: %d bytes, want %d", len(got), len(data))
	}
	// Emptied while streaming: the upload starts afresh.
	h = tf.mustOpen("t.bin", syscall.O_RDWR)
	h.writeAll(randData(3<<20, 7), 0)
	if errno := h.truncate(0); errno != 0 {
		t.Fatal(errno)
	}
	h.writeAll([]byte("short"), 0)
	if errno := h.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if got := tf.object("t.bin"); string(got) != "short" {
		t.Errorf("object after truncate to 0: %q", got)
	}
	if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
}

// Case 3: the answer to CompleteMultipartUpload is lost (the upload took
// effect, the SDK's retry gets NoSuchUpload): close succeeds after a HEAD
// finds the object complete; when the object is not the one uploaded the
// answer is EIO, never ENOENT.
func TestWriteLostCompleteResponse(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	data := randData(5<<20+123, 8)
	h := tf.create("lost.bin")
	h.writeAll(data, 0)
	tf.srv.AddFault(osstest.Fault{Op: "CompleteMultipartUpload", LoseResponse: true, Times: 1})
	if errno := h.close(); errno != 0 {
		t.Fatalf("close after a lost completion answer: %v, want success", errno)
	}
	if got := tf.object("lost.bin"); !bytes.Equal(got, data) {
		t.Errorf("object: %d bytes", len(got))
	}
	if n := tf.srv.Count("CompleteMultipartUpload"); n < 2 {
		t.Errorf("the fault did not fire: %d completions", n)
	}
	if !strings.Contains(tf.log.String(), "answer to CompleteMultipartUpload was lost") {
		t.Errorf("no log line about the lost answer:\n%s", tf.log.String())
	}
	if kept, _ := filepath.Glob(filepath.Join(tf.cache, "*", "kept-*")); len(kept) != 0 {
		t.Errorf("data kept as failed: %v", kept)
	}

	// The upload vanished and the object is not ours: EIO.
	h = tf.create("gone.bin")
	h.writeAll(data, 0)
	tf.srv.AddFault(osstest.Fault{Op: "CompleteMultipartUpload", Status: 404, Code: "NoSuchUpload"})
	errno := h.close()
	tf.srv.ClearFaults()
	if errno != syscall.EIO {
		t.Errorf("close when the upload vanished: %v, want EIO", errno)
	}
	if b := tf.object("gone.bin"); b != nil {
		t.Errorf("an object appeared: %d bytes", len(b))
	}
}

// A canceled upload (the caller is dying) is not a failure: the data stays
// dirty and unfailed, the caller gets EINTR, a staged upload started by the
// attempt is aborted, and the next flush uploads it.
func TestWriteCanceledIsNotFailure(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		stream bool
	}{{"streamed", true}, {"staged", false}} {
		data := randData(6<<20, 9)
		h := tf.create(tc.name)
		if tc.stream {
			h.writeAll(data, 0)
		} else {
			h.writeAll(data[1<<20:], 1<<20) // not sequential from 0: staged
			h.writeAll(data[:1<<20], 0)
		}
		w := tf.onlyWriter()
		w.Lock()
		err := w.FlushLocked(canceled)
		failed, dirty := w.FailedLocked(), w.DirtyLocked()
		w.Unlock()
		if errno := tf.fs.toErrno("flush", err); errno != syscall.EINTR || failed || !dirty {
			t.Errorf("%s: canceled flush = %v, failed %v, dirty %v; want EINTR, not failed, dirty", tc.name, err, failed, dirty)
		}
		if b := tf.object(tc.name); b != nil {
			t.Errorf("%s: a canceled flush published %d bytes", tc.name, len(b))
		}
		if !tc.stream {
			if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
				t.Errorf("%s: the canceled attempt's upload was not aborted: %v", tc.name, ids)
			}
		}
		if errno := h.close(); errno != 0 {
			t.Errorf("%s: close after a canceled flush: %v", tc.name, errno)
		}
		if got := tf.object(tc.name); !bytes.Equal(got, data) {
			t.Errorf("%s: object after close: %d bytes", tc.name, len(got))
		}
	}
	if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
}

// Case 7: a failed upload keeps the data, described (key, size, the exact
// ranges that did not reach OSS) next to it and in the log, also for a
// sparse file.
func TestWriteFailureKeptAndDescribed(t *testing.T) {
	srv := newTestServer(t)
	tf := newTestFS(t, srv, func(c *Config) { c.Store = testStore(t, srv, "test", 1) })
	old := randData(20<<20, 10)
	tf.srv.PutObject("test", "big.bin", old, nil)
	h := tf.mustOpen("big.bin", syscall.O_RDWR)
	if errno := h.write([]byte("CHANGED"), 5<<20+10); errno != 0 {
		t.Fatal(errno)
	}
	if errno := h.write([]byte("END"), 25<<20); errno != 0 { // sparse: 20-25 MiB is a hole
		t.Fatal(errno)
	}
	tf.srv.AddFault(osstest.Fault{Op: "UploadPart", Status: 500, Code: "InternalError"})
	if errno := h.close(); errno != syscall.EIO {
		t.Errorf("close with failing parts: %v, want EIO", errno)
	}
	tf.srv.ClearFaults()
	if got := tf.object("big.bin"); !bytes.Equal(got, old) {
		t.Errorf("the failed upload changed the object")
	}
	infos, _ := filepath.Glob(filepath.Join(tf.cache, "*", "kept-*.json"))
	if len(infos) != 1 {
		t.Fatalf("want one kept-file description, have %v", infos)
	}
	var k engine.KeptFile
	b, _ := os.ReadFile(infos[0])
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	want := []engine.Range{{Off: 5 << 20, End: 6 << 20}, {Off: 20 << 20, End: 25<<20 + 3}}
	if k.Key != "big.bin" || k.Size != 25<<20+3 || k.Bucket != "test" || k.Endpoint != tf.srv.URL() || len(k.Changed) != 2 ||
		k.Changed[0] != want[0] || k.Changed[1] != want[1] || k.BaseETag == "" || k.Reason == "" {
		t.Errorf("kept file description: %+v; want key big.bin, size %d, changed %v", k, 25<<20+3, want)
	}
	data, err := os.ReadFile(k.Path)
	if err != nil || int64(len(data)) != k.Size || string(data[5<<20+10:5<<20+17]) != "CHANGED" || string(data[25<<20:]) != "END" {
		t.Errorf("kept data: %d bytes, %v", len(data), err)
	}
	logged := tf.log.String()
	if !strings.Contains(logged, "key=big.bin") || !strings.Contains(logged, "not_on_oss=5242880-6291456,20971520-26214403") {
		t.Errorf("the failure log does not name the key and the ranges:\n%s", logged)
	}
	if ids := tf.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("the failed staged upload was not aborted: %v", ids)
	}
}

// Case 4: upload records name endpoint, bucket and key, and a mount only
// recovers (aborts) the uploads of its own endpoint and bucket.
func TestWriteRecoveryOnlyOwnBucket(t *testing.T) {
	srv := newTestServer(t, "test", "other")
	cache := t.TempDir()
	onOther := func(c *Config) { c.Store, c.CacheDir = testStore(t, srv, "other", 2), cache }
	a := newTestFS(t, srv, onOther)
	h := a.create("big.bin")
	h.writeAll(randData(3<<20, 11), 0)
	if ids := srv.ListMultipartUploadIDs("other"); len(ids) != 1 {
		t.Fatalf("want one streamed upload in progress, have %v", ids)
	}
	recs := engine.ListRecords(cache, engine.StoreID{Endpoint: srv.URL(), Bucket: "other"})
	if len(recs) != 1 || recs[0].Key != "big.bin" || !recs[0].Live {
		t.Fatalf("records: %+v", recs)
	}
	// The mount dies (its lock goes with its process; its records stay).
	a.fs.eng.Staging().Cleanup()

	b := newTestFS(t, srv, func(c *Config) { c.CacheDir = cache })
	<-b.fs.eng.Recovered()
	if ids := srv.ListMultipartUploadIDs("other"); len(ids) != 1 {
		t.Errorf("a mount of bucket test aborted bucket other's upload: %v", ids)
	}
	c := newTestFS(t, srv, onOther)
	<-c.fs.eng.Recovered()
	if ids := srv.ListMultipartUploadIDs("other"); len(ids) != 0 {
		t.Errorf("the next mount of bucket other did not abort its abandoned upload: %v", ids)
	}
	if recs := engine.ListRecords(cache, engine.StoreID{Endpoint: srv.URL(), Bucket: "other"}); len(recs) != 0 {
		t.Errorf("records left: %+v", recs)
	}
}

// Case 5: memory_budget bounds the process. Staging files held in memory
// spill to cache_dir when readers need the memory, read-ahead lives within
// what is left, and pooled buffers stay counted.
func TestMemoryBudgetSharedByWritersAndReaders(t *testing.T) {
	tf := newTestFS(t, nil, func(c *Config) { c.MemoryBudget = 24 << 20; c.PartSize = 4 << 20; c.MaxWindow = 16 << 20 })
	obj := randData(40<<20, 12)
	tf.srv.PutObject("test", "r.bin", obj, nil)
	w := tf.create("w.bin")
	w.writeAll(randData(12<<20, 13), 0) // held in memory (parts sent stay for readers)
	w.writeAll([]byte("x"), 30<<20)
	ws := tf.onlyWriter()
	if ws.StageName() != "" {
		t.Fatalf("the staging file went to disk before any pressure")
	}
	held := tf.fs.eng.Budget().Used()
	r := tf.mustOpen("r.bin", syscall.O_RDONLY)
	for off := int64(0); off < int64(len(obj)); off += 1 << 20 {
		if got := r.mustRead(off, 1<<20); !bytes.Equal(got, obj[off:off+1<<20]) {
			t.Fatalf("read at %d differs", off)
		}
	}
	if ws.StageName() == "" {
		t.Errorf("the writer kept %d MiB of the %d MiB budget in memory while a reader needed it", held>>20, tf.fs.eng.Budget().Limit()>>20)
	}
	if n := tf.srv.Count("GetObject"); n > 40 {
		t.Errorf("%d GETs for a 40 MiB sequential read: read-ahead starved", n)
	}
	if errno := r.close(); errno != 0 {
		t.Fatal(errno)
	}
	if errno := w.close(); errno != 0 {
		t.Fatal(errno)
	}
	if p, l := tf.fs.eng.Budget().Peak(), tf.fs.eng.Budget().Limit(); p > l {
		t.Errorf("budget peak %d over its limit %d", p, l)
	}
	pooled := tf.fs.eng.Bufs().Pooled()
	if used := tf.fs.eng.Budget().Used() - tf.fs.eng.Blocks().Bytes(); used != pooled {
		t.Errorf("with every file closed the budget holds %d bytes, the pool %d: pooled buffers must be counted", used, pooled)
	}
}

// Parts already sent stay readable from the staging file within
// disk_budget; past it the oldest are dropped, and reading them before the
// file is complete fails with ENODATA (never other bytes), as does a write
// into them. The close completes the whole file.
func TestWriteSentPartsBeyondDiskBudget(t *testing.T) {
	tf := newTestFS(t, nil, func(c *Config) { c.DiskBudget, c.UploadConcurrency = 6<<20, 4 }) // more than the 4 parts in flight
	data := randData(12<<20, 14)
	h := tf.create("big.bin")
	h.writeAll(data, 0)
	if _, errno := h.read(0, 4096); errno != syscall.ENODATA {
		t.Errorf("read of a dropped part: %v, want ENODATA", errno)
	}
	if errno := h.write([]byte("late"), 10); errno != syscall.ENODATA {
		t.Errorf("write into a dropped part: %v, want ENODATA", errno)
	}
	if got := h.mustRead(11<<20, 4096); !bytes.Equal(got, data[11<<20:11<<20+4096]) {
		t.Errorf("read of a recent range differs")
	}
	if !strings.Contains(tf.log.String(), "disk_budget reached") {
		t.Errorf("no log line about the dropped parts:\n%s", tf.log.String())
	}
	if errno := h.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if got := tf.object("big.bin"); !bytes.Equal(got, data) {
		t.Errorf("object: %d bytes, want the file written", len(got))
	}
}

// A completion canceled after its tail part was sent, then more writes:
// the short tail grows into a whole part (only the last part may be
// small), and the next close completes the whole file.
func TestWriteCanceledThenMoreWrites(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	data := randData(3<<20+500, 15)
	h := tf.create("grow.bin")
	h.writeAll(data, 0)
	w := tf.onlyWriter()
	w.Lock()
	err := w.FlushLocked(canceled)
	w.Unlock()
	if err != syscall.EINTR {
		t.Fatalf("canceled flush: %v", err)
	}
	more := randData(2<<20, 16)
	h.writeAll(more, int64(len(data)))
	data = append(data, more...)
	if errno := h.close(); errno != 0 {
		t.Fatalf("close: %v\n%s", errno, tf.log.String())
	}
	if got := tf.object("grow.bin"); !bytes.Equal(got, data) {
		t.Errorf("object: %d bytes, want %d", len(got), len(data))
	}
}

package fs

import (
	"bytes"
	"math/rand/v2"
	"syscall"
	"testing"
)

// The reader without FUSE: sequential reads stream with few GETs, random
// reads return the right bytes, and a handle whose object is replaced
// fails with ESTALE instead of mixing versions.
func TestReaderSequentialRandomReplaced(t *testing.T) {
	tf := newTestFS(t, nil, nil)
	obj := randData(20<<20+321, 17)
	tf.srv.PutObject("test", "r.bin", obj, nil)
	h := tf.mustOpen("r.bin", syscall.O_RDONLY)
	tf.srv.ResetCounts()
	var got []byte
	for off := int64(0); off < int64(len(obj)); off += 128 << 10 {
		got = append(got, h.mustRead(off, 128<<10)...)
	}
	if !bytes.Equal(got, obj) {
		t.Fatalf("sequential read: %d bytes, differs", len(got))
	}
	if n := tf.srv.Count("GetObject"); n > 20 {
		t.Errorf("%d GETs for a 20 MiB sequential read in 128 KiB reads: the read-ahead does not grow past 1 MiB", n)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		off := r.Int64N(int64(len(obj)))
		n := 1 + r.IntN(200<<10)
		want := obj[off:min(off+int64(n), int64(len(obj)))]
		if b := h.mustRead(off, n); !bytes.Equal(b, want) {
			t.Fatalf("random read at %d+%d differs", off, n)
		}
	}
	if errno := h.close(); errno != 0 {
		t.Fatal(errno)
	}
	h = tf.mustOpen("r.bin", syscall.O_RDONLY)
	h.mustRead(0, 4096)
	tf.srv.PutObject("test", "r.bin", randData(20<<20, 18), nil)
	if _, errno := h.read(15<<20, 4096); errno != syscall.ESTALE {
		t.Errorf("read after the object was replaced: %v, want ESTALE", errno)
	}
	h.close()
}

package osstest

import (
	"bytes"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ossmount/ossmount/ossapi"
)

func TestCRC64Combine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sizes := range [][]int{{0}, {1}, {0, 5}, {7, 0}, {1, 1}, {3, 100000, 1}, {1 << 20, 1<<20 + 3, 17}, {100, 200, 300, 400}} {
		var all []byte
		var crc uint64
		for _, n := range sizes {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			all = append(all, b...)
			crc = ossapi.CombineCRC64(crc, crc64.Checksum(b, crcTable), int64(n))
		}
		if want := crc64.Checksum(all, crcTable); crc != want {
			t.Errorf("sizes %v: combined %x, want %x", sizes, crc, want)
		}
	}
}

func TestSegReader(t *testing.T) {
	segs := [][]byte{[]byte("abc"), []byte(""), []byte("defgh"), []byte("i")}
	all := []byte("abcdefghi")
	sr := &segReader{segs: segs, size: int64(len(all))}
	for off := 0; off <= len(all)+1; off++ {
		for n := 0; n <= len(all)+1; n++ {
			p := make([]byte, n)
			got, err := sr.ReadAt(p, int64(off))
			want := 0
			if off < len(all) {
				want = min(n, len(all)-off)
			}
			if got != want || !bytes.Equal(p[:got], all[min(off, len(all)):min(off, len(all))+want]) {
				t.Fatalf("ReadAt(%d bytes, %d) = %d %q", n, off, got, p[:got])
			}
			if (got < n || off >= len(all)) != (err == io.EOF) { // as bytes.Reader
				t.Fatalf("ReadAt(%d bytes, %d): err %v with %d bytes", n, off, err, got)
			}
		}
	}
	if b := (blob{segs: segs, size: 9}).flat(); !bytes.Equal(b, all) {
		t.Fatalf("flat = %q", b)
	}
}

package engine

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ossmount/ossmount/cache"
)

// model is what a StageFile must behave like: a plain sparse file.
func checkSame(t *testing.T, s *StageFile, want []byte) {
	t.Helper()
	got := make([]byte, len(want)+10)
	n, err := s.ReadAt(got, 0)
	if n != len(want) || err != io.EOF || !bytes.Equal(got[:n], want) {
		t.Fatalf("ReadAt: %d bytes, %v; content equal=%v", n, err, bytes.Equal(got[:n], want))
	}
}

func TestStageFileMatchesAFile(t *testing.T) {
	for _, budget := range []int64{256 << 20, 3 << 20} { // all in memory; spills part way
		dir := t.TempDir()
		b := cache.NewBudget(budget)
		s := newStageFile(dir, "stage-", b)
		var want []byte
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 300; i++ {
			switch r.IntN(4) {
			case 0, 1: // write somewhere, maybe past the end
				off := r.Int64N(6 << 20)
				p := make([]byte, 1+r.IntN(300<<10))
				for j := range p {
					p[j] = byte(r.Uint32())
				}
				if _, err := s.WriteAt(p, off); err != nil {
					t.Fatal(err)
				}
				if end := off + int64(len(p)); end > int64(len(want)) {
					want = append(want, make([]byte, end-int64(len(want)))...)
				}
				copy(want[off:], p)
			case 2: // truncate shorter or longer
				size := r.Int64N(6 << 20)
				if err := s.Truncate(size); err != nil {
					t.Fatal(err)
				}
				if size < int64(len(want)) {
					want = want[:size]
				} else {
					want = append(want, make([]byte, size-int64(len(want)))...)
				}
			case 3: // punch whole chunks: they read as zeros
				off := r.Int64N(4) * ChunkSize
				s.Punch(off, ChunkSize)
				for j := off; j < min(off+ChunkSize, int64(len(want))); j++ {
					want[j] = 0
				}
			}
			checkSame(t, s, want)
		}
		if budget == 256<<20 && s.Name() != "" {
			t.Errorf("a 6 MiB file spilled to disk with a 256 MiB budget")
		}
		if budget == 3<<20 && s.Name() == "" {
			t.Errorf("a 6 MiB file stayed in memory with a 3 MiB budget")
		}
		if b.Used() > budget {
			t.Errorf("budget overdrawn: %d > %d", b.Used(), budget)
		}
		kept, err := s.Keep(func(tmp string) string { return filepath.Join(dir, "kept-1") })
		if err != nil || kept != filepath.Join(dir, "kept-1") {
			t.Fatalf("Keep: %q %v", kept, err)
		}
		if data, err := os.ReadFile(kept); err != nil || !bytes.Equal(data, want) {
			t.Fatalf("kept file differs: %v", err)
		}
		checkSame(t, s, want) // still usable after Keep
		s.Close()
		if b.Used() != 0 {
			t.Errorf("memory not returned: %d", b.Used())
		}
	}
}

func TestStageFileRemove(t *testing.T) {
	dir := t.TempDir()
	s := newStageFile(dir, "stage-", cache.NewBudget(1<<20))
	s.WriteAt(make([]byte, 2<<20), 0) // more than the budget: on disk
	if s.Name() == "" {
		t.Fatal("expected a spill to disk")
	}
	s.Remove()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("Remove left %d files", len(left))
	}
}

package engine

import (
	"log/slog"
	"testing"

	"github.com/ossmount/ossmount/cache"
)

func newLogger(l *logBuf) *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// The pool reuses buffers of the same size, keeps them charged to the
// budget up to its bound, and gives them back when reclaimed.
func TestBufPool(t *testing.T) {
	b := cache.NewBudget(4 << 20)
	p := newBufPool(b, 2<<20)
	x, y, z := p.Get(1<<20), p.Get(1<<20), p.Get(1<<20)
	if x == nil || y == nil || z == nil || b.Used() != 3<<20 {
		t.Fatalf("three buffers of 1 MiB: used %d", b.Used())
	}
	if p.Get(2<<20) != nil {
		t.Errorf("a buffer beyond the budget was given")
	}
	p.Put(x)
	p.Put(y)
	p.Put(z) // over the pool's bound: released
	if p.Pooled() != 2<<20 || b.Used() != 2<<20 {
		t.Errorf("pooled %d, used %d; want 2 MiB each", p.Pooled(), b.Used())
	}
	if r := p.Get(1 << 20); r == nil || b.Used() != 2<<20 || p.Pooled() != 1<<20 {
		t.Errorf("a pooled buffer was not reused: used %d, pooled %d", b.Used(), p.Pooled())
	}
	p.Put(nil)
	if freed := p.reclaim(4 << 20); freed != 1<<20 || p.Pooled() != 0 || b.Used() != 1<<20 {
		t.Errorf("reclaim freed %d, pooled %d, used %d", freed, p.Pooled(), b.Used())
	}
}

// When the budget runs short the reclaimer frees memory cheapest first:
// pooled buffers, cached blocks, then staging files move to disk (largest
// first, and never one whose lock is held).
func TestReclaimOrder(t *testing.T) {
	srv := newTestServer(t, "test")
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), func(c *Config) { c.Memory = 16 << 20 })
	big, small := e.NewStageFile(), e.NewStageFile()
	if _, err := big.WriteAt(make([]byte, 6<<20), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := small.WriteAt(make([]byte, 2<<20), 0); err != nil {
		t.Fatal(err)
	}
	buf := e.Bufs().Get(1 << 20)
	e.Bufs().Put(buf)
	e.Blocks().Put(cache.BlockKey{Key: "k", ETag: "e", Index: 0}, make([]byte, 1<<20))
	if big.Name() != "" || small.Name() != "" {
		t.Fatal("staging files went to disk with room in the budget")
	}
	rest := 16<<20 - e.Budget().Used() // the budget is then full
	if !e.Budget().TryAcquire(rest) {
		t.Fatal("free memory refused")
	}
	if !e.Budget().TryAcquire(1 << 20) { // the pool gives it
		t.Fatal("the pooled buffer was not reclaimed")
	}
	if e.Bufs().Pooled() != 0 || e.Blocks().Bytes() != 1<<20 || big.Name() != "" {
		t.Errorf("more than the pool was taken: pooled %d, blocks %d, big on disk %v", e.Bufs().Pooled(), e.Blocks().Bytes(), big.Name() != "")
	}
	if !e.Budget().TryAcquire(1 << 20) { // the cached block gives it
		t.Fatal("the cached block was not reclaimed")
	}
	if e.Blocks().Bytes() != 0 || big.Name() != "" {
		t.Errorf("more than the cached block was taken: blocks %d, big on disk %v", e.Blocks().Bytes(), big.Name() != "")
	}
	small.mu.Lock() // busy: never spilled
	ok := e.Budget().TryAcquire(4 << 20)
	small.mu.Unlock()
	if !ok || big.Name() == "" || small.Name() != "" {
		t.Errorf("granted %v; the larger staging file on disk %v, the busy one %v", ok, big.Name() != "", small.Name() != "")
	}
	e.Budget().Release(rest + 6<<20)
	e.CloseStageFile(big, false)
	e.CloseStageFile(small, false)
}

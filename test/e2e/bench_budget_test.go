package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// listingModes are the ways a mount can show a listing: exact attributes
// (a HEAD for what a listing cannot tell, the default) with an empty and
// with a warm attribute store, and fast_listing.
var listingModes = []struct{ name, opt string }{
	{"exact, store empty", "attr_cache_dir=none"},
	{"exact, store warm", ""},
	{"fast_listing", "fast_listing"},
}

// budgetOp is one operation of the request budget: what it may cost and
// how to do it on a mount (setup is not counted, run is).
type budgetOp struct {
	name   string
	budget map[string]int64
	fresh  bool // run on a mount of its own
	setup  func(b *testing.B, m *mount)
	run    func(b *testing.B, m *mount)
}

// BenchmarkOssmountBudget prints the request budget of every operation
// beside what it cost, counted by the server per operation, in each
// listing mode. A request beyond the budget is marked OVER.
func BenchmarkOssmountBudget(b *testing.B) {
	srv := newServer(b)
	for i := 0; i < 10000; i++ {
		srv.PutObject("test", fmt.Sprintf("many/f%05d", i), []byte("x"), nil)
	}
	for i := 0; i < 20; i++ {
		srv.PutObject("test", fmt.Sprintf("listed/f%02d", i), pseudoRandom(100<<10, uint64(i)), nil)
	}
	const bigSize = 64 << 20
	srv.PutObject("test", "big.bin", pseudoRandom(bigSize, 3), nil)
	freeMemory()
	lsl := func(b *testing.B, dir string) {
		if out, err := exec.Command("ls", "-l", dir).CombinedOutput(); err != nil {
			b.Fatalf("ls -l %s: %v %s", dir, err, out)
		}
	}
	var big *os.File
	pread := func(size int) func(b *testing.B, m *mount) {
		return func(b *testing.B, m *mount) {
			buf := make([]byte, size)
			// Not at 0 (a read there starts the sequential stream) and in
			// a part of the file no other read touched.
			off := int64(bigSize/2 + size*3)
			if size == 1<<20 {
				off = bigSize / 4
			}
			if _, err := big.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
	openBig := func(b *testing.B, m *mount) {
		if big != nil {
			return
		}
		f, err := os.Open(m.path("big.bin"))
		if err != nil {
			b.Fatal(err)
		}
		big = f
	}
	ops := []budgetOp{
		{name: "open + read of a file just listed (100 KiB)", budget: map[string]int64{"GetObject": 1},
			setup: func(b *testing.B, m *mount) { lsl(b, m.path("listed")) },
			run: func(b *testing.B, m *mount) {
				if _, err := os.ReadFile(m.path("listed", "f07")); err != nil {
					b.Fatal(err)
				}
			}},
		{name: "stat of a file just listed", budget: map[string]int64{},
			setup: func(b *testing.B, m *mount) { lsl(b, m.path("listed")) },
			run: func(b *testing.B, m *mount) {
				if _, err := os.Stat(m.path("listed", "f11")); err != nil {
					b.Fatal(err)
				}
			}},
		{name: "random read syscall of 128 KiB", budget: map[string]int64{"GetObject": 1}, setup: openBig, run: pread(128 << 10)},
		{name: "random read syscall of 1 MiB", budget: map[string]int64{"GetObject": 1}, setup: openBig, run: pread(1 << 20)},
		{name: "ls -l of 10,000 objects (fresh mount)", budget: map[string]int64{"ListObjectsV2": 11}, fresh: true,
			run: func(b *testing.B, m *mount) { lsl(b, m.path("many")) }},
		{name: "create a 4 KiB file absent from a fresh listing", budget: map[string]int64{"PutObject": 1},
			setup: func(b *testing.B, m *mount) { lsl(b, m.path("listed")) },
			run: func(b *testing.B, m *mount) {
				if err := os.WriteFile(m.path("listed", fmt.Sprintf("new%d", time.Now().UnixNano())), pseudoRandom(4096, 9), 0o644); err != nil {
					b.Fatal(err)
				}
			}},
	}
	// A first mount fills the server's attribute store, as a mount that
	// ran before would have (it keeps HEADs made 2 s or more after an
	// object's Last-Modified).
	time.Sleep(2100 * time.Millisecond)
	warm := startMount(b, srv, "test")
	lsl(b, warm.path("many"))
	lsl(b, warm.path("listed"))
	warm.stop()

	results := make([][]string, len(ops))
	over := 0
	for _, mode := range listingModes {
		shared := startMount(b, srv, "test", mountOpts(mode.opt)...)
		for i, op := range ops {
			m := shared
			if op.fresh {
				m = startMount(b, srv, "test", mountOpts(mode.opt)...)
			}
			if op.setup != nil {
				op.setup(b, m)
			}
			got := countRequests(srv, func() { op.run(b, m) })
			cell := describeCounts(got)
			if extra := beyond(got, op.budget); extra != "" {
				cell += " OVER (" + extra + ")"
				over++
			}
			results[i] = append(results[i], cell)
			if op.fresh {
				m.stop()
			}
		}
		if big != nil {
			big.Close()
			big = nil
		}
		shared.stop()
	}
	fmt.Printf("\nrequest budget (requests counted by the server; %d over budget)\n", over)
	fmt.Printf("%-50s %-18s", "operation", "budget")
	for _, mode := range listingModes {
		fmt.Printf(" | %-46s", mode.name)
	}
	fmt.Println()
	for i, op := range ops {
		fmt.Printf("%-50s %-18s", op.name, describeCounts(op.budget))
		for _, cell := range results[i] {
			fmt.Printf(" | %-46s", cell)
		}
		fmt.Println()
	}
	fmt.Println()
}

// countRequests runs f and returns the requests the server received from
// its start until none has come for 300 ms (what f set going in the
// background counts too).
func countRequests(srv *osstest.Server, f func()) map[string]int64 {
	srv.ResetCounts()
	f()
	last, quiet := total(srv.Counts()), time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && time.Since(quiet) < 300*time.Millisecond; {
		time.Sleep(50 * time.Millisecond)
		if n := total(srv.Counts()); n != last {
			last, quiet = n, time.Now()
		}
	}
	return srv.Counts()
}

// beyond describes the requests in got that budget does not allow, or "".
func beyond(got, budget map[string]int64) string {
	var extra []string
	for op, n := range got {
		if n > budget[op] {
			extra = append(extra, fmt.Sprintf("+%d %s", n-budget[op], op))
		}
	}
	sort.Strings(extra)
	return strings.Join(extra, ", ")
}

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// benchListing adds the listing rows to `make bench`: `ls -l` of 10,000
// objects and `stat` of a listed file, with fast_listing (the listing's
// attributes as they are) and with exact attributes (the default: a HEAD per
// entry not known, none after a remount thanks to the attribute store), for
// objects without and with ossfs metadata. med runs a measure three times
// and returns the median; add appends a row.
func benchListing(b *testing.B, srv *osstest.Server, med func(func(int) float64) float64, add func(name, target, format string, a ...any)) {
	const n = 10000
	mt := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)
	for i := 0; i < n; i++ {
		srv.PutObject("test", fmt.Sprintf("many/f%05d", i), []byte("x"), nil)
		srv.PutObject("test", fmt.Sprintf("meta/f%05d", i), []byte("x"), hdr(ossfsHdr(syscall.S_IFREG|0o640, 1000, 2000, mt)...))
	}
	// The attribute store keeps HEADs made 2 s or more after an object's
	// Last-Modified.
	time.Sleep(2100 * time.Millisecond)

	// requests formats the server's counters since the last reset.
	requests := func() (int64, string) {
		var ops []string
		var total int64
		for op, c := range srv.Counts() {
			ops = append(ops, fmt.Sprintf("%s=%d", op, c))
			total += c
		}
		sort.Strings(ops)
		return total, strings.Join(ops, " ")
	}
	// lsRow measures `ls -l DIR` on a fresh mount with opts; an empty
	// store directory per run unless keepStore (then the runs share one,
	// filled by a first mount).
	lsRow := func(name, target, dir string, keepStore bool, opts ...string) {
		store, err := os.MkdirTemp(binDir, "bench-attrs-")
		if err != nil {
			b.Fatal(err)
		}
		if keepStore {
			m := startMount(b, srv, "test", append(opts, "-o", "attr_cache_dir="+store)...)
			run(b, "ls", "-l", m.path(dir))
			m.stop()
		}
		var worst int64
		var worstOps string
		secs := med(func(int) float64 {
			st := store
			if !keepStore {
				if st, err = os.MkdirTemp(binDir, "bench-attrs-"); err != nil {
					b.Fatal(err)
				}
			}
			m := startMount(b, srv, "test", append(opts, "-o", "attr_cache_dir="+st)...)
			defer m.stop()
			if _, err := os.Stat(m.path(dir)); err != nil {
				b.Fatal(err)
			}
			srv.ResetCounts()
			start := time.Now()
			out, err := exec.Command("ls", "-l", m.path(dir)).Output()
			secs := time.Since(start).Seconds()
			if err != nil || strings.Count(string(out), "\n") != n+1 {
				b.Fatalf("ls -l: %v, %d lines", err, strings.Count(string(out), "\n"))
			}
			if total, ops := requests(); total >= worst {
				worst, worstOps = total, ops
			}
			return secs
		})
		add(name, target, "%.2f s, at most %d requests (%s)", secs, worst, worstOps)
	}
	lsRow("ls -l of 10,000 objects, no ossfs metadata, fast_listing", "<= 1.5 s, <= 12 requests", "many", false, "-o", "fast_listing")
	lsRow("ls -l of 10,000 objects, no ossfs metadata, exact", "(the price of exactness)", "many", false)
	lsRow("ls -l of 10,000 objects with ossfs metadata, exact", "<= 3 s", "meta", false)
	lsRow("  the same after a remount (attribute store)", "<= 12 requests", "meta", true)
	lsRow("  the same, fast_listing (shows file_mode, not 0640)", "(context)", "meta", false, "-o", "fast_listing")

	// stat of a file a listing just showed.
	for _, mode := range []struct {
		name string
		opts []string
	}{{"fast_listing", []string{"-o", "fast_listing"}}, {"exact", nil}} {
		store, _ := os.MkdirTemp(binDir, "bench-attrs-")
		m := startMount(b, srv, "test", append(mode.opts, "-o", "attr_cache_dir="+store)...)
		run(b, "ls", m.path("meta"))
		srv.ResetCounts()
		if _, err := os.Stat(m.path("meta", "f04242")); err != nil {
			b.Fatal(err)
		}
		total, ops := requests()
		m.stop()
		add("stat of a file just listed, "+mode.name, "fast_listing: 0 requests", "%d requests (%s)", total, ops)
	}
}

// BenchmarkListing runs the listing rows alone (`go test -run '^$' -bench
// Listing -benchtime 1x ./test/e2e/`); `make bench` runs them within
// BenchmarkOssmount.
func BenchmarkListing(b *testing.B) {
	srv := newServer(b)
	const runs = 3
	med := func(f func(i int) float64) float64 {
		xs := make([]float64, runs)
		for i := range xs {
			xs[i] = f(i)
		}
		sort.Float64s(xs)
		return xs[runs/2]
	}
	var rows [][3]string
	add := func(name, target, format string, a ...any) {
		rows = append(rows, [3]string{name, fmt.Sprintf(format, a...), target})
	}
	benchListing(b, srv, med, add)
	fmt.Println()
	for _, r := range rows {
		fmt.Printf("%-58s %-70s %s\n", r[0], r[1], r[2])
	}
}

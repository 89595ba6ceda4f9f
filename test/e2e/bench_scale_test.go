package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ossmount/ossmount/metrics"
)

// BenchmarkOssmountScale prints the scale rows: ls -l of 100,000 and of
// 1,000,000 objects in one directory on a fresh mount (fast_listing: with
// exact attributes each entry costs a HEAD, see the request budget), with
// the default memory_budget, medians of three runs:
//   - the wall time of the ls;
//   - ossmount's peak RSS;
//   - RSS per cached entry: what the mount holds once the ls is done and
//     the daemon has settled (RSS stable for 2 s, at most 15 s), less its
//     RSS before, per entry; the RSS at the very end of the ls is shown
//     beside it;
//   - its RSS once the kernel has forgotten the entries
//     (echo 2 > /proc/sys/vm/drop_caches sends a FORGET for every inode):
//     how long until the mount holds no inode or listing of them, and how
//     much of the growth is left when its RSS has come back down (at most
//     90 s).
//
// Each size is a sub-benchmark (-bench 'OssmountScale/100k'); the
// 1,000,000 row's ratio needs the 100,000 row in the same run.
func BenchmarkOssmountScale(b *testing.B) {
	srv := newServer(b)
	t := &benchTable{title: "scale: ls -l of one directory, fresh mount, fast_listing, default memory_budget; medians of 3 runs"}
	var first float64
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			dir := fmt.Sprintf("scale%d", n)
			for i := 0; i < n; i++ {
				srv.PutObject("test", fmt.Sprintf("%s/f%07d", dir, i), []byte("x"), nil)
			}
			freeMemory()
			var runs []scaleRun
			for range 3 {
				r := scaleOnce(b, startMount(b, srv, "test", "-o", "fast_listing"), dir, n)
				runs = append(runs, r)
				fmt.Printf("ls -l of %d objects: %.1f s, %.0f bytes per entry, %.0f%% of the growth left after drop_caches\n",
					n, r.secs, r.perEntry, r.left)
			}
			med := func(get func(scaleRun) float64) float64 {
				xs := make([]float64, len(runs))
				for i, r := range runs {
					xs[i] = get(r)
				}
				sort.Float64s(xs)
				return xs[len(xs)/2]
			}
			name := fmt.Sprintf("ls -l of %s objects", commas(n))
			secs := med(func(r scaleRun) float64 { return r.secs })
			if n == 100_000 {
				first = secs
				t.add(name+": wall time", "", "%.1f s", secs)
			} else if first > 0 {
				t.add(name+": wall time", "<= 12x the 100,000 row", "%.1f s (%.1fx the 100,000 row)", secs, secs/first)
			} else {
				t.add(name+": wall time", "<= 12x the 100,000 row", "%.1f s (the 100,000 row did not run)", secs)
			}
			t.add(name+": ossmount peak RSS", "", "%.0f MiB (before: %.0f MiB)",
				med(func(r scaleRun) float64 { return r.peak })/(1<<20), med(func(r scaleRun) float64 { return r.before })/(1<<20))
			t.add(name+": RSS per cached entry", "<= 600 bytes", "%.0f bytes settled (%.0f at the end of the ls)",
				med(func(r scaleRun) float64 { return r.perEntry }), med(func(r scaleRun) float64 { return r.atEnd }))
			t.add(name+": entries held after drop_caches", "none", "%.0f inodes, %.0f listed entries (after %.1f s)",
				med(func(r scaleRun) float64 { return r.inodesLeft }), med(func(r scaleRun) float64 { return r.listedLeft }),
				med(func(r scaleRun) float64 { return r.forgetSecs }))
			t.add(name+": RSS after drop_caches", "back down", "%.0f MiB, %.0f%% of the growth left (after %.1f s)",
				med(func(r scaleRun) float64 { return r.low })/(1<<20), med(func(r scaleRun) float64 { return r.left }),
				med(func(r scaleRun) float64 { return r.downSecs }))
		})
	}
	t.print()
}

// scaleRun is one ls -l of a scale directory.
type scaleRun struct {
	secs                float64 // wall time of the ls
	before, peak        float64 // RSS before, peak RSS
	perEntry, atEnd     float64 // RSS growth per entry: settled, and at the end of the ls
	inodesHeld          float64 // inodes held once the ls was done
	listedHeld          float64 // listing entries held then
	inodesLeft          float64 // inodes held once the kernel forgot the entries
	listedLeft          float64 // listing entries held then
	forgetSecs          float64 // how long until the mount held none (or the bound)
	low, left, downSecs float64 // RSS after drop_caches, % of the growth left, when
}

// scaleOnce lists dir (n objects) through m, measures, and stops m.
func scaleOnce(b *testing.B, m *mount, dir string, n int) scaleRun {
	defer m.stop()
	pid := m.cmd.Process.Pid
	var r scaleRun
	before := procStatus(pid, "VmRSS")
	r.before = float64(before)
	const bound = 10 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var lines lineCounter
	cmd := exec.CommandContext(ctx, "ls", "-l", m.path(dir))
	cmd.Stdout = &lines
	start := time.Now()
	err := cmd.Run()
	r.secs = time.Since(start).Seconds()
	if err != nil || int(lines) != n+1 {
		b.Fatalf("ls -l of %d objects: %v, %d lines (bound %s)", n, err, lines, bound)
	}
	end := procStatus(pid, "VmRSS")
	r.atEnd = float64(end-before) / float64(n)
	held := settledRSS(pid, 15*time.Second)
	r.peak = float64(procStatus(pid, "VmHWM"))
	r.perEntry = float64(held-before) / float64(n)
	// (The kernel may have forgotten some entries already, and a listing
	// older than its TTL is gone.)
	md := mountMetadata(b, m)
	r.inodesHeld, r.listedHeld = float64(md.Inodes), float64(md.ListedEntries)
	// The kernel forgets the entries.
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
		b.Fatalf("drop_caches: %v", err)
	}
	forgot := time.Now()
	for {
		md = mountMetadata(b, m)
		if md.Inodes+md.ListedEntries == 0 || time.Since(forgot) > 90*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.inodesLeft, r.listedLeft, r.forgetSecs = float64(md.Inodes), float64(md.ListedEntries), time.Since(forgot).Seconds()
	low := held
	for time.Since(forgot) < 90*time.Second {
		low = min(low, procStatus(pid, "VmRSS"))
		if low-before < (held-before)/10 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.low, r.downSecs = float64(low), time.Since(forgot).Seconds()
	r.left = 100 * float64(low-before) / float64(max(held-before, 1))
	return r
}

// settledRSS waits until a process's RSS has not moved by more than 1% for
// 2 s (at most bound) and returns it.
func settledRSS(pid int, bound time.Duration) int64 {
	start := time.Now()
	rss := procStatus(pid, "VmRSS")
	stable := time.Now()
	for time.Since(start) < bound && time.Since(stable) < 2*time.Second {
		time.Sleep(250 * time.Millisecond)
		if cur := procStatus(pid, "VmRSS"); abs64(cur-rss) > rss/100 {
			rss, stable = cur, time.Now()
		}
	}
	return procStatus(pid, "VmRSS")
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// mountMetadata reads what the mount holds of metadata from its
// statistics (user.oss.stats, as root).
func mountMetadata(t testing.TB, m *mount) metrics.Metadata {
	t.Helper()
	buf := make([]byte, 1<<20)
	n, err := unix.Getxattr(m.dir, "user.oss.stats", buf)
	if err != nil {
		t.Fatalf("getxattr user.oss.stats: %v", err)
	}
	var s metrics.Summary
	if err := json.Unmarshal(buf[:n], &s); err != nil {
		t.Fatalf("user.oss.stats: %v", err)
	}
	return s.Metadata
}

// commas writes n with thousands separators.
func commas(n int) string {
	s := strconv.Itoa(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

// lineCounter counts the lines written to it.
type lineCounter int64

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte("\n")))
	return len(p), nil
}

// procStatus returns a memory field of /proc/PID/status (VmRSS, VmHWM) in
// bytes, or -1.
func procStatus(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

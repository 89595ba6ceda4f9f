package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkOssmountScale prints the scale rows: ls -l of 100,000 and of
// 1,000,000 objects in one directory on a fresh mount (fast_listing: with
// exact attributes each entry costs a HEAD, see the request budget), its
// wall time, ossmount's peak RSS and RSS per cached entry, and its RSS once
// the kernel has forgotten the entries (echo 2 > /proc/sys/vm/drop_caches
// sends a FORGET for every inode). The 1,000,000 row runs with the default
// memory_budget, bounded at 4 minutes, and again with memory_budget=2G:
// ossmount sets the Go memory limit at memory_budget plus a margin, and the
// inodes of a million entries do not fit under the default.
func BenchmarkOssmountScale(b *testing.B) {
	srv := newServer(b)
	t := &benchTable{title: "scale: ls -l of one directory, fresh mount, fast_listing; one run each"}
	var first float64
	seeded := map[int]bool{}
	for _, run := range []struct {
		n   int
		opt string
	}{{100_000, ""}, {1_000_000, ""}, {1_000_000, "memory_budget=2G"}} {
		n := run.n
		dir := fmt.Sprintf("scale%d", n)
		if !seeded[n] {
			for i := 0; i < n; i++ {
				srv.PutObject("test", fmt.Sprintf("%s/f%07d", dir, i), []byte("x"), nil)
			}
			seeded[n] = true
			freeMemory()
		}
		opts := "fast_listing"
		name := fmt.Sprintf("ls -l of %d,000 objects", n/1000)
		if n == 1_000_000 {
			name = "ls -l of 1,000,000 objects"
		}
		if run.opt != "" {
			opts += "," + run.opt
			name += ", " + run.opt
		}
		m := startMount(b, srv, "test", "-o", opts)
		pid := m.cmd.Process.Pid
		before := procStatus(pid, "VmRSS")
		const bound = 4 * time.Minute
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		var lines lineCounter
		cmd := exec.CommandContext(ctx, "ls", "-l", m.path(dir))
		cmd.Stdout = &lines
		start := time.Now()
		err := cmd.Run()
		secs := time.Since(start).Seconds()
		timedOut := ctx.Err() != nil
		cancel()
		peak, after := procStatus(pid, "VmHWM"), procStatus(pid, "VmRSS")
		if timedOut {
			t.add(name+": wall time", "", "did not finish in %s: %d entries printed; ossmount at %.0f MiB RSS, busy collecting garbage at the Go memory limit",
				bound, max(int64(lines)-1, 0), float64(after)/(1<<20))
			fmt.Printf("%s: stopped after %s\n", name, bound)
			m.stop()
			continue
		}
		if err != nil || int(lines) != n+1 {
			b.Fatalf("ls -l of %d objects: %v, %d lines", n, err, lines)
		}
		perEntry := float64(after-before) / float64(n)
		// The kernel forgets the entries; ossmount should give their
		// memory back (its runtime returns freed memory within minutes).
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
			b.Fatalf("drop_caches: %v", err)
		}
		forgot := time.Now()
		low := after
		for time.Since(forgot) < 90*time.Second {
			time.Sleep(time.Second)
			low = min(low, procStatus(pid, "VmRSS"))
			if low-before < (after-before)/10 {
				break
			}
		}
		m.stop()
		target := ""
		if first == 0 {
			first = secs
		} else {
			target = "<= 12x the 100,000 row"
		}
		t.add(name+": wall time", target, "%.1f s (%.1fx the 100,000 row)", secs, secs/first)
		t.add(name+": ossmount peak RSS", "", "%.0f MiB (before: %.0f MiB)", float64(peak)/(1<<20), float64(before)/(1<<20))
		t.add(name+": RSS per cached entry", "<= 600 bytes", "%.0f bytes (%.0f MiB more after the listing)", perEntry, float64(after-before)/(1<<20))
		t.add(name+": RSS after drop_caches", "back down", "%.0f MiB after %.0f s (%.0f%% of the growth left)",
			float64(low)/(1<<20), time.Since(forgot).Seconds(), 100*float64(low-before)/float64(max(after-before, 1)))
		fmt.Printf("%s: %.1f s\n", name, secs)
	}
	t.print()
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

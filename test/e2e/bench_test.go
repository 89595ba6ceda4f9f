package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// BenchmarkOssmount is `make bench`: every figure is measured against one
// emulator in the same run and printed as one table, with ratios to the raw
// client. It runs once (-benchtime 1x).
func BenchmarkOssmount(b *testing.B) {
	srv := newServer(b)
	const size = 1 << 30
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(7, 9))
	for i := 0; i+8 <= len(data); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	if err := srv.PutObject("test", "big/1g.bin", data, nil); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10000; i++ {
		srv.PutObject("test", fmt.Sprintf("many/f%05d", i), []byte("x"), nil)
	}
	client, err := ossapi.New(ossapi.Config{Bucket: "test", Region: testRegion, Endpoint: srv.URL(),
		Credentials: ossapi.StaticCredentials{AccessKeyID: testAK, AccessKeySecret: testSK}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	type row struct{ name, value, target string }
	var rows []row

	// The limit: parallel ranged GETs with the raw client.
	rawMBs := rawParallelRead(b, client, "big/1g.bin", size)
	rows = append(rows, row{"raw parallel ranged GET, 1 GiB", fmt.Sprintf("%.0f MiB/s", rawMBs), "(the limit)"})

	// Sequential read through a fresh mount, with peak RSS.
	m := startMount(b, srv, "test")
	pid := m.cmd.Process.Pid
	start := time.Now()
	n, sum := readSequential(b, m.path("big", "1g.bin"), 128<<10)
	secs := time.Since(start).Seconds()
	if n != size || sum != checksum(data) {
		b.Fatalf("sequential read returned %d bytes, checksum mismatch=%v", n, sum != checksum(data))
	}
	seqMBs := float64(size) / (1 << 20) / secs
	rows = append(rows, row{"sequential read via mount (cold, 128 KiB reads)", fmt.Sprintf("%.0f MiB/s = %.2fx limit", seqMBs, seqMBs/rawMBs), ">= 0.8x"})
	rss := peakRSS(pid)
	rows = append(rows, row{"ossmount peak RSS during the sequential read", fmt.Sprintf("%.0f MiB", float64(rss)/(1<<20)), "<= 300 MiB"})

	// Random 4 KiB reads: raw GETs vs through the mount.
	const dur = 5 * time.Second
	rawOps := random4k(dur, func(off int64, buf []byte) error {
		res, err := client.GetRange(ctx, ossapi.GetRequest{Key: "big/1g.bin", Offset: off, Length: int64(len(buf))})
		if err != nil {
			return err
		}
		_, err = io.ReadFull(res.Body, buf)
		res.Body.Close()
		return err
	}, size)
	f, err := os.Open(m.path("big", "1g.bin"))
	if err != nil {
		b.Fatal(err)
	}
	mntOps := random4k(dur, func(off int64, buf []byte) error {
		_, err := f.ReadAt(buf, off)
		if err == nil && !bytes.Equal(buf, data[off:off+int64(len(buf))]) {
			return fmt.Errorf("content differs at %d", off)
		}
		return err
	}, size)
	f.Close()
	rows = append(rows, row{"random 4 KiB reads, raw GET", fmt.Sprintf("%.0f reads/s", rawOps), ""})
	rows = append(rows, row{"random 4 KiB reads via mount", fmt.Sprintf("%.0f reads/s = %.2fx raw", mntOps, mntOps/rawOps), ">= 0.7x"})
	m.stop()

	// ls -l of 10,000 objects on a fresh mount.
	m2 := startMount(b, srv, "test")
	srv.ResetCounts()
	start = time.Now()
	out, err := exec.Command("ls", "-l", m2.path("many")).Output()
	lsSecs := time.Since(start).Seconds()
	if err != nil || strings.Count(string(out), "\n") != 10001 {
		b.Fatalf("ls -l: %v, %d lines", err, strings.Count(string(out), "\n"))
	}
	counts := srv.Counts()
	var ops []string
	var total int64
	for op, c := range counts {
		if c > 0 {
			ops = append(ops, fmt.Sprintf("%s=%d", op, c))
			total += c
		}
	}
	sort.Strings(ops)
	rows = append(rows, row{"ls -l of 10,000 objects (fresh mount)", fmt.Sprintf("%.2f s, %d requests (%s)", lsSecs, total, strings.Join(ops, " ")), "<= 1.5 s, <= 12 requests"})
	m2.stop()

	fmt.Println()
	fmt.Printf("%-52s %-55s %s\n", "measure", "result", "target")
	for _, r := range rows {
		fmt.Printf("%-52s %-55s %s\n", r.name, r.value, r.target)
	}
	fmt.Println()
}

func checksum(b []byte) uint64 {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(b); i += 4096 {
		h = (h ^ uint64(b[i])) * 1099511628211
	}
	return h
}

// readSequential reads a file with bufSize reads and returns its size and
// checksum (same sampling as checksum).
func readSequential(b testing.TB, path string, bufSize int) (int, uint64) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	all := make([]byte, 0, 1<<30)
	buf := make([]byte, bufSize)
	for {
		n, err := f.Read(buf)
		all = append(all, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return len(all), checksum(all)
}

func rawParallelRead(b testing.TB, c ossapi.ObjectStore, key string, size int64) float64 {
	const part, workers = 8 << 20, 8
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, part)
			for {
				off := next.Add(part) - part
				if off >= size {
					return
				}
				res, err := c.GetRange(context.Background(), ossapi.GetRequest{Key: key, Offset: off, Length: min(part, size-off)})
				if err != nil {
					b.Error(err)
					return
				}
				io.ReadFull(res.Body, buf[:min(part, size-off)])
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	return float64(size) / (1 << 20) / time.Since(start).Seconds()
}

func random4k(d time.Duration, read func(off int64, buf []byte) error, size int64) float64 {
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 4096)
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		off := r.Int64N(size/4096) * 4096
		if err := read(off, buf); err != nil {
			fmt.Println("random read:", err)
			return 0
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

// peakRSS is a process's peak resident set (VmHWM) in bytes.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

var _ = osstest.Fault{}

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// BenchmarkOssmount is `make bench`: every figure is measured against one
// emulator in the same run and printed as one table, with ratios to the raw
// ossapi client. It runs once (-benchtime 1x).
//
// All I/O through the mount is done by child processes (this test binary
// re-run in a helper mode, or ls): a process that both serves OSS and blocks
// in read(2) on the mount would measure the Go scheduler, not ossmount.
func BenchmarkOssmount(b *testing.B) {
	srv := newServer(b)
	const size = 1 << 30
	// Only checksums stay in this process: it hosts the emulator, and a
	// few GiB of test data in its heap slow the emulator down unevenly.
	data := pseudoRandom(size, 7)
	wantSum, wantFirst := checksum(data), strconv.FormatUint(checksum(data[:1<<20]), 10)
	wantCRC64 := crc64.Checksum(data, crc64.MakeTable(crc64.ECMA))
	data = nil
	freeMemory()
	type row struct{ name, value, target string }
	var rows []row
	add := func(name, target, format string, a ...any) {
		rows = append(rows, row{name, fmt.Sprintf(format, a...), target})
	}

	// The raw client runs in a child process too, as ossmount does, so both
	// sides pay the same process boundary to the server.
	raw := func(mode string, args ...string) float64 {
		out := child(b, mode, append([]string{srv.URL()}, args...)...)
		v, _ := strconv.ParseFloat(out[0], 64)
		return v
	}
	// Every figure is the median of three runs (the raw ones too): this
	// machine's throughput wanders from run to run.
	const runs = 3
	med := func(f func(i int) float64) float64 {
		xs := make([]float64, runs)
		for i := range xs {
			xs[i] = f(i)
		}
		sort.Float64s(xs)
		return xs[runs/2]
	}
	// medPair alternates raw and mount runs (raw first) so both meet the
	// server and the machine in the same state, and returns both medians.
	medPair := func(rawRun, mntRun func(i int) float64) (float64, float64) {
		var raws []float64
		m := med(func(i int) float64 {
			raws = append(raws, rawRun(i))
			return mntRun(i)
		})
		sort.Float64s(raws)
		return raws[len(raws)/2], m
	}
	var peak int64
	notePeak := func(m *mount) {
		peak = max(peak, peakRSS(m.cmd.Process.Pid))
	}

	// The object the reads use, uploaded by the raw client.
	raw("rawupload", "big/1g.bin", strconv.Itoa(size))
	stored(b, srv, "big/1g.bin", size, wantCRC64)
	freeMemory()

	// Sequential read through a fresh mount (cold), with peak RSS, against
	// the read limit: parallel ranged GETs.
	rawDown, seq := medPair(func(int) float64 { return raw("rawread", "big/1g.bin", strconv.Itoa(size)) }, func(int) float64 {
		m := startMount(b, srv, "test")
		defer m.stop()
		out := child(b, "seqread", m.path("big", "1g.bin"))
		n, _ := strconv.ParseInt(out[0], 10, 64)
		if n != size || out[1] != strconv.FormatUint(wantSum, 10) {
			b.Fatalf("sequential read returned %d bytes, checksum %s want %d", n, out[1], wantSum)
		}
		notePeak(m)
		secs, _ := strconv.ParseFloat(out[2], 64)
		return float64(size) / (1 << 20) / secs
	})
	add("raw parallel ranged GET, 1 GiB (8 x 8 MiB)", "(the limit)", "%.0f MiB/s", rawDown)
	ceiling := med(func(int) float64 { return fuseCeiling(b, size) })
	add("sequential read via mount (cold, 128 KiB reads)", ">= 0.8x", "%.0f MiB/s = %.2fx limit", seq, seq/rawDown)
	// A mount pays for both the GETs and FUSE; where they share the CPU
	// their costs add, which bounds it at 1/(1/limit + 1/FUSE).
	bound := 1 / (1/rawDown + 1/ceiling)
	add("  FUSE alone: go-fuse file served from memory (cold)", "(context)", "%.0f MiB/s", ceiling)
	add("  GETs and FUSE on one CPU: 1/(1/limit + 1/FUSE)", "(context)", "%.0f MiB/s = %.2fx limit; the mount = %.2fx of it", bound, bound/rawDown, seq/bound)
	add("ossmount peak RSS during the sequential reads", "<= 300 MiB", "%.0f MiB", float64(peak)/(1<<20))

	// Random 4 KiB reads: raw GETs vs a fresh mount with the page cache
	// dropped for the file and kernel read-ahead off (FADV_RANDOM).
	const dur = 5 * time.Second
	rawRand, mntRand := medPair(func(int) float64 {
		return raw("rawrand", "big/1g.bin", strconv.Itoa(size), dur.String(), wantFirst)
	}, func(int) float64 {
		m := startMount(b, srv, "test")
		defer m.stop()
		out := child(b, "randread", m.path("big", "1g.bin"), strconv.Itoa(size), dur.String(), wantFirst)
		v, _ := strconv.ParseFloat(out[0], 64)
		return v
	})
	add("random 4 KiB reads, raw GET", "", "%.0f reads/s", rawRand)
	add("random 4 KiB reads via mount (cold, FADV_RANDOM)", ">= 0.7x", "%.0f reads/s = %.2fx raw", mntRand, mntRand/rawRand)

	// Sequential write of 1 GiB (dd-like, 1 MiB writes, close included)
	// against the write limit, a raw multipart upload with 8 parts of
	// 8 MiB in flight. Each object is deleted once checked, so every run
	// meets the server in the same state.
	writtenCRC64 := crc64.Checksum(pseudoRandom(size, 11), crc64.MakeTable(crc64.ECMA))
	freeMemory()
	peak = 0
	rawUp, wr := medPair(func(int) float64 {
		v := raw("rawupload", "rawup.bin", strconv.Itoa(size))
		stored(b, srv, "rawup.bin", size, wantCRC64)
		srv.DeleteObject("test", "rawup.bin")
		freeMemory()
		return v
	}, func(int) float64 {
		m := startMount(b, srv, "test")
		defer m.stop()
		out := child(b, "seqwrite", m.path("written.bin"), strconv.Itoa(size))
		notePeak(m)
		secs, _ := strconv.ParseFloat(out[0], 64)
		stored(b, srv, "written.bin", size, writtenCRC64)
		srv.DeleteObject("test", "written.bin")
		freeMemory()
		return float64(size) / (1 << 20) / secs
	})
	add("raw multipart upload, 1 GiB (8 x 8 MiB parts)", "(the limit)", "%.0f MiB/s", rawUp)
	add("sequential write via mount, 1 GiB (1 MiB writes + close)", ">= 0.7x", "%.0f MiB/s = %.2fx raw upload", wr, wr/rawUp)
	add("ossmount peak RSS during the 1 GiB writes", "<= 300 MiB", "%.0f MiB", float64(peak)/(1<<20))

	// 1,000 small files: raw PUTs/s vs create+write+close/s.
	rawPuts, mntPuts := medPair(func(int) float64 { return raw("rawput", "1000") }, func(i int) float64 {
		m := startMount(b, srv, "test")
		defer m.stop()
		dir := fmt.Sprintf("small%d", i)
		if err := os.Mkdir(m.path(dir), 0o755); err != nil {
			b.Fatal(err)
		}
		out := child(b, "small", m.path(dir), "1000")
		secs, _ := strconv.ParseFloat(out[0], 64)
		n := 0
		for _, k := range srv.Keys("test") {
			if strings.HasPrefix(k, dir+"/f") {
				n++
			}
		}
		if n != 1000 {
			b.Fatalf("%d files under %s/ on the server after the small-file writes", n, dir)
		}
		return 1000 / secs
	})
	add("1,000 x 4 KiB files, raw PUT", "", "%.0f files/s", rawPuts)
	add("1,000 x 4 KiB files via mount (create, write, close)", ">= 0.7x", "%.0f files/s = %.2fx raw", mntPuts, mntPuts/rawPuts)

	// ls -l of 10,000 objects: fast_listing and exact attributes
	// (bench_listing_test.go).
	benchListing(b, srv, med, add)

	fmt.Println()
	fmt.Printf("%-58s %-58s %s\n", "measure", "result", "target")
	for _, r := range rows {
		fmt.Printf("%-58s %-58s %s\n", r.name, r.value, r.target)
	}
	fmt.Println()
}

// stored checks an object's size and CRC-64 (the server's, computed from
// the bytes it received) without copying its data into this process, which
// hosts the server.
func stored(b testing.TB, srv *osstest.Server, key string, size int64, crc uint64) {
	b.Helper()
	h, n, err := srv.StatObject("test", key)
	if err != nil || n != size || h.Get("x-oss-hash-crc64ecma") != strconv.FormatUint(crc, 10) {
		b.Fatalf("%s on the server: %d bytes, CRC-64 %s, %v; want %d bytes, CRC-64 %d", key, n, h.Get("x-oss-hash-crc64ecma"), err, size, crc)
	}
}

// freeMemory returns dropped test data to the OS.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// pseudoRandom returns n reproducible incompressible bytes.
func pseudoRandom(n int, seed uint64) []byte {
	data := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed+2))
	for i := 0; i+8 <= len(data); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	return data
}

// crcTable is CRC-32C, which the CPU computes: checking 1 GiB must not
// cost more than reading it.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint64 { return uint64(crc32.Checksum(b, crcTable)) }

// benchChildEnv selects the helper mode of the test binary.
const benchChildEnv = "OSSMOUNT_BENCH_CHILD"

// child runs this test binary in a helper mode and returns the fields of
// its one line of output.
func child(b testing.TB, mode string, args ...string) []string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), benchChildEnv+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("bench child %s: %v\n%s%s", mode, err, out, stderr.String())
	}
	return strings.Fields(string(out))
}

// benchChild is the helper mode: it does one measured job on the mount
// and prints its result on one line.
func benchChild(mode string, args []string) error {
	switch mode {
	case "seqread": // PATH -> bytes checksum seconds
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		// 128 KiB reads, checksummed as they come.
		buf := make([]byte, 128<<10)
		sum := crc32.New(crcTable)
		total := 0
		start := time.Now()
		for {
			n, err := f.Read(buf)
			sum.Write(buf[:n])
			total += n
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		secs := time.Since(start).Seconds()
		fmt.Println(total, uint64(sum.Sum32()), secs)
	case "randread": // PATH SIZE DURATION CHECKSUM-OF-FIRST-MiB -> reads/s
		size, _ := strconv.ParseInt(args[1], 10, 64)
		dur, _ := time.ParseDuration(args[2])
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
		r := rand.New(rand.NewPCG(5, 6))
		buf := make([]byte, 4096)
		start := time.Now()
		n := 0
		for time.Since(start) < dur {
			if _, err := f.ReadAt(buf, r.Int64N(size/4096)*4096); err != nil {
				return err
			}
			n++
		}
		rate := float64(n) / time.Since(start).Seconds()
		first := make([]byte, 1<<20)
		if _, err := f.ReadAt(first, 0); err != nil {
			return err
		}
		if strconv.FormatUint(checksum(first), 10) != args[3] {
			return fmt.Errorf("the first MiB read through the mount differs")
		}
		fmt.Println(rate)
	case "seqwrite": // PATH SIZE -> seconds
		size, _ := strconv.Atoi(args[1])
		data := pseudoRandom(size, 11)
		start := time.Now()
		f, err := os.Create(args[0])
		if err != nil {
			return err
		}
		for off := 0; off < size; off += 1 << 20 {
			if _, err := f.Write(data[off:min(off+1<<20, size)]); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Println(time.Since(start).Seconds())
	case "mixed": // DIR READERS WRITERS SIZE -> seconds: concurrent sequential readers and writers
		nr, _ := strconv.Atoi(args[1])
		nw, _ := strconv.Atoi(args[2])
		size, _ := strconv.Atoi(args[3])
		start := time.Now()
		errs := make(chan error, nr+nw)
		for i := range nr {
			go func() {
				want := checksum(pseudoRandom(size, uint64(100+i)))
				f, err := os.Open(fmt.Sprintf("%s/r%02d.bin", args[0], i))
				if err != nil {
					errs <- err
					return
				}
				defer f.Close()
				sum := crc32.New(crcTable)
				n, err := io.CopyBuffer(sum, f, make([]byte, 128<<10))
				if err == nil && (n != int64(size) || uint64(sum.Sum32()) != want) {
					err = fmt.Errorf("reader %d: %d bytes, checksum differs", i, n)
				}
				errs <- err
			}()
		}
		for i := range nw {
			go func() {
				data := pseudoRandom(size, uint64(200+i))
				f, err := os.Create(fmt.Sprintf("%s/w%02d.bin", args[0], i))
				if err != nil {
					errs <- err
					return
				}
				for off := 0; off < size && err == nil; off += 1 << 20 {
					_, err = f.Write(data[off:min(off+1<<20, size)])
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				errs <- err
			}()
		}
		for range nr + nw {
			if err := <-errs; err != nil {
				return err
			}
		}
		fmt.Println(time.Since(start).Seconds())
	case "small": // DIR N -> seconds
		n, _ := strconv.Atoi(args[1])
		data := pseudoRandom(4096, 13)
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := os.WriteFile(fmt.Sprintf("%s/f%04d", args[0], i), data, 0o644); err != nil {
				return err
			}
		}
		fmt.Println(time.Since(start).Seconds())
	case "memfs": // DIR SIZE: serve the memory file system (ceiling_test.go)
		size, _ := strconv.ParseInt(args[1], 10, 64)
		return serveMemFS(args[0], size)
	case "rawupload": // URL KEY SIZE -> MiB/s
		size, _ := strconv.Atoi(args[2])
		fmt.Println(rawMultipartUpload(rawClient(args[0]), args[1], pseudoRandom(size, 7)))
	case "rawread": // URL KEY SIZE -> MiB/s
		size, _ := strconv.ParseInt(args[2], 10, 64)
		fmt.Println(rawParallelRead(rawClient(args[0]), args[1], size))
	case "rawrand": // URL KEY SIZE DURATION CHECKSUM-OF-FIRST-MiB -> reads/s
		c := rawClient(args[0])
		size, _ := strconv.ParseInt(args[2], 10, 64)
		dur, _ := time.ParseDuration(args[3])
		r := rand.New(rand.NewPCG(5, 6))
		buf := make([]byte, 4096)
		start := time.Now()
		n := 0
		for time.Since(start) < dur {
			res, err := c.GetRange(context.Background(), ossapi.GetRequest{Key: args[1], Offset: r.Int64N(size/4096) * 4096, Length: 4096})
			if err != nil {
				return err
			}
			if _, err := io.ReadFull(res.Body, buf); err != nil {
				return err
			}
			res.Body.Close()
			n++
		}
		rate := float64(n) / time.Since(start).Seconds()
		res, err := c.GetRange(context.Background(), ossapi.GetRequest{Key: args[1], Offset: 0, Length: 1 << 20})
		if err != nil {
			return err
		}
		first, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strconv.FormatUint(checksum(first), 10) != args[4] {
			return fmt.Errorf("the first MiB read raw differs")
		}
		fmt.Println(rate)
	case "rawput": // URL N -> PUTs/s
		c := rawClient(args[0])
		n, _ := strconv.Atoi(args[1])
		data := pseudoRandom(4096, 13)
		start := time.Now()
		for i := 0; i < n; i++ {
			if _, err := c.Put(context.Background(), ossapi.PutRequest{Key: fmt.Sprintf("rawsmall/f%04d", i), Body: bytes.NewReader(data), Size: 4096}); err != nil {
				return err
			}
		}
		fmt.Println(float64(n) / time.Since(start).Seconds())
	default:
		return fmt.Errorf("unknown bench child mode %q", mode)
	}
	return nil
}

// rawClient is the plain ossapi client the raw figures are measured with.
func rawClient(endpoint string) *ossapi.Client {
	c, err := ossapi.New(ossapi.Config{Bucket: "test", Region: testRegion, Endpoint: endpoint,
		Credentials: ossapi.StaticCredentials{AccessKeyID: testAK, AccessKeySecret: testSK}})
	if err != nil {
		panic(err)
	}
	return c
}

func rawMultipartUpload(c ossapi.ObjectStore, key string, data []byte) float64 {
	ctx := context.Background()
	const part, workers = 8 << 20, 8
	start := time.Now()
	id, err := c.InitiateMultipart(ctx, ossapi.InitiateRequest{Key: key})
	if err != nil {
		panic(err)
	}
	n := (len(data) + part - 1) / part
	parts := make([]ossapi.Part, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				chunk := data[i*part : min((i+1)*part, len(data))]
				p, err := c.UploadPart(ctx, ossapi.UploadPartRequest{Key: key, UploadID: id, PartNumber: i + 1, Body: bytes.NewReader(chunk), Size: int64(len(chunk))})
				if err != nil {
					panic(err)
				}
				parts[i] = *p
			}
		}()
	}
	wg.Wait()
	if _, err := c.CompleteMultipart(ctx, ossapi.CompleteRequest{Key: key, UploadID: id, Parts: parts}); err != nil {
		panic(err)
	}
	return float64(len(data)) / (1 << 20) / time.Since(start).Seconds()
}

func rawParallelRead(c ossapi.ObjectStore, key string, size int64) float64 {
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
					panic(err)
				}
				io.ReadFull(res.Body, buf[:min(part, size-off)])
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	return float64(size) / (1 << 20) / time.Since(start).Seconds()
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

// BenchmarkOssmountMixedRSS is the row "peak RSS, 24 readers + 12 writers,
// budget 128M": one mount with memory_budget=128M serves 24 sequential
// readers and 12 sequential writers of 40 MiB files at once (from a child
// process); the mount's peak RSS must stay within the budget + 64 MiB.
func BenchmarkOssmountMixedRSS(b *testing.B) {
	const readers, writers, size = 24, 12, 40 << 20
	srv := newServer(b)
	for i := range readers {
		srv.PutObject("test", fmt.Sprintf("mixed/r%02d.bin", i), pseudoRandom(size, uint64(100+i)), nil)
	}
	freeMemory()
	m := startMount(b, srv, "test", "-o", "memory_budget=128M")
	defer m.stop()
	out := child(b, "mixed", m.path("mixed"), strconv.Itoa(readers), strconv.Itoa(writers), strconv.Itoa(size))
	peak := peakRSS(m.cmd.Process.Pid)
	for i := range writers {
		stored(b, srv, fmt.Sprintf("mixed/w%02d.bin", i), size, crc64.Checksum(pseudoRandom(size, uint64(200+i)), crc64.MakeTable(crc64.ECMA)))
	}
	fmt.Printf("\n%-58s %-58s %s\n", "measure", "result", "target")
	fmt.Printf("%-58s %-58s %s\n\n", "peak RSS, 24 readers + 12 writers, budget 128M",
		fmt.Sprintf("%.0f MiB (%s s)", float64(peak)/(1<<20), out[0]), "<= 192 MiB")
}

// BenchmarkOssmountDataCache measures the persistent data cache
// (-o data_cache) on a 1 GiB object, medians of three runs:
//   - the first (filling) read against the same read with the cache off;
//   - the warm read after a remount (FUSE passthrough, the cache file cold
//     in the page cache) against reading the cache file itself from local
//     disk, cold too, and against the uncached mount; with the requests
//     the warm read made (no GET; the open's HEAD).
func BenchmarkOssmountDataCache(b *testing.B) {
	srv := newServer(b)
	const size = 1 << 30
	data := pseudoRandom(size, 7)
	wantSum := strconv.FormatUint(checksum(data), 10)
	wantCRC64 := crc64.Checksum(data, crc64.MakeTable(crc64.ECMA))
	data = nil
	freeMemory()
	child(b, "rawupload", srv.URL(), "dc/1g.bin", strconv.Itoa(size))
	stored(b, srv, "dc/1g.bin", size, wantCRC64)
	freeMemory()

	const runs = 3
	median := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	read := func(path string) float64 {
		out := child(b, "seqread", path)
		if out[0] != strconv.Itoa(size) || out[1] != wantSum {
			b.Fatalf("read of %s: %s bytes, checksum %s", path, out[0], out[1])
		}
		secs, _ := strconv.ParseFloat(out[2], 64)
		return float64(size) / (1 << 20) / secs
	}
	dropFile := func(path string) {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
	}
	// First reads: cache off and filling, alternated.
	var off, filling []float64
	var dir string
	for i := 0; i < runs; i++ {
		m := startMount(b, srv, "test")
		off = append(off, read(m.path("dc", "1g.bin")))
		m.stop()
		dir = filepath.Join(b.TempDir(), "dc")
		m = startMount(b, srv, "test", "-o", "data_cache="+dir)
		filling = append(filling, read(m.path("dc", "1g.bin")))
		waitSealed(b, m.path("dc", "1g.bin"), size)
		m.stop()
		freeMemory()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "objects", "*", "*.data"))
	if len(files) != 1 {
		b.Fatalf("cache files: %v", files)
	}
	// Warm reads after a remount, and the cache file read directly, both
	// with the cache file's pages dropped first.
	var warm, direct []float64
	var gets, heads int64
	pt := false
	for i := 0; i < runs; i++ {
		m := startMount(b, srv, "test", "-o", "data_cache="+dir)
		pt = m.waitLog("FUSE passthrough on", 10*time.Second)
		if _, err := os.Stat(m.path("dc", "1g.bin")); err != nil {
			b.Fatal(err)
		}
		srv.ResetCounts()
		dropFile(files[0])
		warm = append(warm, read(m.path("dc", "1g.bin")))
		gets = max(gets, srv.Count("GetObject"))
		heads = max(heads, srv.Count("HeadObject"))
		m.stop()
		dropFile(files[0])
		direct = append(direct, read(files[0]))
	}
	offM, fillM, warmM, directM := median(off), median(filling), median(warm), median(direct)
	fmt.Println()
	fmt.Printf("%-66s %-44s %s\n", "measure (1 GiB, medians of 3)", "result", "target")
	fmt.Printf("%-66s %-44s %s\n", "uncached mount, sequential read (cold)", fmt.Sprintf("%.0f MiB/s", offM), "(base)")
	fmt.Printf("%-66s %-44s %s\n", "first read with data_cache (fills it)", fmt.Sprintf("%.0f MiB/s = %.2fx uncached", fillM, fillM/offM), ">= 0.9x")
	fmt.Printf("%-66s %-44s %s\n", "cache file read directly from disk (cold)", fmt.Sprintf("%.0f MiB/s", directM), "(the limit)")
	fmt.Printf("%-66s %-44s %s\n", fmt.Sprintf("warm read after remount (passthrough %v, cold)", pt),
		fmt.Sprintf("%.0f MiB/s = %.2fx direct, %.2fx uncached", warmM, warmM/directM, warmM/offM), ">= 0.8x direct, >= 2x uncached")
	fmt.Printf("%-66s %-44s %s\n", "requests of the warm read after remount (open included)", fmt.Sprintf("%d GET, %d HEAD", gets, heads), "0 GET, <= 1 HEAD")
	fmt.Println()
}

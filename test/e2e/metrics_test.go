package e2e

// Observability: -o metrics serves Prometheus metrics that count exactly
// what the mount did (checked against the requests the emulator counted),
// promtool accepts the scrape, `ossmount stats` shows the same numbers to
// the mount's owner and refuses other users, and a metrics address other
// than loopback is refused.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ossmount/ossmount/metrics"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// metricsURL is where the mount serves its metrics (it was given port 0,
// so the port is the one it logged: no race for a free port).
func metricsURL(t *testing.T, m *mount) string {
	t.Helper()
	if !m.waitLog("serving metrics", 30*time.Second) {
		t.Fatalf("the mount never logged its metrics address\n%s", m.log.String())
	}
	u := regexp.MustCompile(`url=(http://127\.0\.0\.1:[0-9]+/metrics)`).FindStringSubmatch(m.log.String())
	if u == nil {
		t.Fatalf("no metrics URL in the log\n%s", m.log.String())
	}
	return u[1]
}

// scrape is one parsed scrape, with its text.
type scrape struct {
	text string
	fams map[string]*dto.MetricFamily
}

func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	return scrape{text: string(body), fams: fams}
}

// value sums the samples of metric name whose labels include the pairs
// given (a histogram gives its count).
func (s scrape) value(name string, labelPairs ...string) float64 {
	var sum float64
	mf := s.fams[name]
	if mf == nil {
		return 0
	}
next:
	for _, m := range mf.GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labelPairs); i += 2 {
			if l[labelPairs[i]] != labelPairs[i+1] {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return sum
}

// labelValues lists the values label takes in metric name.
func (s scrape) labelValues(name, label string) []string {
	var out []string
	if mf := s.fams[name]; mf != nil {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					out = append(out, lp.GetValue())
				}
			}
		}
	}
	return out
}

// settledScrape returns a scrape and the emulator's counts taken while no
// request is under way (a RELEASE the kernel sends after close, or a
// background request, would otherwise be counted on one side only).
func settledScrape(t *testing.T, url string, srv *osstest.Server) (scrape, map[string]int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := scrapeMetrics(t, url)
		counts := srv.Counts()
		b := scrapeMetrics(t, url)
		idle := a.value("ossmount_oss_requests_in_flight") == 0 && b.value("ossmount_oss_requests_in_flight") == 0 &&
			b.value("ossmount_fuse_requests_in_flight") == 0
		var total int64
		for _, n := range counts {
			total += n
		}
		counted := b.value("ossmount_oss_requests_total") + b.value("ossmount_oss_retries_total")
		if idle && a.value("ossmount_oss_requests_total") == b.value("ossmount_oss_requests_total") && counted == float64(total) {
			return b, counts
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mount's requests never settled: the server counted %v, the mount %v\n%s", counts, counted, b.text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsCountTheIO: one listing, one read and one write, with one
// injected 503 on the read's GET; every OSS counter moves by exactly what
// the emulator received, and the FUSE, upload and read-ahead counters by
// what the I/O implies.
func TestMetricsCountTheIO(t *testing.T) {
	srv := newServer(t)
	readData := randBytes(100 << 10) // under first_read_size: one GET
	if err := srv.PutObject("test", "dir/r.bin", readData, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.PutObject("test", "dir/other.txt", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	m := startMount(t, srv, "test", "-o", "metrics=127.0.0.1:0")
	url := metricsURL(t, m)

	before, serverBefore := settledScrape(t, url, srv)
	if v := before.value("ossmount_oss_requests_total", "operation", "GetBucketInfo", "outcome", "ok"); v != 1 {
		t.Errorf("the mount's probe: GetBucketInfo ok = %v, want 1", v)
	}

	// The I/O: list a directory, read one file (its GET fails once with
	// 503 and is retried), write one.
	entries, err := os.ReadDir(m.path("dir"))
	if err != nil || len(entries) != 2 {
		t.Fatalf("ReadDir: %v %v", entries, err)
	}
	srv.AddFault(osstest.Fault{Op: "GetObject", Nth: 1, Status: 503, Code: "ServiceUnavailable"})
	got, err := os.ReadFile(m.path("dir", "r.bin"))
	if err != nil || !bytes.Equal(got, readData) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	srv.ClearFaults()
	writeData := randBytes(50 << 10)
	if err := os.WriteFile(m.path("dir", "w.bin"), writeData, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _, err := srv.GetObject("test", "dir/w.bin"); err != nil || !bytes.Equal(b, writeData) {
		t.Fatalf("the written object: %d bytes, %v", len(b), err)
	}

	after, serverAfter := settledScrape(t, url, srv)
	delta := func(name string, labelPairs ...string) float64 {
		return after.value(name, labelPairs...) - before.value(name, labelPairs...)
	}

	// Every attempt the server received is a request the mount counted,
	// or one of its retries: per operation, exactly.
	ops := map[string]bool{}
	for op := range serverAfter {
		ops[op] = true
	}
	for _, op := range after.labelValues("ossmount_oss_requests_total", "operation") {
		ops[op] = true
	}
	for op := range ops {
		server := float64(serverAfter[op] - serverBefore[op])
		requests := delta("ossmount_oss_requests_total", "operation", op)
		retries := delta("ossmount_oss_retries_total", "operation", op)
		if requests+retries != server {
			t.Errorf("%s: the mount counted %v requests + %v retries, the server received %v", op, requests, retries, server)
		}
		if n := delta("ossmount_oss_request_duration_seconds", "operation", op); n != requests {
			t.Errorf("%s: %v latencies observed for %v requests", op, n, requests)
		}
		if v := after.value("ossmount_oss_requests_in_flight", "operation", op); v != 0 {
			t.Errorf("%s: %v requests still in flight", op, v)
		}
	}
	// What the I/O implies.
	exact := []struct {
		what string
		got  float64
		want float64
	}{
		{"GetObject requests (one read of a 100 KiB file)", delta("ossmount_oss_requests_total", "operation", "GetObject"), 1},
		{"GetObject retried", delta("ossmount_oss_requests_total", "operation", "GetObject", "outcome", "retried"), 1},
		{"GetObject retries", delta("ossmount_oss_retries_total", "operation", "GetObject"), 1},
		{"GetObject attempts the server saw", float64(serverAfter["GetObject"] - serverBefore["GetObject"]), 2},
		{"bytes received by GetObject", delta("ossmount_oss_received_bytes_total", "operation", "GetObject"), 100 << 10},
		{"PutObject requests (one 50 KiB file written)", delta("ossmount_oss_requests_total", "operation", "PutObject", "outcome", "ok"), 1},
		{"bytes sent by PutObject", delta("ossmount_oss_sent_bytes_total", "operation", "PutObject"), 50 << 10},
		{"multipart uploads", delta("ossmount_oss_requests_total", "operation", "InitiateMultipartUpload"), 0},
		{"failed OSS requests other than lookups of missing names",
			delta("ossmount_oss_requests_total", "outcome", "failed") - delta("ossmount_oss_request_errors_total", "kind", "not_exist"), 0},
		{"bytes answered to reads", delta("ossmount_fuse_read_bytes_total"), 100 << 10},
		{"bytes accepted from writes", delta("ossmount_fuse_written_bytes_total"), 50 << 10},
		{"FUSE create", delta("ossmount_fuse_request_duration_seconds", "operation", "create"), 1},
		{"bytes read ahead", delta("ossmount_readahead_bytes_total"), 100 << 10},
		{"bytes read ahead in vain", delta("ossmount_readahead_unread_bytes_total"), 0},
		{"uploads completed", delta("ossmount_uploads_completed_total"), 1},
		{"uploads failed", delta("ossmount_uploads_failed_total"), 0},
		{"uploads in flight", after.value("ossmount_uploads_in_flight"), 0},
		{"upload parts in flight", after.value("ossmount_upload_parts_in_flight"), 0},
		{"incomplete multipart uploads", after.value("ossmount_multipart_uploads_incomplete"), 0},
		{"kept files", after.value("ossmount_kept_files"), 0},
		{"FUSE requests in flight", after.value("ossmount_fuse_requests_in_flight"), 0},
		{"disk budget limit", after.value("ossmount_budget_limit_bytes", "budget", "disk"), 10 << 30},
		{"credentials info", after.value("ossmount_credentials_info", "source", "env", "temporary", "false"), 1},
		{"mount info", after.value("ossmount_mount_info", "bucket", "test", "mountpoint", m.dir), 1},
	}
	for _, e := range exact {
		if e.got != e.want {
			t.Errorf("%s: %v, want %v", e.what, e.got, e.want)
		}
	}
	atLeast := []struct {
		what string
		got  float64
	}{
		{"ListObjectsV2 requests (the listing)", delta("ossmount_oss_requests_total", "operation", "ListObjectsV2")},
		{"FUSE reads", delta("ossmount_fuse_request_duration_seconds", "operation", "read")},
		{"FUSE writes", delta("ossmount_fuse_request_duration_seconds", "operation", "write")},
		{"FUSE directory reads", delta("ossmount_fuse_request_duration_seconds", "operation", "readdirplus") +
			delta("ossmount_fuse_request_duration_seconds", "operation", "readdir")},
		{"listing cache hits (r.bin looked up in the fresh listing)", delta("ossmount_cache_hits_total", "cache", "listing")},
		{"build info", after.value("ossmount_build_info")},
	}
	for _, e := range atLeast {
		if e.got < 1 {
			t.Errorf("%s: %v, want at least 1", e.what, e.got)
		}
	}
	// The memory budget's data share: within memory_budget (256M), the
	// rest being held for FUSE request buffers.
	if l := after.value("ossmount_budget_limit_bytes", "budget", "memory"); l <= 0 || l > 256<<20 {
		t.Errorf("memory budget limit %v, want within the 256 MiB of memory_budget", l)
	}
	if after.fams["ossmount_credentials_expiry_seconds"] != nil {
		t.Errorf("long-term keys reported an expiry")
	}
	for _, secret := range []string{testSK, testAK} {
		if strings.Contains(after.text, secret) {
			t.Errorf("the scrape contains a credential (%q)", secret)
		}
	}

	t.Run("promtool", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Skip("promtool is not installed (test/deps.sh installs Debian's prometheus package for it, as root)")
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(after.text)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

// TestMetricsCredentials: with renewed temporary credentials (a RAM role
// with 6-second tokens), the scrape names the source, counts down to the
// expiry, and counts the renewals the STS server made and the ones that
// failed while it was down.
func TestMetricsCredentials(t *testing.T) {
	t.Parallel()
	_, _, sts, m, _ := roleMount(t, 6*time.Second, "metrics=127.0.0.1:0")
	url := metricsURL(t, m)
	s := scrapeMetrics(t, url)
	if v := s.value("ossmount_credentials_info", "source", "ram_role_arn", "temporary", "true"); v != 1 {
		t.Errorf("credentials info: %v\n%s", v, s.text)
	}
	if exp := s.value("ossmount_credentials_expiry_seconds"); exp <= 0 || exp > 6 {
		t.Errorf("seconds until expiry %v, want in (0, 6]", exp)
	}
	deadline := time.Now().Add(60 * time.Second)
	for s.value("ossmount_credentials_refreshes_total") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 2 renewals counted in 60 s of 6 s tokens\n%s", m.log.String())
		}
		time.Sleep(100 * time.Millisecond)
		s = scrapeMetrics(t, url)
	}
	// The STS issued the first credentials and one per renewal.
	issued := float64(sts.Issued())
	later := scrapeMetrics(t, url)
	if r1, r2 := s.value("ossmount_credentials_refreshes_total"), later.value("ossmount_credentials_refreshes_total"); issued < r1+1 || issued > r2+1 {
		t.Errorf("the STS issued %v credentials; the mount counted %v then %v renewals (plus the first)", issued, r1, r2)
	}
	if v := later.value("ossmount_credentials_refresh_failures_total"); v != 0 {
		t.Errorf("%v failed renewals counted with the STS up", v)
	}
	sts.SetDown(true)
	defer sts.SetDown(false)
	for later.value("ossmount_credentials_refresh_failures_total") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no failed renewal counted with the STS down\n%s", m.log.String())
		}
		time.Sleep(100 * time.Millisecond)
		later = scrapeMetrics(t, url)
	}
	sts.SetDown(false)
}

// TestStatsCommand: `ossmount stats` shows the owner the numbers the mount
// counted (as text and as JSON), and refuses another user of an
// allow_other mount, with or without default_permissions.
func TestStatsCommand(t *testing.T) {
	for _, opts := range []string{"allow_other", "allow_other,default_permissions"} {
		t.Run(opts, func(t *testing.T) {
			srv := newServer(t)
			data := randBytes(64 << 10)
			if err := srv.PutObject("test", "f.bin", data, nil); err != nil {
				t.Fatal(err)
			}
			m := shareMount(t, srv, "-o", opts)
			bin := shareBin(t)
			if got, err := os.ReadFile(m.path("f.bin")); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read: %v", err)
			}

			// As the owner (root here): JSON with the server's counts.
			js := runShare(t, bin, nil, noCredEnv(), "stats", "--json", m.dir).must(t)
			var s metrics.Summary
			if err := json.Unmarshal([]byte(js), &s); err != nil {
				t.Fatalf("stats --json is not a summary: %v\n%s", err, js)
			}
			counts := srv.Counts()
			byOp := map[string]metrics.OSSOp{}
			for _, o := range s.OSS {
				byOp[o.Operation] = o
			}
			for op, n := range counts {
				if o := byOp[op]; o.Requests+o.Retries != n {
					t.Errorf("stats: %s %d requests + %d retries, the server received %d", op, o.Requests, o.Retries, n)
				}
			}
			if g := byOp["GetObject"]; g.Requests != 1 || g.ReceivedBytes != 64<<10 || g.OK != 1 {
				t.Errorf("stats: GetObject %+v, want 1 request at the first attempt receiving 64 KiB", g)
			}
			if s.Bucket != "test" || s.Mountpoint != m.dir || s.ReadBytes != 64<<10 || s.Credentials == nil || s.Credentials.Source != "env" {
				t.Errorf("stats: %+v", s)
			}
			if strings.Contains(js, testSK) {
				t.Errorf("stats shows the secret key")
			}
			// Text, with the flag after the mount point.
			text := runShare(t, bin, nil, noCredEnv(), "stats", m.dir).must(t)
			for _, want := range []string{"bucket test", "OSS requests", "GetObject", "FUSE operations", "Caches", "Budgets", "Uploads:", "Credentials: env"} {
				if !strings.Contains(text, want) {
					t.Errorf("stats text lacks %q:\n%s", want, text)
				}
			}

			// Another user: refused, and told why.
			other := runShare(t, "setpriv", nil, noCredEnv(), "--reuid=65534", "--regid=65534", "--clear-groups", bin, "stats", m.dir)
			ee, ok := other.err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 || !strings.Contains(other.stderr, "permission denied") || other.stdout != "" {
				t.Errorf("stats as uid 65534: %v, stdout %q, stderr %q; want exit 1 and permission denied", other.err, other.stdout, other.stderr)
			}
			// Nor through the attribute directly.
			raw := runShare(t, "setpriv", nil, noCredEnv(), "--reuid=65534", "--regid=65534", "--clear-groups",
				"getfattr", "--only-values", "-n", "user.oss.stats", m.dir)
			if raw.err == nil || strings.Contains(raw.stdout, "bucket") {
				t.Errorf("getfattr user.oss.stats as uid 65534: %v %q", raw.err, raw.stdout)
			}
		})
	}
}

// TestMetricsAddressRefused: a metrics address other than loopback is a
// usage error (exit 2) unless metrics_allow_remote, in the foreground and
// from the daemon; nothing is mounted.
func TestMetricsAddressRefused(t *testing.T) {
	srv := newServer(t)
	for _, tc := range []struct{ addr, fg, why string }{
		{"0.0.0.0:9464", "-f", "metrics_allow_remote"},
		{":9464", "-f", "metrics_allow_remote"},
		{"example.com:9464", "-f", "metrics_allow_remote"},
		{"0.0.0.0:9464", "", "metrics_allow_remote"}, // from the daemon, through its ready pipe
		{"127.0.0.1", "-f", "HOST:PORT"},
	} {
		dir := t.TempDir()
		args := []string{"test", dir, "-o", "endpoint=" + srv.URL() + ",region=" + testRegion + ",metrics=" + tc.addr}
		if tc.fg != "" {
			args = append([]string{tc.fg}, args...)
		}
		cmd := exec.Command(ossmountBin, args...)
		cmd.Env = credEnv()
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "option metrics") || !strings.Contains(string(out), tc.why) {
			t.Errorf("metrics=%s %s: %v\n%s\nwant exit 2 naming the option and %s", tc.addr, tc.fg, err, out, tc.why)
		}
		if isMounted(dir) {
			exec.Command("umount", "-l", dir).Run()
			t.Errorf("metrics=%s %s: mounted anyway", tc.addr, tc.fg)
		}
	}
}

// TestMetricsUploadFailure: an upload the server refuses is counted as a
// failed upload, its data as a kept file (with its disk space), the
// refusal as a failed PutObject of kind permission, and the error the
// application got under the FUSE operation that returned it.
func TestMetricsUploadFailure(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "metrics=127.0.0.1:0,cache_dir="+t.TempDir())
	url := metricsURL(t, m)
	srv.AddFault(osstest.Fault{Op: "PutObject", Key: "refused.bin", Status: 403, Code: "AccessDenied"})
	data := randBytes(200 << 10)
	if err := os.WriteFile(m.path("refused.bin"), data, 0o644); err == nil {
		t.Fatal("the write of a refused upload succeeded")
	}
	s, _ := settledScrape(t, url, srv)
	for _, e := range []struct {
		what      string
		got, want float64
	}{
		{"uploads failed", s.value("ossmount_uploads_failed_total"), 1},
		{"uploads completed", s.value("ossmount_uploads_completed_total"), 0},
		{"kept files", s.value("ossmount_kept_files"), 1},
		{"PutObject failed", s.value("ossmount_oss_requests_total", "operation", "PutObject", "outcome", "failed"), 1},
		{"PutObject refused", s.value("ossmount_oss_request_errors_total", "operation", "PutObject", "kind", "permission"), 1},
		{"PutObject retries (a refusal is final)", s.value("ossmount_oss_retries_total", "operation", "PutObject"), 0},
		{"bytes sent by PutObject (none accepted)", s.value("ossmount_oss_sent_bytes_total", "operation", "PutObject"), 0},
	} {
		if e.got != e.want {
			t.Errorf("%s: %v, want %v", e.what, e.got, e.want)
		}
	}
	if kept := s.value("ossmount_kept_bytes"); kept < 200<<10 {
		t.Errorf("kept bytes %v, want at least the 200 KiB written", kept)
	}
	if n := s.value("ossmount_fuse_errors_total", "errno", "EACCES"); n < 1 {
		t.Errorf("no FUSE request answered EACCES\n%s", s.text)
	}
}

// TestMetricsInterrupt: a caller killed while its lookup waits on a slow
// HEAD makes the kernel interrupt the request; the mount counts it.
func TestMetricsInterrupt(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "metrics=127.0.0.1:0")
	url := metricsURL(t, m)
	srv.AddFault(osstest.Fault{Op: "HeadObject", Key: "slow", Latency: 3 * time.Second})
	cmd := exec.Command("stat", m.path("slow"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for scrapeMetrics(t, url).value("ossmount_oss_requests_in_flight", "operation", "HeadObject") < 1 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the lookup's HEAD never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for {
		s, _ := settledScrape(t, url, srv)
		if n := s.value("ossmount_fuse_interrupts_total", "operation", "lookup"); n == 1 {
			break
		} else if n > 1 || time.Now().After(deadline) {
			t.Fatalf("lookup interrupts: %v, want 1\n%s", n, s.text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStatsUserMount: a mount run by an ordinary user (uid 65534, through
// fusermount3) answers `ossmount stats` for that user.
func TestStatsUserMount(t *testing.T) {
	srv := newServer(t)
	if err := srv.PutObject("test", "f", []byte("data"), nil); err != nil {
		t.Fatal(err)
	}
	bin := shareBin(t)
	// A user's mount needs /dev/fuse open to all (as distributions leave
	// it; this machine's may be 0600).
	if st, err := os.Stat("/dev/fuse"); err == nil && st.Mode().Perm() != 0o666 {
		if err := os.Chmod("/dev/fuse", 0o666); err != nil {
			t.Fatalf("a user's mount needs /dev/fuse: %v", err)
		}
		t.Cleanup(func() { os.Chmod("/dev/fuse", st.Mode().Perm()) })
	}
	home := t.TempDir()
	os.Chmod(filepath.Dir(home), 0o755) // the test's private parent
	os.Chown(home, nobody, nobody)
	mnt := filepath.Join(home, "mnt")
	os.Mkdir(mnt, 0o755)
	os.Chown(mnt, nobody, nobody)
	var env []string
	for _, e := range credEnv() {
		if !strings.HasPrefix(e, "XDG_") && !strings.HasPrefix(e, "TMPDIR=") && !strings.HasPrefix(e, "HOME=") {
			env = append(env, e)
		}
	}
	env = append(env, "TMPDIR="+home, "HOME="+home)
	asNobody := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	log := &syncBuffer{}
	cmd := exec.Command("setpriv", append(asNobody, bin, "-f", "test", mnt, "-o", "endpoint="+srv.URL()+",region="+testRegion)...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			exec.Command("umount", "-l", mnt).Run()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "msg=mounted") {
		select {
		case <-exited:
			t.Fatalf("ossmount as uid 65534 exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ossmount as uid 65534 did not mount in 30 s: %s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := runShare(t, "setpriv", nil, env, append(asNobody, "cat", filepath.Join(mnt, "f"))...).must(t); out != "data" {
		t.Fatalf("read as the mount's owner: %q", out)
	}
	js := runShare(t, "setpriv", nil, env, append(asNobody, bin, "stats", "--json", mnt)...).must(t)
	var sum metrics.Summary
	if err := json.Unmarshal([]byte(js), &sum); err != nil {
		t.Fatalf("stats --json as the mount's owner: %v\n%s", err, js)
	}
	gets := int64(0)
	for _, o := range sum.OSS {
		if o.Operation == "GetObject" {
			gets = o.Requests
		}
	}
	if sum.Mountpoint != mnt || gets != srv.Count("GetObject") || gets != 1 || sum.ReadBytes != 4 {
		t.Errorf("stats as the mount's owner: mount point %q, %d GETs (the server saw %d), %d bytes read",
			sum.Mountpoint, gets, srv.Count("GetObject"), sum.ReadBytes)
	}
}

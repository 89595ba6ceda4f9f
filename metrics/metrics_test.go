package metrics

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ossmount/ossmount/auth"
	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/ossapi"
)

func TestCheckAddr(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:9464", "127.0.0.1:0", "[::1]:9464", "localhost:9464", "127.1.2.3:80"} {
		if err := CheckAddr(ok, false); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:9464", ":9464", "[::]:9464", "10.0.0.1:9464", "example.com:9464", "127.0.0.1", "127.0.0.1:", "nonsense"} {
		if err := CheckAddr(bad, false); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if err := CheckAddr("0.0.0.0:9464", true); err != nil {
		t.Errorf("0.0.0.0:9464 with metrics_allow_remote refused: %v", err)
	}
	if err := CheckAddr("0.0.0.0", true); err == nil {
		t.Errorf("an address without a port accepted with metrics_allow_remote")
	}
}

func TestQuantile(t *testing.T) {
	u := func(v float64) *float64 { return &v }
	c := func(v uint64) *uint64 { return &v }
	h := &dto.Histogram{SampleCount: c(100), SampleSum: u(30), Bucket: []*dto.Bucket{
		{UpperBound: u(0.1), CumulativeCount: c(50)},
		{UpperBound: u(0.5), CumulativeCount: c(90)},
		{UpperBound: u(1), CumulativeCount: c(100)},
	}}
	for q, want := range map[float64]float64{0.5: 0.1, 0.25: 0.05, 0.7: 0.3, 0.99: 0.95} {
		if got := quantile(h, q); math.Abs(got-want) > 1e-9 {
			t.Errorf("quantile %v = %v, want %v", q, got, want)
		}
	}
	if mean(h) != 0.3 || quantile(&dto.Histogram{}, 0.99) != 0 {
		t.Errorf("mean %v", mean(h))
	}
}

// nullFS answers every request with ENOSYS, and reads with n bytes.
type nullFS struct {
	fuse.RawFileSystem
	n int
}

func (f nullFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	return fuse.ReadResultData(buf[:f.n]), fuse.OK
}

// TestFUSEDecorator: each request is timed under its operation, errors are
// counted by errno, an interrupted request as an interrupt, and read bytes.
func TestFUSEDecorator(t *testing.T) {
	m := New(Info{Version: "test"})
	raw := m.WrapFUSE(nullFS{RawFileSystem: fuse.NewDefaultRawFileSystem(), n: 4096})
	open := make(chan struct{})
	if st := raw.Lookup(open, &fuse.InHeader{}, "x", &fuse.EntryOut{}); st != fuse.ENOSYS {
		t.Fatalf("Lookup through the decorator: %v", st)
	}
	interrupted := make(chan struct{})
	close(interrupted)
	raw.GetAttr(interrupted, &fuse.GetAttrIn{}, &fuse.AttrOut{})
	buf := make([]byte, 4096)
	raw.Read(open, &fuse.ReadIn{}, buf)
	raw.Read(open, &fuse.ReadIn{}, buf)
	raw.Forget(1, 1)

	s, err := m.Summary()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]FUSEOp{}
	for _, o := range s.FUSE {
		got[o.Operation] = o
	}
	if o := got["lookup"]; o.Requests != 1 || o.Errors["ENOSYS"] != 1 || o.Interrupts != 0 {
		t.Errorf("lookup %+v", o)
	}
	if o := got["getattr"]; o.Requests != 1 || o.Interrupts != 1 {
		t.Errorf("getattr %+v", o)
	}
	if o := got["read"]; o.Requests != 2 || len(o.Errors) != 0 || s.ReadBytes != 8192 {
		t.Errorf("read %+v, %d bytes", o, s.ReadBytes)
	}
	if got["forget"].Requests != 1 || len(s.FUSE) != 4 {
		t.Errorf("operations %+v", s.FUSE)
	}
	// GETs per MiB read: none yet.
	if s.ReadAhead.GetsPerMiB != 0 {
		t.Errorf("GETs per MiB %v", s.ReadAhead.GetsPerMiB)
	}
}

type fakeFS struct{ s fs.Stats }

func (f fakeFS) Stats() fs.Stats { return f.s }

type fakeCreds struct{ s auth.Stats }

func (f fakeCreds) Stats() auth.Stats { return f.s }

// TestSummary: the summary (text and JSON) carries what the sources and the
// OSS observer reported, and no secret.
func TestSummary(t *testing.T) {
	m := New(Info{Version: "1.2.3", Bucket: "b", Prefix: "p/", EndpointHost: "oss-cn-hangzhou.aliyuncs.com", Mountpoint: "/mnt/b"})
	m.WatchFS(fakeFS{fs.Stats{
		AttrCache:      cache.Stats{Hits: 3, Misses: 1, Entries: 2},
		Memory:         cache.BudgetStats{Limit: 256 << 20, Used: 1 << 20, Waits: 2},
		Disk:           cache.BudgetStats{Limit: 10 << 30},
		ReadAheadBytes: 8 << 20, ReadAheadUnreadBytes: 1 << 20,
		UploadsCompleted: 5, UploadsFailed: 1, KeptFiles: 1, KeptBytes: 4096, IncompleteMultipartUploads: 1,
	}})
	m.WatchCredentials(fakeCreds{auth.Stats{Source: "ram_role_arn", Temporary: true, Expiration: time.Now().Add(time.Hour),
		Refreshes: 4, RefreshFailures: 2}})
	o := m.OSS()
	o.Started("GetObject")
	o.Retried("GetObject")
	o.Received("GetObject", 1000)
	o.Finished("GetObject", 2, 10*time.Millisecond, 0, nil)
	o.Started("HeadObject")
	o.Finished("HeadObject", 1, time.Millisecond, 0, &ossapi.Error{Kind: ossapi.KindNotExist})
	o.Started("UploadPart") // still in flight

	s, err := m.Summary()
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]OSSOp{}
	for _, op := range s.OSS {
		ops[op.Operation] = op
	}
	if g := ops["GetObject"]; g.Requests != 1 || g.Retried != 1 || g.Retries != 1 || g.ReceivedBytes != 1000 || g.MeanSeconds != 0.01 {
		t.Errorf("GetObject %+v", g)
	}
	if h := ops["HeadObject"]; h.Failed != 1 || h.Errors["not_exist"] != 1 {
		t.Errorf("HeadObject %+v", h)
	}
	if u := ops["UploadPart"]; u.InFlight != 1 || s.Uploads.PartsInFlight != 1 {
		t.Errorf("UploadPart %+v, parts in flight %d", u, s.Uploads.PartsInFlight)
	}
	if s.Caches[0].Name != "attribute" || s.Caches[0].HitRatio != 0.75 || s.Budgets[0].Waits != 2 || s.Budgets[1].LimitBytes != 10<<30 {
		t.Errorf("caches %+v budgets %+v", s.Caches, s.Budgets)
	}
	if s.ReadAhead.UnreadBytes != 1<<20 || s.Uploads.Completed != 5 || s.Uploads.KeptBytes != 4096 || s.Uploads.IncompleteMultipart != 1 {
		t.Errorf("read-ahead %+v uploads %+v", s.ReadAhead, s.Uploads)
	}
	c := s.Credentials
	if c == nil || c.Source != "ram_role_arn" || c.ExpiresInSeconds == nil || *c.ExpiresInSeconds < 3500 || c.Refreshes != 4 || c.RefreshFailures != 2 {
		t.Errorf("credentials %+v", c)
	}
	text := s.Text()
	for _, want := range []string{"bucket b, prefix p/", "GetObject", "HeadObject failed: not_exist 1", "attribute  3", "75.0%",
		"memory: 1.0 MiB of 256.0 MiB in use", "5 completed, 1 failed; kept: 1 files, 4.0 KiB", "ram_role_arn, expire in "} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	js, err := m.SummaryJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(js, &back); err != nil || back.Bucket != "b" || len(back.OSS) != len(s.OSS) {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}
	if len(js) > 32<<10 {
		t.Errorf("the JSON summary is %d bytes: it must fit an extended attribute (64 KiB)", len(js))
	}
}

// TestFSCollector: a scrape shows each number of fs.Stats as its series,
// exactly: each cache's hits, misses, evictions and entries labelled with
// its name, its bytes only for the caches of object data (block, data), the
// data cache's series only with one, each budget's numbers labelled with
// its name, and the rest unlabelled; all of them described (a pedantic
// registry checks it).
func TestFSCollector(t *testing.T) {
	for _, dataOn := range []bool{false, true} {
		st := fs.Stats{AttrCache: cache.Stats{Hits: 1, Misses: 2, Evictions: 3, Entries: 4},
			NegativeCache: cache.Stats{Hits: 11, Misses: 12, Evictions: 13, Entries: 14},
			ListCache:     cache.Stats{Hits: 21, Misses: 22, Evictions: 23, Entries: 24},
			BlockCache:    cache.Stats{Hits: 31, Misses: 32, Evictions: 33, Entries: 34, Bytes: 35},
			Memory:        cache.BudgetStats{Limit: 61, Used: 62, Peak: 63, Waits: 64, Denied: 65},
			Disk:          cache.BudgetStats{Limit: 71, Used: 72, Peak: 73, Waits: 74, Denied: 75},
			Inodes:        81, ListedEntries: 82, MemoryLimit: 83, ReadAheadBytes: 84, ReadAheadUnreadBytes: 85,
			UploadsInFlight: 86, UploadsCompleted: 87, UploadsFailed: 88, KeptFiles: 89, KeptBytes: 90,
			IncompleteMultipartUploads: 91}
		want := map[string]float64{
			"ossmount_cache_bytes/block": 35,
			"ossmount_inodes/":           81, "ossmount_listed_entries/": 82, "ossmount_memory_limit_bytes/": 83,
			"ossmount_readahead_bytes_total/": 84, "ossmount_readahead_unread_bytes_total/": 85,
			"ossmount_uploads_in_flight/": 86, "ossmount_uploads_completed_total/": 87, "ossmount_uploads_failed_total/": 88,
			"ossmount_kept_files/": 89, "ossmount_kept_bytes/": 90, "ossmount_multipart_uploads_incomplete/": 91,
		}
		for i, name := range []string{"attribute", "negative", "listing", "block", "data"} {
			if name == "data" && !dataOn {
				break
			}
			n := float64(10 * i)
			want["ossmount_cache_hits_total/"+name] = n + 1
			want["ossmount_cache_misses_total/"+name] = n + 2
			want["ossmount_cache_evictions_total/"+name] = n + 3
			want["ossmount_cache_entries/"+name] = n + 4
		}
		for i, name := range []string{"memory", "disk"} {
			n := float64(60 + 10*i)
			want["ossmount_budget_limit_bytes/"+name] = n + 1
			want["ossmount_budget_used_bytes/"+name] = n + 2
			want["ossmount_budget_peak_bytes/"+name] = n + 3
			want["ossmount_budget_waits_total/"+name] = n + 4
			want["ossmount_budget_denied_total/"+name] = n + 5
		}
		if dataOn {
			st.DataCacheOn = true
			d := &st.DataCache
			d.Hits, d.Misses, d.Evictions, d.Entries, d.Bytes = 41, 42, 43, 44, 45
			d.HitBytes, d.FilledBytes, d.CorruptChunks, d.Limit, d.PassthroughOpens, d.PassthroughFailed = 46, 47, 48, 49, 50, 51
			for name, v := range map[string]float64{"ossmount_cache_bytes/data": 45,
				"ossmount_data_cache_read_bytes_total/": 46, "ossmount_data_cache_filled_bytes_total/": 47,
				"ossmount_data_cache_corrupt_chunks_total/": 48, "ossmount_data_cache_limit_bytes/": 49,
				"ossmount_passthrough_opens_total/": 50, "ossmount_passthrough_failures_total/": 51} {
				want[name] = v
			}
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(newFSCollector(fakeFS{st}))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, mt := range mf.GetMetric() {
				label := ""
				for _, l := range mt.GetLabel() {
					label = l.GetValue()
				}
				counter := strings.HasSuffix(mf.GetName(), "_total")
				if counter != (mf.GetType() == dto.MetricType_COUNTER) {
					t.Errorf("%s is a %v", mf.GetName(), mf.GetType())
				}
				got[mf.GetName()+"/"+label] = mt.GetCounter().GetValue() + mt.GetGauge().GetValue()
			}
		}
		if len(got) != len(want) {
			t.Errorf("data cache %v: %d series, want %d: %v", dataOn, len(got), len(want), got)
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("data cache %v: %s = %v (present %v), want %v", dataOn, k, g, ok, v)
			}
		}
	}
}

// BenchmarkFUSEDecorator measures what the decorator adds to a request
// (compare with BenchmarkFUSEBare).
func BenchmarkFUSEDecorator(b *testing.B) {
	raw := New(Info{}).WrapFUSE(nullFS{RawFileSystem: fuse.NewDefaultRawFileSystem(), n: 4096})
	cancel := make(chan struct{})
	in := &fuse.ReadIn{}
	buf := make([]byte, 4096)
	for b.Loop() {
		raw.Read(cancel, in, buf)
	}
}

func BenchmarkFUSEBare(b *testing.B) {
	var raw fuse.RawFileSystem = nullFS{RawFileSystem: fuse.NewDefaultRawFileSystem(), n: 4096}
	cancel := make(chan struct{})
	in := &fuse.ReadIn{}
	buf := make([]byte, 4096)
	for b.Loop() {
		raw.Read(cancel, in, buf)
	}
}

// BenchmarkOSSObserver measures the metrics' share of one OSS request.
func BenchmarkOSSObserver(b *testing.B) {
	o := New(Info{}).OSS()
	for b.Loop() {
		o.Started("GetObject")
		o.Received("GetObject", 1<<20)
		o.Finished("GetObject", 1, time.Millisecond, 0, nil)
	}
}

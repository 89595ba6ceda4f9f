package metrics

// The summary of a mount's numbers for people: `ossmount stats` prints it
// (as text, or as JSON with --json) and SIGUSR1 logs it. It is built from
// a scrape of the mount's own registry, so it shows the very numbers
// /metrics serves.

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Summary is a mount's numbers since it was mounted (counters) and now
// (gauges).
type Summary struct {
	Version       string  `json:"version"`
	Bucket        string  `json:"bucket"`
	Prefix        string  `json:"prefix"`
	Endpoint      string  `json:"endpoint"`
	Mountpoint    string  `json:"mountpoint"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	RSSBytes      int64   `json:"rss_bytes"`

	OSS          []OSSOp   `json:"oss"`
	FUSE         []FUSEOp  `json:"fuse"`
	ReadBytes    int64     `json:"read_bytes"`
	WrittenBytes int64     `json:"written_bytes"`
	ReadAhead    ReadAhead `json:"read_ahead"`
	Caches       []Cache   `json:"caches"`
	Metadata     Metadata  `json:"metadata"`
	Budgets      []Budget  `json:"budgets"`
	Uploads      Uploads   `json:"uploads"`
	// DataCache is nil without -o data_cache.
	DataCache *DataCache `json:"data_cache,omitempty"`
	// Credentials is nil when the mount does not report them.
	Credentials *Credentials `json:"credentials,omitempty"`
}

// OSSOp are the requests of one OSS operation.
type OSSOp struct {
	Operation string `json:"operation"`
	Requests  int64  `json:"requests"`
	OK        int64  `json:"ok"`      // at the first attempt
	Retried   int64  `json:"retried"` // succeeded after retries
	Failed    int64  `json:"failed"`
	// Errors counts the failed requests by error kind.
	Errors        map[string]int64 `json:"errors,omitempty"`
	Retries       int64            `json:"retries"` // attempts after the first
	InFlight      int64            `json:"in_flight"`
	MeanSeconds   float64          `json:"mean_seconds"`
	P99Seconds    float64          `json:"p99_seconds"` // estimated from the histogram's buckets
	SentBytes     int64            `json:"sent_bytes"`
	ReceivedBytes int64            `json:"received_bytes"`
}

// FUSEOp are the requests of one FUSE operation.
type FUSEOp struct {
	Operation string `json:"operation"`
	Requests  int64  `json:"requests"`
	// Errors counts the requests answered with an error, by errno.
	Errors      map[string]int64 `json:"errors,omitempty"`
	Interrupts  int64            `json:"interrupts"`
	MeanSeconds float64          `json:"mean_seconds"`
	P99Seconds  float64          `json:"p99_seconds"`
}

// ReadAhead is what the sequential read-ahead fetched.
type ReadAhead struct {
	Bytes       int64   `json:"bytes"`
	UnreadBytes int64   `json:"unread_bytes"`
	GetsPerMiB  float64 `json:"gets_per_mib"` // GetObject requests per MiB answered to reads
}

// Cache is one cache's use.
type Cache struct {
	Name      string  `json:"name"`
	Hits      int64   `json:"hits"`
	Misses    int64   `json:"misses"`
	HitRatio  float64 `json:"hit_ratio"` // 0 before any lookup
	Evictions int64   `json:"evictions"`
	Entries   int64   `json:"entries"`
	Bytes     int64   `json:"bytes,omitempty"`
}

// Metadata is what the mount holds of names and attributes, and the Go
// memory limit that follows it.
type Metadata struct {
	Inodes           int64 `json:"inodes"`         // held by the kernel
	ListedEntries    int64 `json:"listed_entries"` // in the cached listings
	MemoryLimitBytes int64 `json:"memory_limit_bytes"`
}

// DataCache is what the persistent data cache did (its hits, misses and
// size are in Caches, as "data").
type DataCache struct {
	LimitBytes         int64 `json:"limit_bytes"`
	ReadBytes          int64 `json:"read_bytes"` // served through FUSE
	FilledBytes        int64 `json:"filled_bytes"`
	CorruptChunks      int64 `json:"corrupt_chunks"`
	PassthroughOpens   int64 `json:"passthrough_opens"`
	PassthroughFailure int64 `json:"passthrough_failures"`
}

// Budget is the memory or the disk budget.
type Budget struct {
	Name       string `json:"name"`
	LimitBytes int64  `json:"limit_bytes"`
	UsedBytes  int64  `json:"used_bytes"`
	PeakBytes  int64  `json:"peak_bytes"`
	Waits      int64  `json:"waits"`
	Denied     int64  `json:"denied"`
}

// Uploads are the writes going to OSS and the data kept after failures.
type Uploads struct {
	InFlight            int64 `json:"in_flight"`
	PartsInFlight       int64 `json:"parts_in_flight"`
	Completed           int64 `json:"completed"`
	Failed              int64 `json:"failed"`
	KeptFiles           int64 `json:"kept_files"`
	KeptBytes           int64 `json:"kept_bytes"`
	IncompleteMultipart int64 `json:"incomplete_multipart_uploads"`
}

// Credentials describe the credentials in use.
type Credentials struct {
	Source    string `json:"source"`
	Temporary bool   `json:"temporary"`
	// ExpiresInSeconds is nil when the credentials do not expire.
	ExpiresInSeconds *float64 `json:"expires_in_seconds,omitempty"`
	Refreshes        int64    `json:"refreshes"`
	RefreshFailures  int64    `json:"refresh_failures"`
}

// Summary scrapes the mount's registry and summarizes it.
func (m *Metrics) Summary() (*Summary, error) {
	mfs, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	f := families{}
	for _, mf := range mfs {
		f[mf.GetName()] = mf
	}
	s := &Summary{Version: m.info.Version, Bucket: m.info.Bucket, Prefix: m.info.Prefix, Endpoint: m.info.EndpointHost,
		Mountpoint: m.info.Mountpoint}
	if start := f.value("process_start_time_seconds"); start > 0 {
		s.UptimeSeconds = math.Round(float64(time.Now().UnixNano())/1e9 - start)
	}
	s.RSSBytes = int64(f.value("process_resident_memory_bytes"))
	s.OSS = f.ossOps()
	s.FUSE = f.fuseOps()
	s.ReadBytes = int64(f.value("ossmount_fuse_read_bytes_total"))
	s.WrittenBytes = int64(f.value("ossmount_fuse_written_bytes_total"))
	s.ReadAhead = ReadAhead{Bytes: int64(f.value("ossmount_readahead_bytes_total")),
		UnreadBytes: int64(f.value("ossmount_readahead_unread_bytes_total")),
		GetsPerMiB:  f.value("ossmount_read_gets_per_mebibyte")}
	s.Caches, s.DataCache = f.caches()
	s.Metadata = Metadata{Inodes: int64(f.value("ossmount_inodes")), ListedEntries: int64(f.value("ossmount_listed_entries")),
		MemoryLimitBytes: int64(f.value("ossmount_memory_limit_bytes"))}
	for _, name := range []string{"memory", "disk"} {
		if f["ossmount_budget_limit_bytes"] == nil {
			break
		}
		s.Budgets = append(s.Budgets, Budget{Name: name,
			LimitBytes: int64(f.value("ossmount_budget_limit_bytes", "budget", name)),
			UsedBytes:  int64(f.value("ossmount_budget_used_bytes", "budget", name)),
			PeakBytes:  int64(f.value("ossmount_budget_peak_bytes", "budget", name)),
			Waits:      int64(f.value("ossmount_budget_waits_total", "budget", name)),
			Denied:     int64(f.value("ossmount_budget_denied_total", "budget", name))})
	}
	s.Uploads = Uploads{InFlight: int64(f.value("ossmount_uploads_in_flight")),
		PartsInFlight:       int64(f.value("ossmount_upload_parts_in_flight")),
		Completed:           int64(f.value("ossmount_uploads_completed_total")),
		Failed:              int64(f.value("ossmount_uploads_failed_total")),
		KeptFiles:           int64(f.value("ossmount_kept_files")),
		KeptBytes:           int64(f.value("ossmount_kept_bytes")),
		IncompleteMultipart: int64(f.value("ossmount_multipart_uploads_incomplete"))}
	s.Credentials = f.credentials()
	return s, nil
}

// ossOps are the OSS operations with requests done or in flight, by name.
func (f families) ossOps() []OSSOp {
	ops := newOpTable(func(name string) *OSSOp { return &OSSOp{Operation: name} })
	op := ops.of
	f.each("ossmount_oss_requests_total", func(l map[string]string, v float64, _ *dto.Histogram) {
		o := op(l)
		o.Requests += int64(v)
		switch l["outcome"] {
		case "ok":
			o.OK += int64(v)
		case "retried":
			o.Retried += int64(v)
		default:
			o.Failed += int64(v)
		}
	})
	f.each("ossmount_oss_request_errors_total", func(l map[string]string, v float64, _ *dto.Histogram) {
		addCount(&op(l).Errors, l["kind"], v)
	})
	f.each("ossmount_oss_request_duration_seconds", func(l map[string]string, _ float64, h *dto.Histogram) {
		o := op(l)
		o.MeanSeconds, o.P99Seconds = mean(h), quantile(h, 0.99)
	})
	for name, field := range map[string]func(*OSSOp) *int64{
		"ossmount_oss_retries_total":        func(o *OSSOp) *int64 { return &o.Retries },
		"ossmount_oss_requests_in_flight":   func(o *OSSOp) *int64 { return &o.InFlight },
		"ossmount_oss_sent_bytes_total":     func(o *OSSOp) *int64 { return &o.SentBytes },
		"ossmount_oss_received_bytes_total": func(o *OSSOp) *int64 { return &o.ReceivedBytes },
	} {
		f.each(name, func(l map[string]string, v float64, _ *dto.Histogram) { *field(op(l)) += int64(v) })
	}
	return ops.list(func(o *OSSOp) bool { return o.Requests > 0 || o.InFlight > 0 })
}

// fuseOps are the FUSE operations with requests, by name.
func (f families) fuseOps() []FUSEOp {
	ops := newOpTable(func(name string) *FUSEOp { return &FUSEOp{Operation: name} })
	op := ops.of
	f.each("ossmount_fuse_request_duration_seconds", func(l map[string]string, _ float64, h *dto.Histogram) {
		o := op(l)
		o.Requests = int64(h.GetSampleCount())
		o.MeanSeconds, o.P99Seconds = mean(h), quantile(h, 0.99)
	})
	f.each("ossmount_fuse_errors_total", func(l map[string]string, v float64, _ *dto.Histogram) {
		addCount(&op(l).Errors, l["errno"], v)
	})
	f.each("ossmount_fuse_interrupts_total", func(l map[string]string, v float64, _ *dto.Histogram) {
		op(l).Interrupts += int64(v)
	})
	return ops.list(func(o *FUSEOp) bool { return o.Requests > 0 })
}

// caches are the caches' numbers, and the data cache's own (nil without
// one).
func (f families) caches() ([]Cache, *DataCache) {
	dataOn := f["ossmount_data_cache_limit_bytes"] != nil
	var out []Cache
	for _, name := range []string{"attribute", "negative", "listing", "block", "data"} {
		if name == "data" && !dataOn {
			break
		}
		c := Cache{Name: name, Hits: int64(f.value("ossmount_cache_hits_total", "cache", name)),
			Misses:    int64(f.value("ossmount_cache_misses_total", "cache", name)),
			Evictions: int64(f.value("ossmount_cache_evictions_total", "cache", name)),
			Entries:   int64(f.value("ossmount_cache_entries", "cache", name)),
			Bytes:     int64(f.value("ossmount_cache_bytes", "cache", name))}
		if n := c.Hits + c.Misses; n > 0 {
			c.HitRatio = float64(c.Hits) / float64(n)
		}
		if f["ossmount_cache_hits_total"] != nil {
			out = append(out, c)
		}
	}
	if !dataOn {
		return out, nil
	}
	return out, &DataCache{LimitBytes: int64(f.value("ossmount_data_cache_limit_bytes")),
		ReadBytes:          int64(f.value("ossmount_data_cache_read_bytes_total")),
		FilledBytes:        int64(f.value("ossmount_data_cache_filled_bytes_total")),
		CorruptChunks:      int64(f.value("ossmount_data_cache_corrupt_chunks_total")),
		PassthroughOpens:   int64(f.value("ossmount_passthrough_opens_total")),
		PassthroughFailure: int64(f.value("ossmount_passthrough_failures_total"))}
}

// credentials describe the credentials (nil when the mount does not
// report them).
func (f families) credentials() *Credentials {
	var c *Credentials
	f.each("ossmount_credentials_info", func(l map[string]string, _ float64, _ *dto.Histogram) {
		c = &Credentials{Source: l["source"], Temporary: l["temporary"] == "true",
			Refreshes:       int64(f.value("ossmount_credentials_refreshes_total")),
			RefreshFailures: int64(f.value("ossmount_credentials_refresh_failures_total"))}
		if mf := f["ossmount_credentials_expiry_seconds"]; mf != nil && len(mf.GetMetric()) > 0 {
			v := math.Round(mf.GetMetric()[0].GetGauge().GetValue())
			c.ExpiresInSeconds = &v
		}
	})
	return c
}

// SummaryJSON is the summary as JSON (the answer to user.oss.stats).
func (m *Metrics) SummaryJSON() ([]byte, error) {
	s, err := m.Summary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// opTable collects a summary's entries by operation.
type opTable[T any] struct {
	m  map[string]*T
	mk func(name string) *T
}

func newOpTable[T any](mk func(name string) *T) *opTable[T] {
	return &opTable[T]{m: map[string]*T{}, mk: mk}
}

// of returns the entry of a metric's operation label, made when absent.
func (t *opTable[T]) of(l map[string]string) *T {
	name := l["operation"]
	if t.m[name] == nil {
		t.m[name] = t.mk(name)
	}
	return t.m[name]
}

// list returns the entries keep accepts, by operation name.
func (t *opTable[T]) list(keep func(*T) bool) []T {
	names := make([]string, 0, len(t.m))
	for n := range t.m {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []T
	for _, n := range names {
		if keep(t.m[n]) {
			out = append(out, *t.m[n])
		}
	}
	return out
}

// addCount adds v to (*m)[k], making the map when needed.
func addCount(m *map[string]int64, k string, v float64) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[k] += int64(v)
}

// families are a scrape's metric families by name.
type families map[string]*dto.MetricFamily

// each calls fn for every metric of the family name with its labels, its
// value (counter, gauge) and its histogram (nil for the others).
func (f families) each(name string, fn func(labels map[string]string, v float64, h *dto.Histogram)) {
	mf := f[name]
	if mf == nil {
		return
	}
	for _, m := range mf.GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		fn(l, v, m.GetHistogram())
	}
}

// value is the value of the family's metric with the given label pairs
// (0 when absent).
func (f families) value(name string, labelPairs ...string) float64 {
	var out float64
	f.each(name, func(l map[string]string, v float64, _ *dto.Histogram) {
		for i := 0; i+1 < len(labelPairs); i += 2 {
			if l[labelPairs[i]] != labelPairs[i+1] {
				return
			}
		}
		out += v
	})
	return out
}

func mean(h *dto.Histogram) float64 {
	if h.GetSampleCount() == 0 {
		return 0
	}
	return h.GetSampleSum() / float64(h.GetSampleCount())
}

// quantile estimates the q-quantile of h as Prometheus's
// histogram_quantile does: linearly within the bucket holding it (the
// highest finite bound when it lies beyond).
func quantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		n := float64(b.GetCumulativeCount())
		if n >= rank {
			if n == below {
				return b.GetUpperBound()
			}
			return lower + (b.GetUpperBound()-lower)*(rank-below)/(n-below)
		}
		lower, below = b.GetUpperBound(), n
	}
	return lower
}

// WriteText writes the summary for people.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	prefix := s.Prefix
	if prefix == "" {
		prefix = "(whole bucket)"
	}
	fmt.Fprintf(&b, "ossmount %s: bucket %s, prefix %s, endpoint %s, mounted at %s for %s, RSS %s\n",
		s.Version, s.Bucket, prefix, s.Endpoint, s.Mountpoint, time.Duration(s.UptimeSeconds)*time.Second, bytesText(s.RSSBytes))
	s.writeOSS(&b)
	s.writeFUSE(&b)
	fmt.Fprintf(&b, "\nRead-ahead: %s fetched ahead, %s of it never read; %.2f GETs per MiB read\n",
		bytesText(s.ReadAhead.Bytes), bytesText(s.ReadAhead.UnreadBytes), s.ReadAhead.GetsPerMiB)
	s.writeCaches(&b)
	b.WriteString("\nBudgets\n")
	for _, u := range s.Budgets {
		fmt.Fprintf(&b, "  %s: %s of %s in use (peak %s), %d waits, %d refusals\n", u.Name, bytesText(u.UsedBytes),
			bytesText(u.LimitBytes), bytesText(u.PeakBytes), u.Waits, u.Denied)
	}
	u := s.Uploads
	fmt.Fprintf(&b, "\nUploads: %d in flight (%d parts), %d completed, %d failed; kept: %d files, %s; incomplete multipart uploads: %d\n",
		u.InFlight, u.PartsInFlight, u.Completed, u.Failed, u.KeptFiles, bytesText(u.KeptBytes), u.IncompleteMultipart)
	if c := s.Credentials; c != nil {
		fmt.Fprintf(&b, "Credentials: %s, %s; %d refreshes, %d failed\n", c.Source, c.expiryText(), c.Refreshes, c.RefreshFailures)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeOSS writes the OSS requests' table, then their errors.
func (s *Summary) writeOSS(b *strings.Builder) {
	b.WriteString("\nOSS requests\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  operation\trequests\tretried\tfailed\tretries\tin flight\tmean\tp99\tsent\treceived")
	for _, o := range s.OSS {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", o.Operation, o.Requests, o.Retried, o.Failed, o.Retries,
			o.InFlight, secondsText(o.MeanSeconds), secondsText(o.P99Seconds), bytesText(o.SentBytes), bytesText(o.ReceivedBytes))
	}
	tw.Flush()
	for _, o := range s.OSS {
		if len(o.Errors) > 0 {
			fmt.Fprintf(b, "  %s failed: %s\n", o.Operation, countsText(o.Errors))
		}
	}
}

// writeFUSE writes the FUSE operations' table, their errors and the bytes
// read and written.
func (s *Summary) writeFUSE(b *strings.Builder) {
	b.WriteString("\nFUSE operations\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  operation\trequests\terrors\tinterrupts\tmean\tp99")
	for _, o := range s.FUSE {
		var errs int64
		for _, n := range o.Errors {
			errs += n
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\n", o.Operation, o.Requests, errs, o.Interrupts,
			secondsText(o.MeanSeconds), secondsText(o.P99Seconds))
	}
	tw.Flush()
	for _, o := range s.FUSE {
		if len(o.Errors) > 0 {
			fmt.Fprintf(b, "  %s errors: %s\n", o.Operation, countsText(o.Errors))
		}
	}
	fmt.Fprintf(b, "  read %s, written %s\n", bytesText(s.ReadBytes), bytesText(s.WrittenBytes))
}

// writeCaches writes the caches' table and the data cache's line.
func (s *Summary) writeCaches(b *strings.Builder) {
	b.WriteString("\nCaches\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  cache\thits\tmisses\thit ratio\tentries\tevictions")
	for _, c := range s.Caches {
		entries := fmt.Sprint(c.Entries)
		if c.Bytes > 0 {
			entries += " (" + bytesText(c.Bytes) + ")"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%.1f%%\t%s\t%d\n", c.Name, c.Hits, c.Misses, 100*c.HitRatio, entries, c.Evictions)
	}
	tw.Flush()

	fmt.Fprintf(b, "\nMetadata: %d inodes held by the kernel, %d entries in cached listings; Go memory limit %s\n",
		s.Metadata.Inodes, s.Metadata.ListedEntries, bytesText(s.Metadata.MemoryLimitBytes))

	if d := s.DataCache; d != nil {
		fmt.Fprintf(b, "\nData cache: limit %s; %s read from it through FUSE, %s filled, %d corrupt chunks dropped; %d passthrough opens, %d refused\n",
			bytesText(d.LimitBytes), bytesText(d.ReadBytes), bytesText(d.FilledBytes), d.CorruptChunks, d.PassthroughOpens, d.PassthroughFailure)
	}
}

// expiryText says when the credentials expire.
func (c *Credentials) expiryText() string {
	switch {
	case c.ExpiresInSeconds != nil && *c.ExpiresInSeconds < 0:
		return fmt.Sprintf("EXPIRED %s ago", time.Duration(-*c.ExpiresInSeconds)*time.Second)
	case c.ExpiresInSeconds != nil:
		return fmt.Sprintf("expire in %s", time.Duration(*c.ExpiresInSeconds)*time.Second)
	case c.Temporary:
		return "temporary, expiry unknown"
	}
	return "do not expire"
}

// Text is WriteText into a string.
func (s *Summary) Text() string {
	var b strings.Builder
	s.WriteText(&b)
	return b.String()
}

func countsText(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func secondsText(s float64) string {
	if s == 0 {
		return "-"
	}
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}

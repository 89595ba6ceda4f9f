package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ossmount/ossmount/auth"
	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/fs"
)

// FSSource is what the file system collector reads at each scrape
// (*fs.FS).
type FSSource interface {
	Stats() fs.Stats
}

// CredentialsSource is what the credentials collector reads at each scrape
// (*auth.Provider).
type CredentialsSource interface {
	Stats() auth.Stats
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// fsCollector turns fs.Stats into metrics when scraped.
type fsCollector struct {
	src FSSource

	prefetched, unread                       *prometheus.Desc
	hits, misses, evictions, entries, bytes  *prometheus.Desc
	limit, used, peak, waits, denied         *prometheus.Desc
	inFlight, completed, failed, kept, keptB *prometheus.Desc
	incomplete                               *prometheus.Desc
	dcRead, dcFilled, dcCorrupt, dcLimit     *prometheus.Desc
	ptOpens, ptFailures                      *prometheus.Desc
	inodes, listed, memLimit                 *prometheus.Desc
}

func newFSCollector(src FSSource) *fsCollector {
	c, b := []string{"cache"}, []string{"budget"}
	return &fsCollector{
		src:        src,
		prefetched: desc("ossmount_readahead_bytes_total", "Bytes read ahead of sequential reads."),
		unread:     desc("ossmount_readahead_unread_bytes_total", "Bytes read ahead and dropped without a read asking for them."),
		hits:       desc("ossmount_cache_hits_total", "Lookups answered from a cache: attribute, negative, listing or block.", c...),
		misses:     desc("ossmount_cache_misses_total", "Lookups a cache could not answer (absent or expired).", c...),
		evictions:  desc("ossmount_cache_evictions_total", "Entries a cache dropped to make room.", c...),
		entries:    desc("ossmount_cache_entries", "Entries a cache holds (fresh or expired).", c...),
		bytes:      desc("ossmount_cache_bytes", "Bytes of object data the block cache holds.", c...),
		limit:      desc("ossmount_budget_limit_bytes", "Size of the memory budget (the share of memory_budget for data) and of the disk budget (disk_budget).", b...),
		used:       desc("ossmount_budget_used_bytes", "Bytes of a budget in use.", b...),
		peak:       desc("ossmount_budget_peak_bytes", "Most bytes of a budget ever in use at once.", b...),
		waits:      desc("ossmount_budget_waits_total", "Times a request had to wait for bytes of a budget to be released.", b...),
		denied:     desc("ossmount_budget_denied_total", "Times a budget refused bytes: read-ahead cut short, a block not cached, a write refused (disk: ENOSPC).", b...),
		inFlight:   desc("ossmount_uploads_in_flight", "Files being uploaded: PUTs under way and multipart uploads started and not yet completed, aborted or kept."),
		completed:  desc("ossmount_uploads_completed_total", "File uploads (at close, fsync or flush) that succeeded."),
		failed:     desc("ossmount_uploads_failed_total", "Files whose upload failed; their data is kept in the cache directory."),
		kept:       desc("ossmount_kept_files", "Files in the cache directory holding data that could not be uploaded."),
		keptB:      desc("ossmount_kept_bytes", "Disk space used by the kept files."),
		incomplete: desc("ossmount_multipart_uploads_incomplete", "Multipart uploads this mount started and neither completed nor aborted (kept ones included)."),
		dcRead:     desc("ossmount_data_cache_read_bytes_total", "Bytes of FUSE reads served from the data cache (-o data_cache); passthrough reads are not seen by the daemon."),
		dcFilled:   desc("ossmount_data_cache_filled_bytes_total", "Bytes written into the data cache."),
		dcCorrupt:  desc("ossmount_data_cache_corrupt_chunks_total", "Data cache chunks that failed their checksum, dropped and fetched again."),
		dcLimit:    desc("ossmount_data_cache_limit_bytes", "Size limit of the data cache (data_cache_size)."),
		ptOpens:    desc("ossmount_passthrough_opens_total", "Opens answered with FUSE passthrough on a data cache file."),
		ptFailures: desc("ossmount_passthrough_failures_total", "Passthrough opens the kernel refused (read through the daemon instead)."),
		inodes:     desc("ossmount_inodes", "Inodes the kernel holds: files and directories looked up and not yet forgotten."),
		listed:     desc("ossmount_listed_entries", "Entries of the cached directory listings."),
		memLimit:   desc("ossmount_memory_limit_bytes", "The Go memory limit: memory_budget and a margin, plus an allowance for the metadata held (inodes, listings, cached attributes)."),
	}
}

func (c *fsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.prefetched, c.unread, c.hits, c.misses, c.evictions, c.entries, c.bytes,
		c.limit, c.used, c.peak, c.waits, c.denied, c.inFlight, c.completed, c.failed, c.kept, c.keptB, c.incomplete,
		c.dcRead, c.dcFilled, c.dcCorrupt, c.dcLimit, c.ptOpens, c.ptFailures, c.inodes, c.listed, c.memLimit} {
		ch <- d
	}
}

func (c *fsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter(c.prefetched, s.ReadAheadBytes)
	counter(c.unread, s.ReadAheadUnreadBytes)
	type namedCache struct {
		name     string
		s        cache.Stats
		hasBytes bool // the cache holds object data (its bytes are a series)
	}
	caches := []namedCache{{"attribute", s.AttrCache, false}, {"negative", s.NegativeCache, false},
		{"listing", s.ListCache, false}, {"block", s.BlockCache, true}}
	if s.DataCacheOn {
		caches = append(caches, namedCache{"data", s.DataCache.Stats, true})
	}
	for _, cs := range caches {
		counter(c.hits, cs.s.Hits, cs.name)
		counter(c.misses, cs.s.Misses, cs.name)
		counter(c.evictions, cs.s.Evictions, cs.name)
		gauge(c.entries, cs.s.Entries, cs.name)
		if cs.hasBytes {
			gauge(c.bytes, cs.s.Bytes, cs.name)
		}
	}
	if d := s.DataCache; s.DataCacheOn {
		counter(c.dcRead, d.HitBytes)
		counter(c.dcFilled, d.FilledBytes)
		counter(c.dcCorrupt, d.CorruptChunks)
		gauge(c.dcLimit, d.Limit)
		counter(c.ptOpens, d.PassthroughOpens)
		counter(c.ptFailures, d.PassthroughFailed)
	}
	for _, bs := range []struct {
		name string
		s    cache.BudgetStats
	}{{"memory", s.Memory}, {"disk", s.Disk}} {
		gauge(c.limit, bs.s.Limit, bs.name)
		gauge(c.used, bs.s.Used, bs.name)
		gauge(c.peak, bs.s.Peak, bs.name)
		counter(c.waits, bs.s.Waits, bs.name)
		counter(c.denied, bs.s.Denied, bs.name)
	}
	gauge(c.inFlight, s.UploadsInFlight)
	counter(c.completed, s.UploadsCompleted)
	counter(c.failed, s.UploadsFailed)
	gauge(c.kept, s.KeptFiles)
	gauge(c.keptB, s.KeptBytes)
	gauge(c.incomplete, s.IncompleteMultipartUploads)
	gauge(c.inodes, s.Inodes)
	gauge(c.listed, s.ListedEntries)
	gauge(c.memLimit, s.MemoryLimit)
}

// credsCollector turns auth.Stats into metrics when scraped.
type credsCollector struct {
	src                                 CredentialsSource
	info, expiresIn, renewals, failures *prometheus.Desc
}

func newCredsCollector(src CredentialsSource) *credsCollector {
	return &credsCollector{
		src: src,
		info: desc("ossmount_credentials_info", "Where the credentials come from (source) and whether they are temporary; always 1.",
			"source", "temporary"),
		expiresIn: desc("ossmount_credentials_expiry_seconds",
			"Seconds until the current credentials expire (negative: expired); absent when they do not expire."),
		renewals: desc("ossmount_credentials_refreshes_total", "Credential renewals that succeeded."),
		failures: desc("ossmount_credentials_refresh_failures_total", "Credential renewal attempts that failed."),
	}
}

func (c *credsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.info
	ch <- c.expiresIn
	ch <- c.renewals
	ch <- c.failures
}

func (c *credsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	temp := "false"
	if s.Temporary {
		temp = "true"
	}
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, s.Source, temp)
	if !s.Expiration.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.expiresIn, prometheus.GaugeValue, time.Until(s.Expiration).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.renewals, prometheus.CounterValue, float64(s.Refreshes))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.RefreshFailures))
}

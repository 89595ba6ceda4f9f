package metrics

import (
	"net/http"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ossmount/ossmount/ossapi"
)

// Info describes a mount for its info metrics. None of it is secret:
// EndpointHost is a host name and port, never a URL with user info.
type Info struct {
	Version      string
	Bucket       string
	Prefix       string // "" for the whole bucket
	EndpointHost string
	Mountpoint   string
}

// Metrics are one mount's instruments and their registry.
type Metrics struct {
	info Info
	reg  *prometheus.Registry
	oss  *ossMetrics
	fuse *fuseMetrics
}

// New makes the registry of one mount with the OSS and FUSE instruments,
// the build and mount information, and the Go runtime and process metrics.
// The file system and the credentials are added with WatchFS and
// WatchCredentials once they exist.
func New(info Info) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{info: info, reg: reg, oss: newOSSMetrics(reg), fuse: newFUSEMetrics(reg)}
	revision := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ossmount_build_info",
		Help:        "The running ossmount's version, Go version and source revision; always 1.",
		ConstLabels: prometheus.Labels{"version": info.Version, "go_version": runtime.Version(), "revision": revision}})
	build.Set(1)
	mount := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ossmount_mount_info",
		Help: "The mounted bucket, key prefix, endpoint host and mount point; always 1.",
		ConstLabels: prometheus.Labels{"bucket": info.Bucket, "prefix": info.Prefix, "endpoint": info.EndpointHost,
			"mountpoint": info.Mountpoint}})
	mount.Set(1)
	parts := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ossmount_upload_parts_in_flight",
		Help: "Multipart upload parts (UploadPart, UploadPartCopy) being sent."},
		func() float64 { return float64(m.oss.partsBusy.Load()) })
	perMiB := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ossmount_read_gets_per_mebibyte",
		Help: "GetObject requests per MiB answered to reads since the mount (0 before any read)."},
		m.getsPerMiB)
	reg.MustRegister(build, mount, parts, perMiB,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// getsPerMiB is the number of GETs per MiB answered to reads.
func (m *Metrics) getsPerMiB() float64 {
	read := m.fuse.read.Load()
	if read == 0 {
		return 0
	}
	return float64(m.oss.gets.Load()) / (float64(read) / (1 << 20))
}

// OSS is the observer to give the mount's client (ossapi.Config.Observer).
func (m *Metrics) OSS() ossapi.Observer { return m.oss }

// WatchFS adds the file system's numbers, read at each scrape.
func (m *Metrics) WatchFS(src FSSource) { m.reg.MustRegister(newFSCollector(src)) }

// WatchCredentials adds the credentials' source, expiry and renewals, read
// at each scrape.
func (m *Metrics) WatchCredentials(src CredentialsSource) { m.reg.MustRegister(newCredsCollector(src)) }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

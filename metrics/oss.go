package metrics

import (
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ossmount/ossmount/ossapi"
)

// Latency buckets in seconds: a cached answer to a stalled request.
var (
	ossBuckets  = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	fuseBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
)

// ossMetrics is the ossapi.Observer of one mount's client.
type ossMetrics struct {
	requests *prometheus.CounterVec   // operation, outcome
	errors   *prometheus.CounterVec   // operation, kind
	retries  *prometheus.CounterVec   // operation
	latency  *prometheus.HistogramVec // operation
	inFlight *prometheus.GaugeVec     // operation
	sent     *prometheus.CounterVec   // operation
	received *prometheus.CounterVec   // operation

	gets      atomic.Int64 // GetObject calls, for GETs per MiB read
	partsBusy atomic.Int64 // UploadPart and UploadPartCopy calls under way
}

var _ ossapi.Observer = (*ossMetrics)(nil)

func newOSSMetrics(reg prometheus.Registerer) *ossMetrics {
	op := []string{"operation"}
	m := &ossMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ossmount_oss_requests_total",
			Help: "OSS requests by operation and outcome: ok (first attempt), retried (succeeded after retries), failed."},
			[]string{"operation", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ossmount_oss_request_errors_total",
			Help: "Failed OSS requests by operation and error kind (not_exist, permission, expired, throttled, transient, ...)."},
			[]string{"operation", "kind"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ossmount_oss_retries_total",
			Help: "HTTP attempts of OSS requests after their first attempt."}, op),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ossmount_oss_request_duration_seconds",
			Help: "Time from the start of an OSS request to its answer (response headers), retries included.", Buckets: ossBuckets}, op),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ossmount_oss_requests_in_flight",
			Help: "OSS requests under way."}, op),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ossmount_oss_sent_bytes_total",
			Help: "Object data sent in OSS requests that succeeded (PUT, parts, appends)."}, op),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ossmount_oss_received_bytes_total",
			Help: "Object data received from OSS (GET bodies), counted as it is read."}, op),
	}
	reg.MustRegister(m.requests, m.errors, m.retries, m.latency, m.inFlight, m.sent, m.received)
	return m
}

func isPart(op string) bool { return op == "UploadPart" || op == "UploadPartCopy" }

func (m *ossMetrics) Started(op string) {
	m.inFlight.WithLabelValues(op).Inc()
	if isPart(op) {
		m.partsBusy.Add(1)
	}
}

func (m *ossMetrics) Retried(op string) { m.retries.WithLabelValues(op).Inc() }

func (m *ossMetrics) Finished(op string, attempts int, d time.Duration, sent int64, err *ossapi.Error) {
	m.inFlight.WithLabelValues(op).Dec()
	if isPart(op) {
		m.partsBusy.Add(-1)
	}
	if op == "GetObject" {
		m.gets.Add(1)
	}
	m.requests.WithLabelValues(op, ossapi.OutcomeOf(attempts, err)).Inc()
	if err != nil {
		m.errors.WithLabelValues(op, kindLabel(err.Kind)).Inc()
	}
	m.latency.WithLabelValues(op).Observe(d.Seconds())
	if sent > 0 {
		m.sent.WithLabelValues(op).Add(float64(sent))
	}
}

func (m *ossMetrics) Received(op string, n int64) { m.received.WithLabelValues(op).Add(float64(n)) }

// kindLabel spells an error kind in snake case: NotExist -> not_exist.
func kindLabel(k ossapi.Kind) string {
	var b strings.Builder
	for i, r := range k.String() {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Package osstest is an in-process server that speaks the Alibaba Cloud OSS
// REST API well enough for the real SDKs and tools to run against it, shaped
// like net/http/httptest: NewServer starts it on a loopback port, URL names
// it, Close stops it.
//
// It is faithful rather than forgiving: every request must be signed (V1 or
// V4, header or presigned query) with one of the configured keys or with a
// security token from MintSTS, errors carry the codes and statuses OSS uses,
// and ETag, CRC-64 and the listing, multipart, append, copy and PostObject
// rules follow the service. Tests seed and inspect objects directly
// (PutObject, GetObject, Keys), count requests per operation (Count),
// inject failures (AddFault: errors, latency, stalls, cut or stalled
// bodies), take the whole server down and back up (SetDown), and model a
// network with latency, bandwidth and request-rate limits
// (Options.Network, SetNetwork; network.go).
//
// Emulated: bucket create/delete/info/location/list; PutObject, GetObject
// (single ranges, x-oss-range-behavior, conditional headers, response-*
// overrides), HeadObject, GetObjectMeta, DeleteObject,
// DeleteMultipleObjects, CopyObject, AppendObject, ListObjects (v1 and v2),
// the multipart operations including UploadPartCopy, and PostObject (V1 and
// V4 forms with policies). Addressing is path style, or virtual-hosted when
// the Host header starts with a known bucket name.
//
// Not emulated: versioning, ACLs and bucket policies (every signed request
// by a known key is allowed), tagging, symlinks, callbacks, server-side
// encryption, storage classes other than Standard, image processing,
// traffic limits, and verification of a non-UNSIGNED x-oss-content-sha256
// payload hash. Such requests get 501 NotImplemented or are ignored.
//
// With Options.DataDir the objects, buckets and unfinished multipart uploads
// are kept in files (written to a temporary name and renamed) and survive a
// restart; one server at a time may use a directory.
package osstest

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Options configures a Server.
type Options struct {
	Region        string            // e.g. "cn-hangzhou"; used in the V4 scope check
	Buckets       []string          // created at start
	Credentials   map[string]string // access key id -> secret
	DataDir       string            // "" keeps objects in memory; else they are stored (and survive restarts) under this directory
	Listen        string            // "" = "127.0.0.1:0"; must be a loopback address
	Logf          func(format string, args ...any)
	RequesterPays []string // buckets that require x-oss-request-payer: requester
	Network       Network  // latency, bandwidth and request-rate model (zero: none)
}

// Server is a running OSS emulator.
type Server struct {
	opt      Options
	url      string
	addr     string // the listen address, kept across SetDown
	closed   chan struct{}
	closeOne sync.Once
	client   *http.Client

	lmu  sync.Mutex    // guards ln, hs, down
	ln   net.Listener  // nil while down
	hs   *http.Server  // nil while down
	down chan struct{} // closed when the server goes down; replaced when it comes back

	mu      sync.Mutex // guards buckets, the objects and uploads in them, sts
	buckets map[string]*bucket
	sts     map[string]*stsCred // by token
	stsAK   map[string]*stsCred // by access key id

	cmu    sync.Mutex // guards counts and faults
	counts map[string]int64
	faults []*faultState

	disk *diskStore // nil: objects are kept in memory

	net atomic.Pointer[netState] // the network model in force (network.go)

	corsCfg corsState // cors.go
}

// NewServer starts a server on opt.Listen (a loopback address).
func NewServer(opt Options) (*Server, error) {
	if opt.Region == "" {
		opt.Region = "cn-hangzhou"
	}
	opt.Region = strings.TrimPrefix(opt.Region, "oss-")
	listen := opt.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if err := checkLoopback(listen); err != nil {
		return nil, err
	}
	s := &Server{
		opt:     opt,
		closed:  make(chan struct{}),
		buckets: map[string]*bucket{},
		sts:     map[string]*stsCred{},
		corsCfg: corsState{byBucket: map[weak.Pointer[bucket]]*corsConfiguration{}},
		stsAK:   map[string]*stsCred{},
		counts:  map[string]int64{},
	}
	s.net.Store(newNetState(opt.Network))
	if opt.DataDir != "" {
		d, err := newDiskStore(opt.DataDir)
		if err != nil {
			return nil, err
		}
		s.disk = d
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	for _, b := range opt.Buckets {
		if err := s.CreateBucket(b); err != nil && !errors.Is(err, errBucketExists) {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.url = "http://" + s.addr
	s.client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	s.serveOn(ln)
	return s, nil
}

// serveOn starts serving on ln.
func (s *Server) serveOn(ln net.Listener) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.ln = ln
	s.hs = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: time.Minute}
	s.down = make(chan struct{})
	go s.hs.Serve(shapedListener{ln, s})
}

// SetDown(true) takes the server down as a crash or a restart does: it
// stops listening (new connections are refused) and drops every open
// connection, stalled requests included. SetDown(false) brings it back on
// the same address, with the same buckets, objects and unfinished
// uploads. Either does nothing if the server is already in that state.
func (s *Server) SetDown(down bool) error {
	s.lmu.Lock()
	isDown := s.hs == nil
	if down == isDown {
		s.lmu.Unlock()
		return nil
	}
	if down {
		hs, ch := s.hs, s.down
		s.hs, s.ln = nil, nil
		s.lmu.Unlock()
		close(ch)
		hs.Close()
		return nil
	}
	s.lmu.Unlock()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("osstest: listening again on %s: %v", s.addr, err)
	}
	s.serveOn(ln)
	return nil
}

// hold waits until r's client goes away or the server goes down or closes
// (a stalled request).
func (s *Server) hold(r *http.Request) {
	s.lmu.Lock()
	down := s.down
	s.lmu.Unlock()
	select {
	case <-r.Context().Done():
	case <-down:
	case <-s.closed:
	}
}

// checkLoopback refuses listen addresses that are not on a loopback interface.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("osstest: listen address %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("osstest: listen address %q is not a loopback address", addr)
	}
	return nil
}

// URL returns the base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.url }

// Client returns an HTTP client suited to talking to the server.
func (s *Server) Client() *http.Client { return s.client }

// Close stops the server, ending stalled requests and closing connections.
func (s *Server) Close() {
	s.closeOne.Do(func() {
		close(s.closed)
		s.lmu.Lock()
		if s.hs != nil {
			s.hs.Close()
		}
		s.lmu.Unlock()
		if t, ok := s.client.Transport.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
	})
}

// Count returns how many requests of operation op were received.
func (s *Server) Count(op string) int64 {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.counts[op]
}

// Counts returns a copy of the non-zero counters by operation name.
func (s *Server) Counts() map[string]int64 {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	m := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		if v != 0 {
			m[k] = v
		}
	}
	return m
}

// ResetCounts sets every counter to zero.
func (s *Server) ResetCounts() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.counts = map[string]int64{}
}

func (s *Server) count(op string) {
	s.cmu.Lock()
	s.counts[op]++
	s.cmu.Unlock()
}

// newRequestID returns 24 upper-case hex characters.
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))[:n]
}

// sortedKeys returns m's keys in order (an empty map gives an empty,
// non-nil slice).
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

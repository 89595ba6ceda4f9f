// Package authtest provides fakes that play the credential-issuing side in
// tests of package auth: an STS endpoint (HTTPS, AssumeRole and
// AssumeRoleWithOIDC), an ECS instance metadata service reached through an
// HTTP proxy, and a credentials URI server. All of them listen on 127.0.0.1
// only and hand out credentials produced by a caller-supplied Minter
// (typically the OSS emulator's MintSTS), so the tokens are accepted by the
// emulated bucket.
//
// TLS: every STS server's certificate is signed by one CA generated freshly
// for the test process (see CAFile). Go's crypto/x509 loads the system roots
// (honouring SSL_CERT_FILE) only once per process, so a test binary should
// set SSL_CERT_FILE to CAFile() in TestMain before any TLS connection is
// made.
package authtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Minter mints temporary credentials valid for ttl.
type Minter func(ttl time.Duration) (ak, secret, token string)

// expFormat is the expiration format credentials-go parses.
const expFormat = "2006-01-02T15:04:05Z"

// server is what the three fakes share: a listener on 127.0.0.1, an
// http.Server, a minter, a ttl, the outage switches and an issue counter.
type server struct {
	addr string // 127.0.0.1:PORT, kept across SetRefusing
	h    http.Handler
	wrap func(net.Listener) net.Listener // TLS for the STS, nil otherwise
	mint Minter

	mu     sync.Mutex
	srv    *http.Server // nil while refusing connections
	ttl    time.Duration
	down   bool
	issued atomic.Int64
}

func (s *server) start(ln net.Listener, wrap func(net.Listener) net.Listener, h http.Handler) {
	s.addr, s.h, s.wrap = ln.Addr().String(), h, wrap
	s.serveOn(ln)
}

// serveOn serves on ln; s.mu held or s not yet shared.
func (s *server) serveOn(ln net.Listener) {
	if s.wrap != nil {
		ln = s.wrap(ln)
	}
	s.srv = &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // returns on Close
}

// SetDown makes the server answer 503 (true) or work normally (false).
func (s *server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// SetRefusing closes the listening socket and every open connection, so
// that clients get "connection refused" as from a stopped service (true),
// or listens again on the same address (false).
func (s *server) SetRefusing(refuse bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case refuse && s.srv != nil:
		s.srv.Close()
		s.srv = nil
	case !refuse && s.srv == nil:
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return err
		}
		s.serveOn(ln)
	}
	return nil
}

// SetTTL changes the lifetime of credentials issued from now on.
func (s *server) SetTTL(ttl time.Duration) {
	s.mu.Lock()
	s.ttl = ttl
	s.mu.Unlock()
}

// Issued reports how many credentials the server has handed out.
func (s *server) Issued() int { return int(s.issued.Load()) }

// Count is Issued.
func (s *server) Count() int { return s.Issued() }

// Close stops the server.
func (s *server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

func (s *server) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// issue mints credentials and returns them with their expiration, formatted
// the way Alibaba Cloud services do (UTC, whole seconds).
func (s *server) issue() (ak, secret, token, exp string) {
	s.mu.Lock()
	ttl := s.ttl
	s.mu.Unlock()
	s.issued.Add(1)
	// Round the expiration down so it never claims more than the minter
	// granted.
	e := time.Now().Add(ttl).UTC().Truncate(time.Second)
	ak, secret, token = s.mint(ttl)
	return ak, secret, token, e.Format(expFormat)
}

// issueJSON issues credentials as ECS metadata and credentials URIs
// answer them.
func (s *server) issueJSON() map[string]string {
	ak, secret, token, exp := s.issue()
	return map[string]string{
		"Code":            "Success",
		"AccessKeyId":     ak,
		"AccessKeySecret": secret,
		"SecurityToken":   token,
		"Expiration":      exp,
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck
}

func requestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func listenLocal() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

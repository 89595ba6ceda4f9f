package authtest

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metadataHost is the address of the ECS instance metadata service.
const metadataHost = "100.100.100.200"

// ECSProxy is a fake ECS instance metadata service. It is an HTTP proxy:
// used as HTTP_PROXY, it answers the requests for http://100.100.100.200/
// itself and refuses every other destination with 403, so nothing leaves
// the machine.
type ECSProxy struct {
	server
	role string

	tmu         sync.Mutex
	tokens      map[string]time.Time
	requireV2   bool
	tokenIssued atomic.Int64
}

// NewECSProxy starts a fake metadata service offering credentials of the
// given RAM role, minted by mint and valid for ttl.
func NewECSProxy(mint Minter, role string, ttl time.Duration) (*ECSProxy, error) {
	ln, err := listenLocal()
	if err != nil {
		return nil, err
	}
	p := &ECSProxy{role: role, tokens: map[string]time.Time{}}
	p.mint, p.ttl = mint, ttl
	p.start(ln, nil, http.HandlerFunc(p.serve))
	return p, nil
}

// URL returns the proxy URL, the value for HTTP_PROXY.
func (p *ECSProxy) URL() string { return "http://" + p.addr }

// SetRequireIMDSv2 makes the metadata service refuse (401) requests that do
// not carry a valid x-aliyun-ecs-metadata-token (hardened mode).
func (p *ECSProxy) SetRequireIMDSv2(require bool) {
	p.tmu.Lock()
	p.requireV2 = require
	p.tmu.Unlock()
}

// TokensIssued reports how many IMDSv2 session tokens were handed out.
func (p *ECSProxy) TokensIssued() int { return int(p.tokenIssued.Load()) }

func (p *ECSProxy) serve(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Host
	if host == "" {
		host = r.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if r.Method == http.MethodConnect || host != metadataHost {
		http.Error(w, "authtest: this proxy only serves "+metadataHost, http.StatusForbidden)
		return
	}
	if p.isDown() {
		http.Error(w, "metadata service unavailable", http.StatusServiceUnavailable)
		return
	}
	const credPrefix = "/latest/meta-data/ram/security-credentials/"
	switch {
	case r.URL.Path == "/latest/api/token":
		if r.Method != http.MethodPut {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		secs, err := strconv.Atoi(r.Header.Get("X-aliyun-ecs-metadata-token-ttl-seconds"))
		if err != nil || secs < 1 || secs > 21600 {
			http.Error(w, "bad X-aliyun-ecs-metadata-token-ttl-seconds", http.StatusBadRequest)
			return
		}
		var b [16]byte
		rand.Read(b[:])
		tok := hex.EncodeToString(b[:])
		p.tmu.Lock()
		p.tokens[tok] = time.Now().Add(time.Duration(secs) * time.Second)
		p.tokenIssued.Add(1)
		p.tmu.Unlock()
		w.Write([]byte(tok)) //nolint:errcheck
		return
	case r.Method != http.MethodGet:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	case !p.tokenOK(r.Header.Get("X-aliyun-ecs-metadata-token")):
		http.Error(w, "missing or invalid metadata token", http.StatusUnauthorized)
		return
	case r.URL.Path == credPrefix:
		w.Write([]byte(p.role)) //nolint:errcheck
		return
	case strings.HasPrefix(r.URL.Path, credPrefix) && r.URL.Path[len(credPrefix):] == p.role:
		creds := p.issueJSON()
		creds["LastUpdated"] = time.Now().UTC().Format(expFormat)
		writeJSON(w, http.StatusOK, creds)
		return
	default:
		http.NotFound(w, r)
	}
}

func (p *ECSProxy) tokenOK(tok string) bool {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	if tok == "" {
		return !p.requireV2
	}
	exp, ok := p.tokens[tok]
	return ok && time.Now().Before(exp)
}

// CredURI is a fake credentials URI server (ALIBABA_CLOUD_CREDENTIALS_URI).
type CredURI struct {
	server
}

// NewCredentialsURI starts a server whose GET answers credentials minted by
// mint and valid for ttl.
func NewCredentialsURI(mint Minter, ttl time.Duration) (*CredURI, error) {
	ln, err := listenLocal()
	if err != nil {
		return nil, err
	}
	c := &CredURI{}
	c.mint, c.ttl = mint, ttl
	c.start(ln, nil, http.HandlerFunc(c.serve))
	return c, nil
}

// URL returns the credentials URI.
func (c *CredURI) URL() string { return "http://" + c.addr + "/credentials" }

func (c *CredURI) serve(w http.ResponseWriter, r *http.Request) {
	if c.isDown() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"Code": "ServiceUnavailable"})
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, http.StatusOK, c.issueJSON())
}

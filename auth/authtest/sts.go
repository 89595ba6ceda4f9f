package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// processCA is the CA every STS of this process signs its certificate with.
var processCA struct {
	once sync.Once
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
	err  error
}

func loadCA() error {
	processCA.once.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			processCA.err = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "ossmount authtest CA", Organization: []string{"ossmount tests"}},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(7 * 24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			processCA.err = err
			return
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			processCA.err = err
			return
		}
		dir, err := os.MkdirTemp("", "ossmount-authtest-ca-")
		if err != nil {
			processCA.err = err
			return
		}
		file := filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			processCA.err = err
			return
		}
		processCA.cert, processCA.key, processCA.file = cert, key, file
	})
	return processCA.err
}

// CAFile returns the path of the PEM file holding the CA that signs every
// STS certificate of this process, generating the CA on first use. Point
// SSL_CERT_FILE at it before the process makes its first TLS connection.
func CAFile() (string, error) {
	if err := loadCA(); err != nil {
		return "", err
	}
	return processCA.file, nil
}

func leafCert() (tls.Certificate, error) {
	if err := loadCA(); err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, processCA.cert, &key.PublicKey, processCA.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, processCA.cert.Raw}, PrivateKey: key}, nil
}

// STS is a fake Security Token Service speaking HTTPS on 127.0.0.1.
type STS struct {
	server
	callerKeys map[string]string
}

// NewSTS starts a fake STS. It issues credentials from mint that expire
// after ttl. callerKeys maps the AccessKeyIds allowed to call AssumeRole to
// their secrets; AssumeRole requests must be signed (HMAC-SHA1, RPC style)
// with one of them. A nil map accepts any caller without checking the
// signature. AssumeRoleWithOIDC only checks that its parameters are present.
func NewSTS(mint Minter, ttl time.Duration, callerKeys map[string]string) (*STS, error) {
	cert, err := leafCert()
	if err != nil {
		return nil, fmt.Errorf("authtest: making STS certificate: %w", err)
	}
	ln, err := listenLocal()
	if err != nil {
		return nil, err
	}
	s := &STS{callerKeys: callerKeys}
	s.mint, s.ttl = mint, ttl
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.start(ln, func(l net.Listener) net.Listener { return tls.NewListener(l, tlsConfig) }, http.HandlerFunc(s.serve))
	return s, nil
}

// Host returns "127.0.0.1:PORT", the value for auth.Options.STSEndpoint.
func (s *STS) Host() string { return s.addr }

// CAFile returns the path of the PEM file of the CA that signed the
// server's certificate (the same for every STS of the process).
func (s *STS) CAFile() string { return processCA.file }

type stsError struct {
	RequestID string `json:"RequestId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
}

func (s *STS) fail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, stsError{RequestID: requestID(), Code: code, Message: msg})
}

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	if s.isDown() {
		s.fail(w, http.StatusServiceUnavailable, "ServiceUnavailable", "the fake STS is down")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.fail(w, http.StatusMethodNotAllowed, "UnsupportedHTTPMethod", "use GET or POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, http.StatusBadRequest, "InvalidParameter", "cannot parse the request")
		return
	}
	role := r.Form.Get("RoleArn")
	switch action := r.Form.Get("Action"); action {
	case "AssumeRole":
		if code, msg := s.checkSignature(r); code != "" {
			s.fail(w, http.StatusBadRequest, code, msg)
			return
		}
	case "AssumeRoleWithOIDC":
		for _, p := range []string{"OIDCProviderArn", "OIDCToken", "RoleArn"} {
			if r.Form.Get(p) == "" {
				s.fail(w, http.StatusBadRequest, "MissingParameter", p+" is mandatory for this action")
				return
			}
		}
	default:
		s.fail(w, http.StatusBadRequest, "InvalidAction.NotFound", "unsupported action "+url.QueryEscape(action))
		return
	}
	if role == "" {
		s.fail(w, http.StatusBadRequest, "MissingRoleArn", "RoleArn is mandatory for this action")
		return
	}
	session := r.Form.Get("RoleSessionName")
	ak, secret, token, exp := s.issue()
	writeJSON(w, http.StatusOK, map[string]any{
		"RequestId": requestID(),
		"AssumedRoleUser": map[string]string{
			"Arn":           role + "/" + session,
			"AssumedRoleId": "300000000000000000:" + session,
		},
		"Credentials": map[string]string{
			"AccessKeyId":     ak,
			"AccessKeySecret": secret,
			"SecurityToken":   token,
			"Expiration":      exp,
		},
	})
}

// checkSignature verifies an RPC-style (signature version 1.0) request
// signature. It returns an STS error code and message on failure.
func (s *STS) checkSignature(r *http.Request) (code, msg string) {
	ak := r.Form.Get("AccessKeyId")
	if ak == "" {
		return "MissingAccessKeyId", "AccessKeyId is mandatory for this action"
	}
	if s.callerKeys == nil {
		return "", ""
	}
	secret, ok := s.callerKeys[ak]
	if !ok {
		return "InvalidAccessKeyId.NotFound", "Specified access key is not found."
	}
	if m := r.Form.Get("SignatureMethod"); m != "HMAC-SHA1" {
		return "InvalidSignatureMethod", "only HMAC-SHA1 is supported"
	}
	params := url.Values{}
	for k, v := range r.Form {
		if k != "Signature" && len(v) > 0 {
			params.Set(k, v[0])
		}
	}
	canon := params.Encode()
	canon = strings.ReplaceAll(canon, "+", "%20")
	canon = strings.ReplaceAll(canon, "*", "%2A")
	canon = strings.ReplaceAll(canon, "%7E", "~")
	toSign := r.Method + "&%2F&" + url.QueryEscape(canon)
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(toSign))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(r.Form.Get("Signature"))) {
		return "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
	}
	return "", ""
}

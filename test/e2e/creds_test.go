package e2e

// End-to-end tests of the credential sources: every source mounts the
// emulator and reads and writes; temporary credentials are renewed in the
// background for minutes without a failed operation; an STS outage is
// ridden out while the credentials are valid, fails with EACCES (one log
// line) past their expiry and heals by itself; bad settings fail before
// anything is mounted with one clear line. Secrets never reach the log.
//
// The credential-issuing side is played by package authtest (fake STS over
// HTTPS, ECS metadata through HTTP_PROXY, credentials URI), minting with
// the emulator's MintSTS so the OSS side accepts the tokens until they
// expire. Requests reach the emulator through a small recording proxy
// (credSpy) that counts the distinct security tokens the server saw.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/auth/authtest"
	"github.com/ossmount/ossmount/internal/testenv"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

const (
	credRole     = "acs:ram::1234567890123456:role/ossmount-e2e"
	credOIDCProv = "acs:ram::1234567890123456:oidc-provider/ossmount-e2e"
	credECSRole  = "ossmount-e2e-ecs"
	// noCache makes every file system operation reach the server.
	noCache = "stat_cache_ttl=0,negative_cache_ttl=0,list_cache_ttl=0"
)

// credSecrets remembers every secret of a test (minted secrets and tokens,
// keys, OIDC tokens) so logs can be checked for leaks.
type credSecrets struct {
	mu sync.Mutex
	s  []string
}

func (c *credSecrets) add(s ...string) {
	c.mu.Lock()
	c.s = append(c.s, s...)
	c.mu.Unlock()
}

// minter mints credentials the emulator accepts and remembers them.
func (c *credSecrets) minter(srv *osstest.Server) authtest.Minter {
	return func(ttl time.Duration) (string, string, string) {
		ak, secret, token := srv.MintSTS(ttl)
		c.add(secret, token)
		return ak, secret, token
	}
}

// check fails the test if text holds any remembered secret.
func (c *credSecrets) check(t testing.TB, what, text string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range append([]string{testSK}, c.s...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s leaks a secret (%.6s...)", what, s)
		}
	}
}

// credSpy is a reverse proxy in front of the emulator recording the
// security tokens of the requests the server accepted and the denials.
type credSpy struct {
	url string

	mu        sync.Mutex
	tokens    map[string]bool // accepted requests' tokens
	accepted  int             // answers other than 403 and 5xx
	signed    int             // accepted requests that carried a token
	denied    int             // 403 answers
	failed    int             // 5xx answers
	proxyErrs int             // requests that got no answer (client gone)
}

func newCredSpy(t testing.TB, srv *osstest.Server) *credSpy {
	t.Helper()
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	s := &credSpy{tokens: map[string]bool{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Mostly requests the client gave up on (canceled reads).
			s.mu.Lock()
			s.proxyErrs++
			s.mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
		},
		ModifyResponse: func(resp *http.Response) error {
			tok := resp.Request.Header.Get("x-oss-security-token")
			s.mu.Lock()
			defer s.mu.Unlock()
			switch {
			case resp.StatusCode == http.StatusForbidden:
				s.denied++
			case resp.StatusCode >= 500:
				s.failed++
			default:
				s.accepted++
				if tok != "" {
					s.signed++
					s.tokens[tok] = true
				}
			}
			return nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: rp, ReadHeaderTimeout: time.Minute}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	s.url = "http://" + ln.Addr().String()
	return s
}

type spyStats struct{ tokens, accepted, signed, denied, failed, proxyErrs int }

func (s *credSpy) stats() spyStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return spyStats{len(s.tokens), s.accepted, s.signed, s.denied, s.failed, s.proxyErrs}
}

// credEnvFor is a clean environment for ossmount: none of the caller's
// credentials, proxies or CA settings, HOME at home, plus extra.
func credEnvFor(home string, extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		switch {
		case strings.HasPrefix(name, "ALIBABA_CLOUD_"), strings.HasPrefix(name, "OSS_"),
			strings.HasPrefix(name, "SSL_CERT_"), strings.EqualFold(name, "HTTP_PROXY"),
			strings.EqualFold(name, "HTTPS_PROXY"), strings.EqualFold(name, "NO_PROXY"),
			strings.EqualFold(name, "ALL_PROXY"), name == "HOME":
			continue
		}
		env = append(env, e)
	}
	return append(append(env, "HOME="+home), extra...)
}

// caFile is the CA every fake STS certificate is signed with.
func caFile(t testing.TB) string {
	t.Helper()
	f, err := authtest.CAFile()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// startCredMount runs `ossmount -f test DIR` against endpoint with env and
// waits until the mount answers.
func startCredMount(t testing.TB, endpoint string, env []string, opts ...string) *mount {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-f", "test", dir, "-o", "endpoint=" + endpoint + ",region=" + testRegion}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	return launchMount(t, dir, env, args)
}

// failMount runs ossmount expecting it to refuse to mount; it returns the
// output.
func failMount(t *testing.T, endpoint string, env []string, opts ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-f", "test", dir, "-o", "endpoint=" + endpoint + ",region=" + testRegion + ",retry_max=1,timeout=5s"}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	cmd := exec.Command(ossmountBin, args...)
	cmd.Env = env
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	mounted := false
	var err error
	timeout := time.After(30 * time.Second)
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-timeout:
			cmd.Process.Kill()
			<-done
			exec.Command("umount", "-l", dir).Run()
			t.Fatalf("ossmount still running after 30 s; want a quick refusal\n%s", out.String())
		case <-time.After(10 * time.Millisecond):
			mounted = mounted || isMounted(dir)
		}
	}
	if mounted || isMounted(dir) {
		exec.Command("umount", "-l", dir).Run()
		t.Errorf("the bucket was mounted before ossmount failed")
	}
	if err == nil {
		t.Fatalf("ossmount exited 0; want a failure\n%s", out.String())
	}
	return out.String()
}

// credReadWrite writes a file through the mount and reads it back, checks
// the server holds it, reads an object put on the server and lists.
func credReadWrite(t *testing.T, m *mount, srv *osstest.Server, name string) {
	t.Helper()
	data := randBytes(200<<10 + 17)
	if err := os.WriteFile(m.path(name), data, 0o644); err != nil {
		t.Fatalf("write %s: %v\n%s", name, err, m.log.String())
	}
	got, err := os.ReadFile(m.path(name))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %s: %v (%d bytes, want %d)\n%s", name, err, len(got), len(data), m.log.String())
	}
	if b, _, err := srv.GetObject("test", name); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("object %s on the server: %v (%d bytes, want %d)", name, err, len(b), len(data))
	}
	seed := randBytes(3000)
	if err := srv.PutObject("test", "seeded-"+name, seed, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(m.path("seeded-" + name)); err != nil || !bytes.Equal(got, seed) {
		t.Fatalf("read seeded object: %v\n%s", err, m.log.String())
	}
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	found := false
	for _, e := range ents {
		found = found || e.Name() == name
	}
	if !found {
		t.Errorf("listing lacks %s", name)
	}
}

// writeFile0600 writes a private file.
func writeFile0600(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCredSources mounts with each credential source, reads and writes.
func TestCredSources(t *testing.T) {
	srv := newServer(t)
	spy := newCredSpy(t, srv)
	sec := &credSecrets{}
	mint := sec.minter(srv)
	ca := caFile(t)

	sts, err := authtest.NewSTS(mint, time.Hour, map[string]string{testAK: testSK})
	if err != nil {
		t.Fatal(err)
	}
	defer sts.Close()
	ecs, err := authtest.NewECSProxy(mint, credECSRole, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer ecs.Close()
	ecs.SetRequireIMDSv2(true) // ossmount uses the hardened mode by default
	uri, err := authtest.NewCredentialsURI(mint, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer uri.Close()

	type setup struct {
		env  []string // besides HOME
		opts []string
		temp bool // temporary credentials: requests carry a minted token
	}
	cases := []struct {
		name     string
		describe string // how the mount log names the source
		setup    func(t *testing.T, home string) setup
		after    func(t *testing.T)
	}{
		{"env_ak", "env ALIBABA_CLOUD_ACCESS_KEY_ID", func(t *testing.T, home string) setup {
			return setup{env: []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + testAK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + testSK}}
		}, nil},
		{"env_oss_ak", "env OSS_ACCESS_KEY_ID", func(t *testing.T, home string) setup {
			return setup{env: []string{"OSS_ACCESS_KEY_ID=" + testAK, "OSS_ACCESS_KEY_SECRET=" + testSK}}
		}, nil},
		{"static_sts", "sts ALIBABA_CLOUD_ACCESS_KEY_ID", func(t *testing.T, home string) setup {
			ak, secret, token := mint(time.Hour)
			return setup{env: []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + ak, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + secret,
				"ALIBABA_CLOUD_SECURITY_TOKEN=" + token}, opts: []string{"credential_source=sts"}, temp: true}
		}, nil},
		{"static_sts_oss_env", "env OSS_ACCESS_KEY_ID", func(t *testing.T, home string) setup {
			ak, secret, token := mint(time.Hour)
			return setup{env: []string{"OSS_ACCESS_KEY_ID=" + ak, "OSS_ACCESS_KEY_SECRET=" + secret, "OSS_SESSION_TOKEN=" + token}, temp: true}
		}, nil},
		{"passwd_file", "passwd ", func(t *testing.T, home string) setup {
			f := filepath.Join(t.TempDir(), "passwd-ossfs")
			writeFile0600(t, f, []byte("# ossfs passwd file\notherbucket:LTAIwrong:wrong-secret-1\ntest:"+testAK+":"+testSK+"\n"))
			sec.add("wrong-secret-1")
			// Keys in the environment too: the option names the source.
			return setup{env: []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIwrongenv", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=wrong-env-secret"},
				opts: []string{"passwd_file=" + f}}
		}, nil},
		{"passwd_home", "passwd " + "", func(t *testing.T, home string) setup {
			writeFile0600(t, filepath.Join(home, ".passwd-ossfs"), []byte(testAK+":"+testSK+"\n"))
			return setup{}
		}, nil},
		{"ram_role_arn", "ram_role_arn " + credRole, func(t *testing.T, home string) setup {
			return setup{env: []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + testAK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + testSK, "SSL_CERT_FILE=" + ca},
				opts: []string{"ram_role_arn=" + credRole + ",sts_endpoint=" + sts.Host()}, temp: true}
		}, func(t *testing.T) {
			if sts.Issued() == 0 {
				t.Errorf("the STS issued nothing")
			}
		}},
		{"ecs_ram_role", "ecs_ram_role " + credECSRole + " IMDSv2-only", func(t *testing.T, home string) setup {
			return setup{env: []string{"HTTP_PROXY=" + ecs.URL(), "http_proxy=" + ecs.URL()},
				opts: []string{"ecs_ram_role=" + credECSRole}, temp: true}
		}, func(t *testing.T) {
			if ecs.Issued() == 0 || ecs.TokensIssued() == 0 {
				t.Errorf("metadata service: %d credentials, %d IMDSv2 session tokens issued; want both > 0", ecs.Issued(), ecs.TokensIssued())
			}
		}},
		{"oidc_role_arn", "oidc_role_arn " + credRole, func(t *testing.T, home string) setup {
			tok := "eyJhbGciOiJSUzI1NiJ9.ossmount-e2e-oidc-token-" + fmt.Sprint(time.Now().UnixNano()) + ".c2ln"
			sec.add(tok)
			f := filepath.Join(t.TempDir(), "oidc-token")
			writeFile0600(t, f, []byte(tok))
			return setup{env: []string{"SSL_CERT_FILE=" + ca},
				opts: []string{"oidc_role_arn=" + credRole + ",oidc_provider_arn=" + credOIDCProv + ",oidc_token_file=" + f + ",sts_endpoint=" + sts.Host()},
				temp: true}
		}, nil},
		{"oidc_via_ram_role_arn", "oidc_role_arn " + credRole, func(t *testing.T, home string) setup {
			tok := "eyJhbGciOiJSUzI1NiJ9.ossmount-e2e-oidc-token2-" + fmt.Sprint(time.Now().UnixNano()) + ".c2ln"
			sec.add(tok)
			f := filepath.Join(t.TempDir(), "oidc-token")
			writeFile0600(t, f, []byte(tok))
			// No keys anywhere: AssumeRole could not be signed, the token is used.
			return setup{env: []string{"SSL_CERT_FILE=" + ca},
				opts: []string{"ram_role_arn=" + credRole + ",oidc_provider_arn=" + credOIDCProv + ",oidc_token_file=" + f + ",sts_endpoint=" + sts.Host()},
				temp: true}
		}, nil},
		{"credentials_uri", "credentials_uri " + uri.URL(), func(t *testing.T, home string) setup {
			return setup{opts: []string{"credentials_uri=" + uri.URL()}, temp: true}
		}, func(t *testing.T) {
			if uri.Issued() == 0 {
				t.Errorf("the credentials URI issued nothing")
			}
		}},
		{"cli_profile", "profile ossmount in " + "", func(t *testing.T, home string) setup {
			ak, secret, token := mint(time.Hour)
			cfg, _ := json.Marshal(map[string]any{
				"current": "default",
				"profiles": []map[string]any{
					{"name": "default", "mode": "AK", "access_key_id": "LTAIwrongprofile", "access_key_secret": "wrong-profile-secret"},
					{"name": "ossmount", "mode": "StsToken", "access_key_id": ak, "access_key_secret": secret, "sts_token": token, "region_id": testRegion},
				},
			})
			sec.add("wrong-profile-secret")
			writeFile0600(t, filepath.Join(home, ".aliyun", "config.json"), cfg)
			return setup{opts: []string{"profile=ossmount"}, temp: true}
		}, nil},
		{"credential_process", "process creds.sh", func(t *testing.T, home string) setup {
			dir := t.TempDir()
			ak, secret, token := mint(time.Hour)
			out, _ := json.Marshal(map[string]string{"mode": "StsToken", "access_key_id": ak, "access_key_secret": secret,
				"sts_token": token, "expiration": time.Now().Add(59 * time.Minute).UTC().Format(time.RFC3339)})
			writeFile0600(t, filepath.Join(dir, "creds.json"), out)
			script := filepath.Join(dir, "creds.sh")
			if err := os.WriteFile(script, []byte("#!/bin/sh\nexec cat '"+filepath.Join(dir, "creds.json")+"'\n"), 0o700); err != nil {
				t.Fatal(err)
			}
			return setup{opts: []string{"credential_process=" + script}, temp: true}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			s := c.setup(t, home)
			before := spy.stats()
			m := startCredMount(t, spy.url, credEnvFor(home, s.env...), s.opts...)
			credReadWrite(t, m, srv, c.name+".bin")
			m.stop()
			log := m.log.String()
			if !strings.Contains(log, `credentials="`+c.describe) {
				t.Errorf("the mount did not use source %q:\n%s", c.describe, log)
			}
			sec.check(t, "the ossmount log", log)
			after := spy.stats()
			if after.denied != before.denied || after.failed != before.failed {
				t.Errorf("server denied %d and failed %d requests", after.denied-before.denied, after.failed-before.failed)
			}
			signed := after.signed - before.signed
			if s.temp && signed == 0 {
				t.Errorf("no request carried a security token; want temporary credentials")
			}
			if !s.temp && signed != 0 {
				t.Errorf("%d requests carried a security token; want the long-term key", signed)
			}
			if c.after != nil {
				c.after(t)
			}
		})
	}
}

// TestCredBadValues: a bad credential setting fails the mount with one
// clear line, a non-zero exit and no secret, before anything is mounted.
func TestCredBadValues(t *testing.T) {
	srv := newServer(t)
	sec := &credSecrets{}
	ca := caFile(t)
	sts, err := authtest.NewSTS(sec.minter(srv), time.Hour, map[string]string{testAK: testSK})
	if err != nil {
		t.Fatal(err)
	}
	defer sts.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	akEnv := []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + testAK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + testSK}
	const leaked = "do-not-print-this-secret-42"
	sec.add(leaked)

	cases := []struct {
		name  string
		setup func(t *testing.T, home, dir string) ([]string, []string) // env, options
		want  []string                                                  // substrings of the one line
	}{
		{"passwd_mode_0644", func(t *testing.T, home, dir string) ([]string, []string) {
			f := filepath.Join(dir, "passwd-ossfs")
			os.WriteFile(f, []byte(testAK+":"+testSK+"\n"), 0o644)
			os.Chmod(f, 0o644)
			return nil, []string{"passwd_file=" + f}
		}, []string{"chmod 600", "passwd-ossfs", "0644"}},
		{"passwd_home_mode_0640", func(t *testing.T, home, dir string) ([]string, []string) {
			f := filepath.Join(home, ".passwd-ossfs")
			os.WriteFile(f, []byte(testAK+":"+testSK+"\n"), 0o640)
			os.Chmod(f, 0o640)
			return nil, nil
		}, []string{"chmod 600", ".passwd-ossfs"}},
		{"passwd_malformed", func(t *testing.T, home, dir string) ([]string, []string) {
			f := filepath.Join(dir, "passwd-ossfs")
			writeFile0600(t, f, []byte("not-a-valid-line-"+leaked+"\n"))
			return nil, []string{"passwd_file=" + f}
		}, []string{"line 1", "AK:SK"}},
		{"unknown_source", func(t *testing.T, home, dir string) ([]string, []string) {
			return akEnv, []string{"credential_source=magic"}
		}, []string{"credential_source", "magic"}},
		{"two_sources", func(t *testing.T, home, dir string) ([]string, []string) {
			return akEnv, []string{"credentials_uri=http://127.0.0.1:1/c,credential_process=/bin/true"}
		}, []string{"credentials_uri", "credential_process"}},
		{"bad_duration", func(t *testing.T, home, dir string) ([]string, []string) {
			return akEnv, []string{"ram_role_arn=" + credRole + ",sts_endpoint=" + sts.Host() + ",role_session_duration=forever"}
		}, []string{"role_session_duration", "forever"}},
		{"sts_endpoint_url", func(t *testing.T, home, dir string) ([]string, []string) {
			return akEnv, []string{"ram_role_arn=" + credRole + ",sts_endpoint=https://" + sts.Host()}
		}, []string{"sts_endpoint"}},
		{"half_env_pair", func(t *testing.T, home, dir string) ([]string, []string) {
			return []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + testAK}, nil
		}, []string{"ALIBABA_CLOUD_ACCESS_KEY_SECRET"}},
		{"no_credentials", func(t *testing.T, home, dir string) ([]string, []string) {
			return nil, []string{"passwd_file=" + filepath.Join(dir, "missing")}
		}, []string{filepath.Join("missing")}},
		{"role_wrong_base_secret", func(t *testing.T, home, dir string) ([]string, []string) {
			return []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + testAK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + leaked, "SSL_CERT_FILE=" + ca},
				[]string{"ram_role_arn=" + credRole + ",sts_endpoint=" + sts.Host()}
		}, []string{"ram_role_arn", "SignatureDoesNotMatch"}},
		{"role_untrusted_sts", func(t *testing.T, home, dir string) ([]string, []string) {
			// Without SSL_CERT_FILE the fake STS's certificate is not trusted.
			return akEnv, []string{"ram_role_arn=" + credRole + ",sts_endpoint=" + sts.Host()}
		}, []string{"ram_role_arn", "certificate"}},
		{"uri_unreachable", func(t *testing.T, home, dir string) ([]string, []string) {
			return nil, []string{"credentials_uri=http://" + closedAddr + "/creds?token=" + leaked}
		}, []string{"credentials_uri", "refused"}},
		{"oidc_token_missing", func(t *testing.T, home, dir string) ([]string, []string) {
			return []string{"SSL_CERT_FILE=" + ca}, []string{"oidc_role_arn=" + credRole + ",oidc_provider_arn=" + credOIDCProv +
				",oidc_token_file=" + filepath.Join(dir, "no-token") + ",sts_endpoint=" + sts.Host()}
		}, []string{"oidc_role_arn", "no-token"}},
		{"process_bad_json", func(t *testing.T, home, dir string) ([]string, []string) {
			script := filepath.Join(dir, "bad.sh")
			os.WriteFile(script, []byte("#!/bin/sh\necho '{\"access_key_secret\": \""+leaked+"\"'\n"), 0o700)
			return nil, []string{"credential_process=" + script}
		}, []string{"process", "JSON"}},
		{"process_fails", func(t *testing.T, home, dir string) ([]string, []string) {
			script := filepath.Join(dir, "fail.sh")
			os.WriteFile(script, []byte("#!/bin/sh\necho 'vault sealed' >&2\nexit 3\n"), 0o700)
			return nil, []string{"credential_process=" + script}
		}, []string{"process", "vault sealed"}},
		{"profile_bad_json", func(t *testing.T, home, dir string) ([]string, []string) {
			f := filepath.Join(dir, "config.json")
			writeFile0600(t, f, []byte("{\"current\": \"default\", \"profiles\": [{\"name\": \"default\", \"mode\": \"AK\",\n \"access_key_id\": \"LTAIx\", \"access_key_secret\": \""+leaked+"\"\n"))
			return nil, []string{"profile_file=" + f}
		}, []string{"profile"}},
		{"profile_missing_name", func(t *testing.T, home, dir string) ([]string, []string) {
			f := filepath.Join(dir, "config.json")
			cfg, _ := json.Marshal(map[string]any{"current": "default", "profiles": []map[string]any{
				{"name": "default", "mode": "AK", "access_key_id": testAK, "access_key_secret": testSK}}})
			writeFile0600(t, f, cfg)
			return nil, []string{"profile_file=" + f + ",profile=nosuchprofile"}
		}, []string{"profile", "nosuchprofile"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home, dir := t.TempDir(), t.TempDir()
			env, opts := c.setup(t, home, dir)
			out := failMount(t, srv.URL(), credEnvFor(home, env...), opts...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 1 {
				t.Errorf("want one line of output, got %d:\n%s", len(lines), out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not mention %q:\n%s", w, out)
				}
			}
			sec.check(t, "the output", out)
			t.Logf("%s", strings.TrimSpace(out))
		})
	}
}

// credWorker does reads and writes through a mount until stopped, counting
// operations and failures.
type credWorker struct {
	m      *mount
	srv    *osstest.Server
	prefix string

	ops, fails atomic.Int64
	maxOp      atomic.Int64 // longest operation, ns

	mu     sync.Mutex
	errs   []string
	errnos map[syscall.Errno]int

	stop chan struct{}
	done chan struct{}
}

func startCredWorker(m *mount, srv *osstest.Server, prefix string, pause time.Duration) *credWorker {
	w := &credWorker{m: m, srv: srv, prefix: prefix, errnos: map[syscall.Errno]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	os.MkdirAll(m.path(prefix), 0o755)
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			start := time.Now()
			err := w.op(i)
			d := time.Since(start)
			if int64(d) > w.maxOp.Load() {
				w.maxOp.Store(int64(d))
			}
			w.ops.Add(1)
			if err != nil {
				w.fails.Add(1)
				var errno syscall.Errno
				w.mu.Lock()
				if errors.As(err, &errno) {
					w.errnos[errno]++
				}
				if len(w.errs) < 10 {
					w.errs = append(w.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
				}
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-time.After(pause):
			}
		}
	}()
	return w
}

// op writes a new file and reads it back, reads an object put on the
// server directly, removes an older file and, now and then, lists.
func (w *credWorker) op(i int) error {
	name := fmt.Sprintf("%s/f%05d", w.prefix, i)
	data := randBytes(4096 + i%7*5000)
	if err := os.WriteFile(w.m.path(name), data, 0o644); err != nil {
		return err
	}
	got, err := os.ReadFile(w.m.path(name))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("%s: read back %d bytes that differ from the %d written", name, len(got), len(data))
	}
	// Objects put behind the mount's back go to a directory the worker
	// never lists, so no cached listing hides them.
	seedKey := fmt.Sprintf("%s-seeds/seed%05d", w.prefix, i)
	seed := randBytes(1000)
	if err := w.srv.PutObject("test", seedKey, seed, nil); err != nil {
		return err
	}
	if got, err := os.ReadFile(w.m.path(seedKey)); err != nil {
		return err
	} else if !bytes.Equal(got, seed) {
		return fmt.Errorf("%s: wrong content", seedKey)
	}
	if i >= 5 {
		if err := os.Remove(w.m.path(fmt.Sprintf("%s/f%05d", w.prefix, i-5))); err != nil {
			return err
		}
	}
	if i%10 == 0 {
		if _, err := os.ReadDir(w.m.path(w.prefix)); err != nil {
			return err
		}
	}
	return nil
}

func (w *credWorker) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *credWorker) report() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d operations, %d failed (errnos %v), longest %s; first errors: %s",
		w.ops.Load(), w.fails.Load(), w.errnos, time.Duration(w.maxOp.Load()).Round(time.Millisecond), strings.Join(w.errs, "; "))
}

// roleMount starts an emulator, a recording proxy, a fake STS issuing
// tokens of ttl and a mount assuming a role through it.
func roleMount(t *testing.T, ttl time.Duration, opts ...string) (*osstest.Server, *credSpy, *authtest.STS, *mount, *credSecrets) {
	t.Helper()
	srv := newServer(t)
	spy := newCredSpy(t, srv)
	sec := &credSecrets{}
	sts, err := authtest.NewSTS(sec.minter(srv), ttl, map[string]string{testAK: testSK})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sts.Close)
	env := credEnvFor(t.TempDir(), "ALIBABA_CLOUD_ACCESS_KEY_ID="+testAK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET="+testSK, "SSL_CERT_FILE="+caFile(t))
	opts = append([]string{"ram_role_arn=" + credRole + ",sts_endpoint=" + sts.Host()}, opts...)
	m := startCredMount(t, spy.url, env, opts...)
	return srv, spy, sts, m, sec
}

// TestCredSoak: two minutes of continuous reads and writes with 20-second
// tokens: no operation fails and the server sees a new token every ~13 s.
func TestCredSoak(t *testing.T) {
	t.Parallel()
	const soak = 2 * time.Minute
	srv, spy, sts, m, sec := roleMount(t, 20*time.Second)
	start := time.Now()
	w1 := startCredWorker(m, srv, "soak1", 20*time.Millisecond)
	w2 := startCredWorker(m, srv, "soak2", 50*time.Millisecond)
	// Check progress every 10 s: the workers never stall.
	lastOps := int64(0)
	for time.Since(start) < soak {
		time.Sleep(10 * time.Second)
		ops := w1.ops.Load() + w2.ops.Load()
		if ops == lastOps {
			t.Errorf("no operation completed between %s and %s", (time.Since(start) - 10*time.Second).Round(time.Second), time.Since(start).Round(time.Second))
		}
		lastOps = ops
	}
	w1.finish()
	w2.finish()
	st := spy.stats()
	t.Logf("soak %s: worker 1: %s", time.Since(start).Round(time.Second), w1.report())
	t.Logf("worker 2: %s", w2.report())
	t.Logf("STS issued %d tokens; the server accepted %d requests (%d with a token) carrying %d distinct tokens; %d denied, %d failed, %d abandoned by the client",
		sts.Issued(), st.accepted, st.signed, st.tokens, st.denied, st.failed, st.proxyErrs)
	t.Logf("server requests by operation: %v", srv.Counts())
	if f := w1.fails.Load() + w2.fails.Load(); f != 0 {
		t.Errorf("%d operations failed", f)
	}
	if ops := w1.ops.Load() + w2.ops.Load(); ops < 200 {
		t.Errorf("only %d operations in %s", ops, soak)
	}
	if st.tokens < 5 {
		t.Errorf("the server saw %d distinct tokens; want at least 5 (20 s tokens over %s)", st.tokens, soak)
	}
	if sts.Issued() < 5 {
		t.Errorf("the STS issued %d tokens; want at least 5", sts.Issued())
	}
	if st.denied != 0 || st.failed != 0 {
		t.Errorf("the server denied %d requests and failed %d", st.denied, st.failed)
	}
	m.stop()
	log := m.log.String()
	for _, bad := range []string{"expired", "refreshing credentials"} {
		if strings.Contains(log, bad) {
			t.Errorf("log mentions %q:\n%s", bad, log)
		}
	}
	sec.check(t, "the ossmount log", log)
}

// TestCredOutageWhileValid: the STS is down for 30 s while the current
// token is still valid: no operation fails; refresh failures are logged and
// the next refresh after the outage succeeds.
func TestCredOutageWhileValid(t *testing.T) {
	t.Parallel()
	// Two-minute tokens renewed every 5 s: when the STS goes down the
	// current token has about two minutes left, and the refresher's backoff
	// (1, 2, 4 ... 32 s) reaches the STS again well before that.
	srv, spy, sts, m, sec := roleMount(t, 2*time.Minute, "refresh_sts_token_interval=5s")
	w := startCredWorker(m, srv, "outage", 30*time.Millisecond)
	defer w.finish()
	if !credWait(15*time.Second, func() bool { return sts.Issued() >= 2 }) {
		t.Fatalf("no refresh within 15 s with refresh_sts_token_interval=5s (issued %d)\n%s", sts.Issued(), m.log.String())
	}
	sts.SetDown(true)
	downAt := time.Now()
	time.Sleep(30 * time.Second)
	sts.SetDown(false)
	issuedAtUp := sts.Issued()
	if !m.waitLog("refreshing credentials from ram_role_arn", time.Second) || !strings.Contains(m.log.String(), "failed (attempt") {
		t.Errorf("no refresh failure logged during the outage:\n%s", m.log.String())
	}
	if !credWait(60*time.Second, func() bool { return sts.Issued() > issuedAtUp }) {
		t.Errorf("no refresh succeeded within 60 s after the STS came back")
	}
	if !m.waitLog("failed_attempts=", 5*time.Second) {
		t.Errorf("no recovery logged:\n%s", m.log.String())
	}
	recovered := time.Since(downAt)
	time.Sleep(2 * time.Second) // operations with the new token
	w.finish()
	st := spy.stats()
	t.Logf("outage 30 s; refresh succeeded %s after the STS went down; %s; server saw %d tokens, denied %d",
		recovered.Round(time.Second), w.report(), st.tokens, st.denied)
	if w.fails.Load() != 0 {
		t.Errorf("%d operations failed while the token was valid", w.fails.Load())
	}
	if st.denied != 0 {
		t.Errorf("the server denied %d requests", st.denied)
	}
	m.stop()
	log := m.log.String()
	if strings.Contains(log, "credentials have expired") {
		t.Errorf("log says the credentials expired:\n%s", log)
	}
	sec.check(t, "the ossmount log", log)
}

// TestCredOutagePastExpiry: the STS is down past the token's expiry:
// operations fail with EACCES and the log says so once; when the STS is
// back the mount heals by itself.
func TestCredOutagePastExpiry(t *testing.T) {
	t.Parallel()
	srv, spy, sts, m, sec := roleMount(t, 20*time.Second, noCache)
	// Go down right after a refresh, so the current token has ~20 s left.
	n := sts.Issued()
	if !credWait(25*time.Second, func() bool { return sts.Issued() > n }) {
		t.Fatalf("no refresh within 25 s of 20 s tokens\n%s", m.log.String())
	}
	issuedAt := time.Now()
	sts.SetDown(true)
	probe := 0
	op := func() error {
		probe++
		name := fmt.Sprintf("probe%04d", probe)
		if err := os.WriteFile(m.path(name), []byte(name), 0o644); err != nil {
			return err
		}
		key := "seeded-" + name
		srv.PutObject("test", key, []byte(key), nil)
		b, err := os.ReadFile(m.path(key))
		if err == nil && string(b) != key {
			err = fmt.Errorf("%s: wrong content %q", key, b)
		}
		return err
	}
	// Before expiry: operations work.
	var firstFail time.Time
	var failErr error
	okBefore := 0
	for time.Since(issuedAt) < 35*time.Second {
		if err := op(); err != nil {
			firstFail, failErr = time.Now(), err
			break
		}
		okBefore++
		time.Sleep(200 * time.Millisecond)
	}
	if failErr == nil {
		t.Fatalf("operations still work 35 s after the STS went down with 20 s tokens\n%s", m.log.String())
	}
	expiredAfter := firstFail.Sub(issuedAt)
	if !errors.Is(failErr, syscall.EACCES) {
		t.Errorf("first failure after expiry: %v; want EACCES", failErr)
	}
	if expiredAfter < 15*time.Second || okBefore == 0 {
		t.Errorf("operations failed %s after a fresh 20 s token (%d worked before): too early", expiredAfter.Round(time.Millisecond), okBefore)
	}
	// More failures, all EACCES, for 3 s.
	eacces := 1
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if err := op(); err == nil {
			t.Errorf("an operation succeeded with expired credentials and the STS down")
		} else if errors.Is(err, syscall.EACCES) {
			eacces++
		} else {
			t.Errorf("failure with expired credentials: %v; want EACCES", err)
		}
	}
	sts.SetDown(false)
	upAt := time.Now()
	var recoveredAfter time.Duration
	for {
		if err := op(); err == nil {
			recoveredAfter = time.Since(upAt)
			break
		} else if !errors.Is(err, syscall.EACCES) {
			t.Errorf("failure while recovering: %v; want EACCES", err)
		}
		if time.Since(upAt) > 75*time.Second {
			t.Fatalf("the mount did not recover within 75 s of the STS coming back\n%s", m.log.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	// And keeps working.
	for i := 0; i < 5; i++ {
		if err := op(); err != nil {
			t.Errorf("after recovery: %v", err)
		}
	}
	st := spy.stats()
	t.Logf("%d operations worked, then EACCES %s after the last refresh (%d EACCES operations); recovered %s after the STS came back; server denied %d requests, saw %d tokens",
		okBefore, expiredAfter.Round(time.Millisecond), eacces, recoveredAfter.Round(time.Millisecond), st.denied, st.tokens)
	m.stop()
	log := m.log.String()
	if n := strings.Count(log, "credentials have expired"); n != 1 {
		t.Errorf("log has %d lines saying the credentials expired; want exactly 1:\n%s", n, log)
	}
	for _, want := range []string{"EACCES", "failed (attempt", "failed_attempts="} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	sec.check(t, "the ossmount log", log)
}

// TestCredOsslocal: osslocal runs the credential fakes with a chosen token
// lifetime and prints where they are; ossmount mounts with them.
func TestCredOsslocal(t *testing.T) {
	t.Parallel()
	const ak, sk = "LTAIosslocalkey", "osslocal-secret-0123456789"
	cmd := exec.Command(osslocalBin, "--listen", "127.0.0.1:0", "--bucket", "test", "--sts", "--ecs-role", credECSRole,
		"--ecs-imdsv2-only", "--credentials-uri", "--token-ttl", "45s")
	cmd.Env = append(credEnvFor(t.TempDir()), "OSSLOCAL_ACCESS_KEY_ID="+ak, "OSSLOCAL_ACCESS_KEY_SECRET="+sk)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	var endpoint, stsHost, ca, proxy, uri string
	timeout := time.After(20 * time.Second)
	for endpoint == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("osslocal exited: %s", stderr.String())
			}
			t.Logf("%s", l)
			field := func(key string) string {
				_, v, ok := strings.Cut(l, key)
				if !ok {
					return ""
				}
				return strings.TrimRight(strings.Fields(v)[0], ";)")
			}
			switch {
			case strings.HasPrefix(l, "osslocal: sts at "):
				stsHost, ca = field("sts_endpoint="), field("SSL_CERT_FILE=")
			case strings.HasPrefix(l, "osslocal: ecs metadata at "):
				proxy = field("HTTP_PROXY=")
			case strings.HasPrefix(l, "osslocal: credentials uri at "):
				uri = field("credentials_uri=")
			case strings.HasPrefix(l, "osslocal: listening on "):
				endpoint = strings.TrimPrefix(l, "osslocal: listening on ")
			}
		case <-timeout:
			t.Fatalf("osslocal printed no endpoint in 20 s: %s", stderr.String())
		}
	}
	if stsHost == "" || ca == "" || proxy == "" || uri == "" {
		t.Fatalf("osslocal did not print every fake: sts %q ca %q ecs %q uri %q", stsHost, ca, proxy, uri)
	}
	if strings.Contains(stderr.String(), sk) {
		t.Errorf("osslocal prints the secret")
	}
	for _, c := range []struct {
		name string
		env  []string
		opt  string
		desc string
	}{
		{"ram_role_arn", []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + ak, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + sk, "SSL_CERT_FILE=" + ca},
			"ram_role_arn=" + credRole + ",sts_endpoint=" + stsHost, "ram_role_arn"},
		{"ecs_ram_role", []string{"HTTP_PROXY=" + proxy}, "ecs_ram_role=" + credECSRole, "ecs_ram_role"},
		{"credentials_uri", nil, "credentials_uri=" + uri, "credentials_uri"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mountedAt := time.Now()
			m := startCredMount(t, endpoint, credEnvFor(t.TempDir(), c.env...), c.opt)
			data := randBytes(50000)
			if err := os.WriteFile(m.path(c.name), data, 0o644); err != nil {
				t.Fatalf("write: %v\n%s", err, m.log.String())
			}
			if got, err := os.ReadFile(m.path(c.name)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back: %v", err)
			}
			m.stop()
			log := m.log.String()
			if !strings.Contains(log, `credentials="`+c.desc) || !strings.Contains(log, "temporary, expires") {
				t.Errorf("mount did not use temporary credentials from %s:\n%s", c.desc, log)
			}
			if strings.Contains(log, sk) {
				t.Errorf("the log leaks the secret")
			}
			// --token-ttl 45s: the credentials expire ~45 s after issue.
			_, rest, _ := strings.Cut(log, "temporary, expires ")
			exp, err := time.Parse(time.RFC3339, strings.TrimRight(strings.Fields(rest + " x")[0], `)"`))
			if left := exp.Sub(mountedAt); err != nil || left < 30*time.Second || left > 47*time.Second {
				t.Errorf("credentials expire %v (%v after the mount started, err %v); want ~45 s", exp, left, err)
			}
		})
	}
	// SIGUSR2 prints how many credentials each fake issued.
	cmd.Process.Signal(syscall.SIGUSR2)
	if !credWait(5*time.Second, func() bool { return strings.Contains(stderr.String(), "credentials issued: ") }) {
		t.Fatalf("SIGUSR2 printed no counters: %s", stderr.String())
	}
	var nSTS, nECS, nURI int
	_, counts, _ := strings.Cut(stderr.String(), "credentials issued: ")
	if _, err := fmt.Sscanf(counts, "sts %d, ecs %d, credentials uri %d", &nSTS, &nECS, &nURI); err != nil || nSTS < 1 || nECS < 1 || nURI < 1 {
		t.Errorf("issue counters %q (%v); want each >= 1", strings.SplitN(counts, "\n", 2)[0], err)
	}
}

// credWait polls cond every 50 ms until it holds or timeout passes.
func credWait(timeout time.Duration, cond func() bool) bool {
	return testenv.Poll(timeout, 50*time.Millisecond, cond)
}

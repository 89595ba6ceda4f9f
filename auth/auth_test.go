package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ossmount/ossmount/auth"
	"github.com/ossmount/ossmount/auth/authtest"
	"github.com/ossmount/ossmount/ossapi"
)

const ecsRole = "ossmount-test-role"

// ecs is the process-wide fake metadata service: Go reads HTTP_PROXY once
// per process, so it is started and installed in TestMain.
var ecs *authtest.ECSProxy

func TestMain(m *testing.M) {
	// Go loads the system roots (honouring SSL_CERT_FILE) once per process
	// and the proxy settings once per process: set both before any HTTP.
	ca, err := authtest.CAFile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "CA:", err)
		os.Exit(1)
	}
	os.Setenv("SSL_CERT_FILE", ca)
	os.Unsetenv("SSL_CERT_DIR")
	ecs, err = authtest.NewECSProxy(newMinter("ecs").mint, ecsRole, time.Hour)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ECS proxy:", err)
		os.Exit(1)
	}
	for _, k := range []string{"HTTP_PROXY", "http_proxy"} {
		os.Setenv(k, ecs.URL())
	}
	for _, k := range []string{"NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy",
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED", "ALIBABA_CLOUD_IMDSV1_DISABLED", "ALIBABA_CLOUD_CLI_PROFILE_DISABLED",
		"ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_TOKEN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
		"ALIBABA_CLOUD_CREDENTIALS_URI", "ALIBABA_CLOUD_STS_REGION", "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"} {
		os.Unsetenv(k)
	}
	code := m.Run()
	ecs.Close()
	os.Exit(code)
}

// minter mints counter-based credentials and remembers every secret so
// tests can check none leaks.
type minter struct {
	prefix string
	n      atomic.Int64
}

func newMinter(prefix string) *minter { return &minter{prefix: prefix} }

func (m *minter) mint(ttl time.Duration) (ak, secret, token string) {
	n := m.n.Add(1)
	return fmt.Sprintf("STS.%s%04d", m.prefix, n), fmt.Sprintf("SECRET-%s-%04d-xyzzy", m.prefix, n), fmt.Sprintf("TOKEN-%s-%04d-plugh", m.prefix, n)
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// logRec collects log lines as "LEVEL msg key=value...".
type logRec struct {
	mu    sync.Mutex
	lines []string
}

// logger returns a logger writing to l.
func (l *logRec) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

func (l *logRec) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, strings.TrimSuffix(string(p), "\n"))
	l.mu.Unlock()
	return len(p), nil
}

// count returns how many lines contain s.
func (l *logRec) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

func (l *logRec) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *logRec) contains(s string) bool { return strings.Contains(l.all(), s) }

func mustNew(t *testing.T, opt auth.Options) *auth.Provider {
	t.Helper()
	if opt.Env == nil {
		opt.Env = envMap(nil)
	}
	p, err := auth.New(context.Background(), opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func mustCreds(t *testing.T, p *auth.Provider) ossapi.Credentials {
	t.Helper()
	c, err := p.Credentials(context.Background())
	if err != nil {
		t.Fatalf("Credentials: %v", err)
	}
	return c
}

func noSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s leaks a secret: %q", what, text)
		}
	}
	for _, s := range []string{"SECRET-", "TOKEN-"} {
		if strings.Contains(text, s) {
			t.Errorf("%s leaks minted secrets: %q", what, text)
		}
	}
}

func TestEnv(t *testing.T) {
	p := mustNew(t, auth.Options{Env: envMap(map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     "LTAIenv00001",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "envsecret1",
	})})
	c := mustCreds(t, p)
	if c.AccessKeyID != "LTAIenv00001" || c.AccessKeySecret != "envsecret1" || c.SecurityToken != "" || !c.Expiration.IsZero() {
		t.Errorf("got %+v", c)
	}
	if d := p.Describe(); !strings.HasPrefix(d, "env ALIBABA_CLOUD_ACCESS_KEY_ID") || strings.Contains(d, "envsecret1") {
		t.Errorf("Describe = %q", d)
	}

	p = mustNew(t, auth.Options{Source: "env", Env: envMap(map[string]string{
		"OSS_ACCESS_KEY_ID":     "STS.oss0001",
		"OSS_ACCESS_KEY_SECRET": "osssecret",
		"OSS_SESSION_TOKEN":     "osstoken",
	})})
	if c := mustCreds(t, p); c.AccessKeyID != "STS.oss0001" || c.SecurityToken != "osstoken" {
		t.Errorf("got %+v", c)
	}

	_, err := auth.New(context.Background(), auth.Options{Source: "env", Env: envMap(map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "halfsecret"})})
	if err == nil || !strings.Contains(err.Error(), "ALIBABA_CLOUD_ACCESS_KEY_ID") || strings.Contains(err.Error(), "halfsecret") {
		t.Errorf("half-set env: err = %v", err)
	}
	_, err = auth.New(context.Background(), auth.Options{Source: "env", Env: envMap(nil)})
	if err == nil {
		t.Error("empty env: no error")
	}
	_, err = auth.New(context.Background(), auth.Options{Source: "bogus"})
	if err == nil || !strings.Contains(err.Error(), "ram_role_arn") {
		t.Errorf("bogus source: err = %v", err)
	}
}

func TestStaticSTS(t *testing.T) {
	p := mustNew(t, auth.Options{Source: "sts", AccessKeyID: "STS.static1", AccessKeySecret: "stsecret", SecurityToken: "ststoken"})
	c := mustCreds(t, p)
	if c.AccessKeyID != "STS.static1" || c.SecurityToken != "ststoken" || !c.Expiration.IsZero() {
		t.Errorf("got %+v", c)
	}
	if d := p.Describe(); strings.Contains(d, "stsecret") || strings.Contains(d, "ststoken") {
		t.Errorf("Describe leaks: %q", d)
	}
	if _, err := auth.New(context.Background(), auth.Options{Source: "sts", AccessKeyID: "a", AccessKeySecret: "b", Env: envMap(nil)}); err == nil {
		t.Error("sts without a token: no error")
	}
	p = mustNew(t, auth.Options{AccessKeyID: "LTAIstatic1", AccessKeySecret: "s1"})
	if c := mustCreds(t, p); c.AccessKeyID != "LTAIstatic1" {
		t.Errorf("auto with explicit keys: %+v", c)
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
}

func TestPasswd(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, ".passwd-ossfs")
	writeFile(t, file, "# ossfs credentials\n\n  LTAIdefault1:defaultsecret  \nmybucket:LTAIbucket01:bucketsecret\r\nother:LTAIother001:othersecret\n", 0o600)

	for _, tc := range []struct{ bucket, want string }{
		{"mybucket", "LTAIbucket01"}, {"other", "LTAIother001"}, {"third", "LTAIdefault1"}, {"", "LTAIdefault1"},
	} {
		p := mustNew(t, auth.Options{Source: "passwd", PasswdFile: file, Bucket: tc.bucket})
		if c := mustCreds(t, p); c.AccessKeyID != tc.want {
			t.Errorf("bucket %q: got %s, want %s", tc.bucket, c.AccessKeyID, tc.want)
		}
	}

	// Auto source finds ~/.passwd-ossfs through HOME.
	p := mustNew(t, auth.Options{Bucket: "mybucket", Env: envMap(map[string]string{"HOME": dir})})
	if c := mustCreds(t, p); c.AccessKeyID != "LTAIbucket01" || c.AccessKeySecret != "bucketsecret" {
		t.Errorf("auto passwd: %+v", c)
	}
	if d := p.Describe(); !strings.Contains(d, file) || strings.Contains(d, "bucketsecret") {
		t.Errorf("Describe = %q", d)
	}

	// Readable by others: refused, with the fix and no secret.
	writeFile(t, file, "LTAIdefault1:defaultsecret\n", 0o644)
	_, err := auth.New(context.Background(), auth.Options{Source: "passwd", PasswdFile: file, Env: envMap(nil)})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), file) {
		t.Errorf("0644 file: err = %v", err)
	} else {
		noSecret(t, "error", err.Error(), "defaultsecret")
	}

	// Malformed line: error names the line, not its content.
	writeFile(t, file, "# c\nLTAIdefault1:defaultsecret:extra:x\n", 0o600)
	_, err = auth.New(context.Background(), auth.Options{Source: "passwd", PasswdFile: file, Env: envMap(nil)})
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("malformed: err = %v", err)
	} else {
		noSecret(t, "error", err.Error(), "defaultsecret")
	}

	// Only other buckets' lines.
	writeFile(t, file, "other:LTAIother001:othersecret\n", 0o600)
	_, err = auth.New(context.Background(), auth.Options{Source: "passwd", PasswdFile: file, Bucket: "mine", Env: envMap(nil)})
	if err == nil || !strings.Contains(err.Error(), `"mine"`) {
		t.Errorf("no matching bucket: err = %v", err)
	}
}

func newSTS(t *testing.T, m *minter, ttl time.Duration, keys map[string]string) *authtest.STS {
	t.Helper()
	s, err := authtest.NewSTS(m.mint, ttl, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

var baseKeys = map[string]string{"LTAIbasekey01": "basesecret-do-not-leak"}

func roleOpts(s *authtest.STS) auth.Options {
	return auth.Options{
		Source:          "ram_role_arn",
		AccessKeyID:     "LTAIbasekey01",
		AccessKeySecret: "basesecret-do-not-leak",
		RoleARN:         "acs:ram::1234567890:role/ossmount",
		RoleSessionName: "test",
		STSEndpoint:     s.Host(),
		Env:             envMap(nil),
	}
}

func TestRAMRoleARN(t *testing.T) {
	m := newMinter("role")
	s := newSTS(t, m, time.Hour, baseKeys)
	p := mustNew(t, roleOpts(s))
	c := mustCreds(t, p)
	if !strings.HasPrefix(c.AccessKeyID, "STS.role") || !strings.HasPrefix(c.SecurityToken, "TOKEN-role") {
		t.Errorf("got %+v", c)
	}
	if d := time.Until(c.Expiration); d < 58*time.Minute || d > time.Hour {
		t.Errorf("expiration %v is %v away, want about 1h", c.Expiration, d)
	}
	d := p.Describe()
	if !strings.Contains(d, "ram_role_arn acs:ram::1234567890:role/ossmount (temporary, expires 20") {
		t.Errorf("Describe = %q", d)
	}
	noSecret(t, "Describe", d, "basesecret-do-not-leak")
	if s.Issued() != 1 {
		t.Errorf("issued %d", s.Issued())
	}

	// Wrong base secret: clear error, no secret.
	opt := roleOpts(s)
	opt.AccessKeySecret = "wrongsecret-do-not-leak"
	_, err := auth.New(context.Background(), opt)
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("bad signature: err = %v", err)
	} else {
		noSecret(t, "error", err.Error(), "wrongsecret-do-not-leak")
	}

	// Down at start: New fails clearly.
	s.SetDown(true)
	_, err = auth.New(context.Background(), roleOpts(s))
	if err == nil || !strings.Contains(err.Error(), "ram_role_arn") {
		t.Errorf("down: err = %v", err)
	}
}

func TestOIDC(t *testing.T) {
	m := newMinter("oidc")
	s := newSTS(t, m, time.Hour, nil)
	tok := filepath.Join(t.TempDir(), "token")
	writeFile(t, tok, "eyJhbGciOi.fake.jwt", 0o600)
	p := mustNew(t, auth.Options{
		Source: "oidc_role_arn", RoleARN: "acs:ram::1:role/oidc", OIDCProviderARN: "acs:ram::1:oidc-provider/k8s",
		OIDCTokenFile: tok, STSEndpoint: s.Host(),
	})
	c := mustCreds(t, p)
	if !strings.HasPrefix(c.AccessKeyID, "STS.oidc") || c.Expiration.IsZero() {
		t.Errorf("got %+v", c)
	}
}

// TestRefresh: 3 s credentials are replaced several times within ~10 s,
// and Credentials never hands out expired ones.
func TestRefresh(t *testing.T) {
	t.Parallel()
	m := newMinter("refresh")
	s := newSTS(t, m, 3*time.Second, baseKeys)
	var logs logRec
	opt := roleOpts(s)
	opt.Log = logs.logger()
	p := mustNew(t, opt)
	seen := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := p.Credentials(context.Background())
		if err != nil {
			t.Fatalf("Credentials: %v", err)
		}
		if !time.Now().Before(c.Expiration) {
			t.Fatalf("got expired credentials (expired %v)", c.Expiration)
		}
		seen[c.AccessKeyID] = true
		time.Sleep(20 * time.Millisecond)
	}
	if len(seen) < 4 {
		t.Errorf("saw %d distinct credentials in 10 s, want >= 4", len(seen))
	}
	if s.Issued() < len(seen) {
		t.Errorf("issued %d < seen %d", s.Issued(), len(seen))
	}
	// One info line per renewal, with the source and the new expiry; no
	// warning. Close first so that no renewal is under way.
	p.Close()
	renewals := logs.count(`level=INFO msg="credentials renewed" source="ram_role_arn acs:ram::1234567890:role/ossmount" expires=`)
	if n := s.Issued() - 1; renewals < len(seen)-1 || renewals > n || renewals < n-1 {
		t.Errorf("%d renewal lines for %d renewals (%d distinct credentials seen)\n%s", renewals, n, len(seen), logs.all())
	}
	if logs.count("level=WARN") != 0 || logs.count("msg=") != renewals {
		t.Errorf("unexpected log lines:\n%s", logs.all())
	}
	noSecret(t, "log", logs.all(), "basesecret-do-not-leak") // and every minted secret and token
	t.Logf("%d distinct credentials, %d issued, %d renewal lines", len(seen), s.Issued(), renewals)
}

// TestSTSDown: a failing refresh keeps the current credentials while they
// are valid, then Credentials fails with KindExpired, then recovers.
func TestSTSDown(t *testing.T) {
	t.Parallel()
	m := newMinter("down")
	s := newSTS(t, m, 3*time.Second, baseKeys)
	var logs logRec
	opt := roleOpts(s)
	opt.Log = logs.logger()
	p := mustNew(t, opt)
	first := mustCreds(t, p)
	s.SetDown(true)

	// Wait for a failed refresh while the credentials are still valid.
	for !logs.contains("failed") {
		if time.Now().After(first.Expiration) {
			t.Fatal("no refresh failure logged before expiry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if time.Now().Before(first.Expiration.Add(-100 * time.Millisecond)) {
		c, err := p.Credentials(context.Background())
		if err != nil || c.AccessKeyID != first.AccessKeyID {
			t.Errorf("while valid: %v %v", c.AccessKeyID, err)
		}
	}

	// Past expiry: KindExpired, never the expired credentials.
	time.Sleep(time.Until(first.Expiration) + 50*time.Millisecond)
	c, err := p.Credentials(context.Background())
	if err == nil {
		t.Fatalf("after expiry: got %+v, want an error", c)
	}
	var oe *ossapi.Error
	if !errors.As(err, &oe) || oe.Kind != ossapi.KindExpired || oe.Op != "Credentials" {
		t.Errorf("after expiry: err = %#v", err)
	}
	if !strings.Contains(err.Error(), "last refresh failed") || !strings.Contains(err.Error(), "ServiceUnavailable") {
		t.Errorf("error text: %v", err)
	}
	noSecret(t, "error", err.Error(), "basesecret-do-not-leak")

	// Back up: recovery.
	s.SetDown(false)
	deadline := time.Now().Add(12 * time.Second)
	for {
		c, err = p.Credentials(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c.AccessKeyID == first.AccessKeyID || !time.Now().Before(c.Expiration) {
		t.Errorf("after recovery: %+v", c)
	}
	time.Sleep(20 * time.Millisecond)
	l := logs.all()
	if logs.count(`level=INFO msg="credentials renewed"`) != 1 || logs.count("failed_attempts=") != 1 {
		t.Errorf("no recovery line logged:\n%s", l)
	}
	noSecret(t, "log", l, "basesecret-do-not-leak")
	t.Logf("log:\n%s", l)
}

func TestCredentialsURI(t *testing.T) {
	m := newMinter("uri")
	u, err := authtest.NewCredentialsURI(m.mint, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	p := mustNew(t, auth.Options{Env: envMap(map[string]string{"ALIBABA_CLOUD_CREDENTIALS_URI": u.URL()})})
	c := mustCreds(t, p)
	if c.AccessKeyID != "STS.uri0001" || c.Expiration.IsZero() || !strings.HasPrefix(p.Describe(), "credentials_uri http://127.0.0.1") {
		t.Errorf("got %+v, %q", c, p.Describe())
	}
	u.SetDown(true)
	_, err = auth.New(context.Background(), auth.Options{Source: "credentials_uri", CredentialsURI: u.URL(), Env: envMap(nil)})
	if err == nil {
		t.Error("down: no error")
	}
}

func TestECSRole(t *testing.T) {
	before := ecs.Issued()
	p := mustNew(t, auth.Options{Source: "ecs_ram_role", ECSRole: ecsRole})
	c := mustCreds(t, p)
	if !strings.HasPrefix(c.AccessKeyID, "STS.ecs") || c.Expiration.IsZero() {
		t.Errorf("got %+v", c)
	}
	if ecs.Issued() != before+1 {
		t.Errorf("issued %d, want %d", ecs.Issued(), before+1)
	}
	if d := p.Describe(); !strings.Contains(d, "ecs_ram_role "+ecsRole) {
		t.Errorf("Describe = %q", d)
	}

	// Role discovery, and hardened mode against a server requiring IMDSv2.
	ecs.SetRequireIMDSv2(true)
	defer ecs.SetRequireIMDSv2(false)
	tokens := ecs.TokensIssued()
	p = mustNew(t, auth.Options{Source: "ecs_ram_role", ECSDisableIMDSv1: true})
	if c := mustCreds(t, p); !strings.HasPrefix(c.AccessKeyID, "STS.ecs") {
		t.Errorf("hardened: %+v", c)
	}
	if ecs.TokensIssued() == tokens {
		t.Error("hardened mode did not use IMDSv2 tokens")
	}

	ecs.SetDown(true)
	defer ecs.SetDown(false)
	if _, err := auth.New(context.Background(), auth.Options{Source: "ecs_ram_role", ECSRole: ecsRole, Env: envMap(nil)}); err == nil {
		t.Error("down: no error")
	}
}

func TestProcess(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "creds.sh")
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z")
	writeFile(t, script, "#!/bin/sh\necho '{\"mode\":\"StsToken\",\"access_key_id\":\"STS.proc1\",\"access_key_secret\":\"procsecret\",\"sts_token\":\"proctoken\",\"expiration\":\""+exp+"\"}'\n", 0o700)
	p := mustNew(t, auth.Options{Source: "process", Process: "'" + script + "' --profile x"})
	c := mustCreds(t, p)
	if c.AccessKeyID != "STS.proc1" || c.SecurityToken != "proctoken" || c.Expiration.IsZero() {
		t.Errorf("got %+v", c)
	}
	bad := filepath.Join(dir, "bad.sh")
	writeFile(t, bad, "#!/bin/sh\necho 'not json procsecret2'\n", 0o700)
	_, err := auth.New(context.Background(), auth.Options{Source: "process", Process: bad, Env: envMap(nil)})
	if err == nil {
		t.Fatal("bad output: no error")
	}
	noSecret(t, "error", err.Error(), "procsecret2")
}

func TestProfile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	writeFile(t, cfg, `{"current":"main","profiles":[
		{"name":"main","mode":"AK","access_key_id":"LTAIprofile01","access_key_secret":"profsecret"},
		{"name":"other","mode":"StsToken","access_key_id":"STS.prof2","access_key_secret":"profsecret2","sts_token":"proftoken"}]}`, 0o600)
	p := mustNew(t, auth.Options{Source: "profile", ProfileFile: cfg})
	if c := mustCreds(t, p); c.AccessKeyID != "LTAIprofile01" {
		t.Errorf("current profile: %+v", c)
	}
	p = mustNew(t, auth.Options{ProfileFile: cfg, ProfileName: "other"})
	if c := mustCreds(t, p); c.AccessKeyID != "STS.prof2" || c.SecurityToken != "proftoken" {
		t.Errorf("named profile: %+v", c)
	}
	// A profile file others can read is refused, like a passwd file.
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := auth.New(context.Background(), auth.Options{Source: "profile", ProfileFile: cfg, Env: envMap(nil)})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable profile file: %v", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	m := newMinter("close")
	s := newSTS(t, m, time.Hour, baseKeys)
	p := mustNew(t, roleOpts(s))
	p.Close()
	p.Close()
	if _, err := p.Credentials(context.Background()); err != nil {
		t.Errorf("after Close: %v", err)
	}
}

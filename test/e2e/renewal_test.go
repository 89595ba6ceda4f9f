package e2e

// End-to-end tests of what an operator sees of credential renewal (issue
// 21): every renewal is one info line naming the source and the new expiry;
// while the credentials are expired and the credential service refuses
// connections, operations fail with EACCES at once (the SDK must not retry
// the provider's error as a network error); and when the service is back,
// the mount works again within seconds.

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/auth/authtest"
)

// renewalLine matches the line logged for each renewal.
var renewalLine = regexp.MustCompile(`level=(\S+) msg="credentials renewed" component=credentials source="([^"]*)" expires=(\S+)`)

// renewals returns the source and expiry of every renewal line of log; it
// fails the test on a line that is not at info level or whose expiry does
// not parse.
func renewals(t *testing.T, log string) (sources []string, expiries []time.Time) {
	t.Helper()
	for _, m := range renewalLine.FindAllStringSubmatch(log, -1) {
		exp, err := time.Parse(time.RFC3339, m[3])
		if m[1] != "INFO" || err != nil {
			t.Errorf("renewal line at level %s with expiry %q (%v); want INFO and an RFC 3339 time", m[1], m[3], err)
		}
		sources, expiries = append(sources, m[2]), append(expiries, exp)
	}
	return sources, expiries
}

// TestCredRenewalLogged: with 6-second tokens from each renewing source,
// every renewal is logged once, at info level, with the source and the new
// expiry, and no line carries a key, secret or token.
func TestCredRenewalLogged(t *testing.T) {
	t.Parallel()
	const ttl = 6 * time.Second
	srv := newServer(t)
	ca := caFile(t)
	type fake interface {
		Issued() int
		Close()
	}
	cases := []struct {
		name, source string
		setup        func(t *testing.T, mint authtest.Minter, sec *credSecrets) (fake, []string, []string) // env, options
	}{
		{"ram_role_arn", "ram_role_arn " + credRole, func(t *testing.T, mint authtest.Minter, sec *credSecrets) (fake, []string, []string) {
			sts, err := authtest.NewSTS(mint, ttl, map[string]string{testAK: testSK})
			if err != nil {
				t.Fatal(err)
			}
			return sts, []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + testAK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + testSK, "SSL_CERT_FILE=" + ca},
				[]string{"ram_role_arn=" + credRole + ",sts_endpoint=" + sts.Host()}
		}},
		{"oidc_role_arn", "oidc_role_arn " + credRole, func(t *testing.T, mint authtest.Minter, sec *credSecrets) (fake, []string, []string) {
			sts, err := authtest.NewSTS(mint, ttl, nil)
			if err != nil {
				t.Fatal(err)
			}
			tok := "eyJhbGciOiJSUzI1NiJ9.renewal-oidc-token-" + fmt.Sprint(time.Now().UnixNano()) + ".c2ln"
			sec.add(tok)
			f := filepath.Join(t.TempDir(), "oidc-token")
			writeFile0600(t, f, []byte(tok))
			return sts, []string{"SSL_CERT_FILE=" + ca},
				[]string{"oidc_role_arn=" + credRole + ",oidc_provider_arn=" + credOIDCProv + ",oidc_token_file=" + f + ",sts_endpoint=" + sts.Host()}
		}},
		{"ecs_ram_role", "ecs_ram_role " + credECSRole, func(t *testing.T, mint authtest.Minter, sec *credSecrets) (fake, []string, []string) {
			ecs, err := authtest.NewECSProxy(mint, credECSRole, ttl)
			if err != nil {
				t.Fatal(err)
			}
			return ecs, []string{"HTTP_PROXY=" + ecs.URL(), "http_proxy=" + ecs.URL()}, []string{"ecs_ram_role=" + credECSRole}
		}},
		{"credentials_uri", "credentials_uri ", func(t *testing.T, mint authtest.Minter, sec *credSecrets) (fake, []string, []string) {
			uri, err := authtest.NewCredentialsURI(mint, ttl)
			if err != nil {
				t.Fatal(err)
			}
			return uri, nil, []string{"credentials_uri=" + uri.URL()}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sec := &credSecrets{}
			f, env, opts := c.setup(t, sec.minter(srv), sec)
			defer f.Close()
			start := time.Now()
			m := startCredMount(t, srv.URL(), credEnvFor(t.TempDir(), env...), opts...)
			// The first credentials are fetched at mount (not a renewal);
			// wait for two renewals, each logged once: lines == issued - 1
			// at a moment when no renewal is under way (they come every 4 s).
			var lines int
			if !credWait(60*time.Second, func() bool {
				srcs, _ := renewals(t, m.log.String())
				lines = len(srcs)
				return lines >= 2 && lines == f.Issued()-1
			}) {
				t.Fatalf("after %s: %d renewal lines for %d renewals; want one line per renewal\n%s",
					time.Since(start).Round(time.Second), lines, f.Issued()-1, m.log.String())
			}
			m.stop()
			log := m.log.String()
			srcs, exps := renewals(t, log)
			if n := f.Issued() - 1; len(srcs) > n {
				t.Errorf("%d renewal lines for %d renewals", len(srcs), n)
			}
			for i, src := range srcs {
				if !strings.HasPrefix(src, c.source) {
					t.Errorf("renewal line names source %q; want %q...", src, c.source)
				}
				// Each renewal brings credentials expiring ttl after it was
				// made (whole seconds), later than the previous ones.
				if exps[i].Before(start.Add(ttl-time.Second)) || exps[i].After(time.Now().Add(ttl)) {
					t.Errorf("renewal %d: expires %s, not within %s of a renewal made since %s", i+1, exps[i].Format(time.RFC3339), ttl, start.Format(time.RFC3339))
				}
				if i > 0 && !exps[i].After(exps[i-1]) {
					t.Errorf("renewal %d expires %s, not after renewal %d (%s)", i+1, exps[i], i, exps[i-1])
				}
			}
			for _, line := range strings.Split(log, "\n") {
				if (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) && strings.Contains(line, "credentials") {
					t.Errorf("credentials warning while renewing normally: %s", line)
				}
			}
			sec.check(t, "the ossmount log", log)
			t.Logf("%d renewals logged, e.g. %s", len(srcs), renewalLine.FindString(log))
		})
	}
}

// expireRefused starts a mount on 8-second tokens from a fake STS, seeds
// the object "present", waits for a renewal and then makes the STS refuse
// connections until the mount's credentials have expired (a stat gives
// EACCES). It returns the mount and the STS, still refusing.
func expireRefused(t *testing.T) (*mount, *authtest.STS, *credSecrets) {
	t.Helper()
	srv, _, sts, m, sec := roleMount(t, 8*time.Second, noCache)
	if err := srv.PutObject("test", "present", []byte("present"), nil); err != nil {
		t.Fatal(err)
	}
	n := sts.Issued()
	if !credWait(30*time.Second, func() bool { return sts.Issued() > n }) {
		t.Fatalf("no renewal within 30 s of 8 s tokens\n%s", m.log.String())
	}
	if err := sts.SetRefusing(true); err != nil {
		t.Fatal(err)
	}
	downAt := time.Now()
	if !credWait(90*time.Second, func() bool {
		_, err := os.Stat(m.path("present"))
		return errors.Is(err, syscall.EACCES)
	}) {
		t.Fatalf("no EACCES within 90 s of the STS refusing connections (8 s tokens)\n%s", m.log.String())
	}
	t.Logf("EACCES %s after the STS began refusing connections", time.Since(downAt).Round(time.Millisecond))
	return m, sts, sec
}

// TestCredExpiredRefusedFailsFast: with the credentials expired and the
// credential service refusing connections, reads, writes and lookups fail
// with EACCES in under a second each (the error is not retried as a
// network error), and the log says once that the credentials expired.
func TestCredExpiredRefusedFailsFast(t *testing.T) {
	t.Parallel()
	m, _, sec := expireRefused(t)
	var slowest time.Duration
	for i := 0; i < 3; i++ {
		for _, op := range []struct {
			name string
			do   func() error
		}{
			{"stat of a new name", func() error { _, err := os.Stat(m.path(fmt.Sprintf("missing%d", i))); return err }},
			{"read", func() error { _, err := os.ReadFile(m.path("present")); return err }},
			{"write", func() error { return os.WriteFile(m.path(fmt.Sprintf("new%d", i)), []byte("data"), 0o644) }},
			{"list", func() error { _, err := os.ReadDir(m.dir); return err }},
		} {
			start := time.Now()
			err := op.do()
			took := time.Since(start)
			slowest = max(slowest, took)
			if !errors.Is(err, syscall.EACCES) {
				t.Errorf("%s with expired credentials: %v; want EACCES", op.name, err)
			}
			if took >= time.Second {
				t.Errorf("%s with expired credentials took %s; want EACCES in under 1 s", op.name, took.Round(time.Millisecond))
			}
		}
	}
	t.Logf("slowest failing operation: %s", slowest.Round(time.Microsecond))
	m.stop()
	log := m.log.String()
	if n := strings.Count(log, "credentials have expired"); n != 1 {
		t.Errorf("log has %d lines saying the credentials expired; want 1:\n%s", n, log)
	}
	sec.check(t, "the ossmount log", log)
}

// TestCredQuickRecovery: after a long outage past the credentials' expiry
// (the STS refusing connections, renewal failing five times in a row),
// the mount works again within 5 s of the STS coming back.
func TestCredQuickRecovery(t *testing.T) {
	t.Parallel()
	m, sts, sec := expireRefused(t)
	// A long outage: five failed attempts in a row (with a doubling
	// backoff the next one would be 16 s away).
	if !m.waitLog("failed (attempt 5;", 90*time.Second) {
		t.Fatalf("no fifth failed renewal attempt logged within 90 s\n%s", m.log.String())
	}
	if err := sts.SetRefusing(false); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	var err error
	for {
		var b []byte
		if b, err = os.ReadFile(m.path("present")); err == nil && string(b) == "present" {
			break
		}
		if time.Since(upAt) > 90*time.Second {
			t.Fatalf("the mount did not recover within 90 s of the STS coming back: %v\n%s", err, m.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	recovered := time.Since(upAt)
	t.Logf("the mount worked again %s after the STS came back", recovered.Round(time.Millisecond))
	if recovered > 5*time.Second {
		t.Errorf("the mount worked again %s after the STS came back; want within 5 s", recovered.Round(time.Millisecond))
	}
	if err := os.WriteFile(m.path("after"), []byte("after"), 0o644); err != nil {
		t.Errorf("write after recovery: %v", err)
	}
	m.stop()
	log := m.log.String()
	if !strings.Contains(log, "failed_attempts=") {
		t.Errorf("the recovery is not logged as a renewal after failed attempts:\n%s", log)
	}
	sec.check(t, "the ossmount log", log)
}

// TestOsslocalOutageSwitch: osslocal's SIGUSR1 switches its credential
// services into an outage and back, as its help says: 503 answers by
// default, closed ports with --outage refuse.
func TestOsslocalOutageSwitch(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"503", "refuse"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(osslocalBin, "--listen", "127.0.0.1:0", "--credentials-uri", "--outage", mode, "--token-ttl", "30s")
			cmd.Env = append(credEnvFor(t.TempDir()), "OSSLOCAL_ACCESS_KEY_ID="+testAK, "OSSLOCAL_ACCESS_KEY_SECRET="+testSK)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
			}()
			uriLine := regexp.MustCompile(`credentials uri at (http://\S+)`)
			var uri string
			if !credWait(20*time.Second, func() bool {
				m := uriLine.FindStringSubmatch(out.String())
				if m != nil && strings.Contains(out.String(), "listening on") {
					uri = m[1]
				}
				return uri != ""
			}) {
				t.Fatalf("osslocal did not print its credentials URI:\n%s", out.String())
			}
			client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 10 * time.Second}
			// get returns the status of a GET of the URI, or the error.
			get := func() (int, error) {
				resp, err := client.Get(uri)
				if err != nil {
					return 0, err
				}
				resp.Body.Close()
				return resp.StatusCode, nil
			}
			if code, err := get(); code != http.StatusOK {
				t.Fatalf("before SIGUSR1: %d %v; want 200", code, err)
			}
			cmd.Process.Signal(syscall.SIGUSR1)
			if !credWait(10*time.Second, func() bool { return strings.Contains(out.String(), "credential services DOWN") }) {
				t.Fatalf("SIGUSR1 not acknowledged:\n%s", out.String())
			}
			code, err := get()
			switch mode {
			case "503":
				if code != http.StatusServiceUnavailable {
					t.Errorf("during the outage: %d %v; want 503", code, err)
				}
			case "refuse":
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("during the outage: %d %v; want connection refused", code, err)
				}
			}
			cmd.Process.Signal(syscall.SIGUSR1)
			if !credWait(10*time.Second, func() bool { return strings.Contains(out.String(), "credential services answering again") }) {
				t.Fatalf("second SIGUSR1 not acknowledged:\n%s", out.String())
			}
			if code, err := get(); code != http.StatusOK {
				t.Errorf("after the outage: %d %v; want 200", code, err)
			}
			cmd.Process.Signal(syscall.SIGUSR2)
			if !credWait(10*time.Second, func() bool { return strings.Contains(out.String(), "credentials issued: credentials uri 2") }) {
				t.Errorf("SIGUSR2 does not report the 2 credentials issued:\n%s", out.String())
			}
		})
	}
}

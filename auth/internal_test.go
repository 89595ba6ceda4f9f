package auth

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

func TestScrub(t *testing.T) {
	in := `refresh failed: {"AccessKeyId":"STS.x","AccessKeySecret":"s3cr3t","SecurityToken":"tok123"} url?OIDCToken=abc&x=1 known-secret-value`
	out := scrub(in, []string{"known-secret-value"})
	for _, s := range []string{"s3cr3t", "tok123", "abc", "known-secret-value"} {
		if strings.Contains(out, s) {
			t.Errorf("scrub left %q in %q", s, out)
		}
	}
	if !strings.Contains(out, "STS.x") {
		t.Errorf("scrub removed the AccessKeyId: %q", out)
	}
	for in, want := range map[string]string{
		"open /run/secrets/token: no such file or directory": "open /run/secrets/token: no such file or directory",
		"credential_uri: connection refused":                 "credential_uri: connection refused",
		"AccessKeySecret=abc123&x=1":                         "AccessKeySecret=<redacted>&x=1",
		`SecurityToken: "tok"`:                               `SecurityToken: <redacted>`,
		`{"Token":"tok", "Expiration":"2030"}`:               `{"Token":<redacted>, "Expiration":"2030"}`,
		`password = hunter22`:                                `password = <redacted>`,
	} {
		if got := scrub(in, nil); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
	if got := scrub(strings.Repeat("a", 2000), nil); len(got) > 600 {
		t.Errorf("scrub did not bound the length: %d", len(got))
	}
	s := &source{}
	s.remember("abcdefgh")
	if got := s.scrub(errors.New("x abcdefgh y")); strings.Contains(got, "abcdefgh") {
		t.Errorf("source.scrub = %q", got)
	}
}

func TestSplitCommand(t *testing.T) {
	for in, want := range map[string][]string{
		`aliyun-cred --profile x`:      {"aliyun-cred", "--profile", "x"},
		`'/opt/my tool' "a b" c\ d ""`: {"/opt/my tool", "a b", "c d", ""},
		`x "q\"uote"`:                  {"x", `q"uote`},
	} {
		got, err := splitCommand(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "  ", `'open`, `"open`, `x\`} {
		if _, err := splitCommand(in); err == nil {
			t.Errorf("splitCommand(%q): no error", in)
		}
	}
}

func TestSchedule(t *testing.T) {
	now := time.Now()
	p := &Provider{margin: defaultMargin}
	// Long-lived: expiry - 5 min.
	c := ossapi.Credentials{SecurityToken: "t", Expiration: now.Add(time.Hour)}
	if got, want := p.next(c, now), now.Add(55*time.Minute); !got.Equal(want) {
		t.Errorf("1h: next = %v, want %v", got.Sub(now), want.Sub(now))
	}
	// Short-lived: margin capped at a third of the lifetime.
	c.Expiration = now.Add(3 * time.Second)
	if got, want := p.next(c, now), now.Add(2*time.Second); !got.Equal(want) {
		t.Errorf("3s: next = %v, want %v", got.Sub(now), want.Sub(now))
	}
	// Interval wins when sooner.
	p.interval = 10 * time.Minute
	c.Expiration = now.Add(time.Hour)
	if got, want := p.next(c, now), now.Add(10*time.Minute); !got.Equal(want) {
		t.Errorf("interval: next = %v", got.Sub(now))
	}
	// Unknown expiry.
	p.interval = 0
	c.Expiration = time.Time{}
	if got, want := p.next(c, now), now.Add(unknownExpiryEvery); !got.Equal(want) {
		t.Errorf("unknown expiry: next = %v", got.Sub(now))
	}
	// Valid credentials: exponential backoff, never past the expiry.
	far := now.Add(time.Hour)
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: time.Minute, 100: time.Minute} {
		for i := 0; i < 20; i++ {
			b := retryWait(n, now, far)
			if b < want*8/10 || b > want*12/10 || b > maxBackoff {
				t.Errorf("retryWait(%d) = %v, want about %v", n, b, want)
			}
			if b := retryWait(n, now, time.Time{}); b < want*8/10 || b > want*12/10 {
				t.Errorf("retryWait(%d) without expiry = %v, want about %v", n, b, want)
			}
		}
	}
	if b := retryWait(10, now, now.Add(3*time.Second)); b != 3*time.Second {
		t.Errorf("retryWait 3 s before expiry = %v, want 3s (wake at the expiry)", b)
	}
	// Expired: every 1-3 s however many attempts failed.
	lo, hi := time.Hour, time.Duration(0)
	for _, n := range []int{1, 5, 10, 100} {
		for i := 0; i < 50; i++ {
			b := retryWait(n, now, now.Add(-time.Second))
			lo, hi = min(lo, b), max(hi, b)
		}
	}
	if lo < expiredRetry/2 || hi > expiredRetry*3/2 || hi-lo < expiredRetry/4 {
		t.Errorf("retryWait after expiry in [%v, %v]; want jittered within [1s, 3s]", lo, hi)
	}
}

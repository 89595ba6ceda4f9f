package auth_test

import (
	"testing"
	"time"
)

// TestProviderStats: Stats names the source and the expiry, and counts the
// renewals as the STS server saw them, and the failed ones.
func TestProviderStats(t *testing.T) {
	t.Parallel()
	s := newSTS(t, newMinter("stats"), 3*time.Second, baseKeys)
	p := mustNew(t, roleOpts(s))
	st := p.Stats()
	if st.Source != "ram_role_arn" || !st.Temporary || st.Expiration.IsZero() || st.Refreshes != 0 || st.RefreshFailures != 0 {
		t.Fatalf("fresh provider: %+v", st)
	}
	first := st.Expiration
	deadline := time.Now().Add(20 * time.Second)
	for p.Stats().Refreshes == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no renewal counted within 20 s of 3 s credentials")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.SetDown(true)
	for p.Stats().RefreshFailures == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no failed renewal counted with the STS server down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	st = p.Stats()
	if int(st.Refreshes)+1 != s.Issued() {
		t.Errorf("counted %d renewals, the server issued %d credentials (the first one included)", st.Refreshes, s.Issued())
	}
	if !st.Expiration.After(first) {
		t.Errorf("expiry %v not after the first credentials' %v", st.Expiration, first)
	}
}

// Package testenv holds what the unit tests of fs and engine share: an
// emulated bucket over real HTTP with signatures checked (osstest), a
// client of it through the real SDK, a log buffer, seeded data and a
// polling wait. It is imported by tests only (the end-to-end tests use
// its log buffer and polling too).
package testenv

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// The emulator's credentials.
const (
	AccessKeyID     = "LTAItestaccesskey"
	AccessKeySecret = "test-secret-key-0123456789"
)

// LogBuf collects a log, safe for concurrent writers.
type LogBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Server starts an emulator holding buckets ("test" when none), closed
// at the end of the test.
func Server(t testing.TB, buckets ...string) *osstest.Server {
	t.Helper()
	if len(buckets) == 0 {
		buckets = []string{"test"}
	}
	srv, err := osstest.NewServer(osstest.Options{Buckets: buckets, Credentials: map[string]string{AccessKeyID: AccessKeySecret}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// Store is a client of bucket on srv making at most attempts tries of
// each request. (The SDK's retry of an upload whose error answer came
// before its body was sent reads the body while the first attempt's
// transport goroutine still does: tests that fail uploads make one try.)
func Store(t testing.TB, srv *osstest.Server, bucket string, attempts int) ossapi.ObjectStore {
	t.Helper()
	c, err := ossapi.New(ossapi.Config{Bucket: bucket, Region: "cn-hangzhou", Endpoint: srv.URL(), RetryMax: attempts,
		Credentials: ossapi.StaticCredentials{AccessKeyID: AccessKeyID, AccessKeySecret: AccessKeySecret}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// RandData is n bytes of seeded noise.
func RandData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// WaitFor polls cond every 5 ms until it holds or the (generous)
// deadline passes.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	return Poll(timeout, 5*time.Millisecond, cond)
}

// Poll calls cond every period until it holds (true) or timeout passes
// (false).
func Poll(timeout, period time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(period)
	}
	return true
}

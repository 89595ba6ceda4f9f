package engine

// The engine's tests run against the osstest emulator over real HTTP with
// signatures checked, with no mount and no kernel (and under -race).

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

const (
	testAK = "LTAItestaccesskey"
	testSK = "test-secret-key-0123456789"
)

// logBuf collects an engine's log.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestServer(t *testing.T, buckets ...string) *osstest.Server {
	t.Helper()
	srv, err := osstest.NewServer(osstest.Options{Buckets: buckets, Credentials: map[string]string{testAK: testSK}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func testStore(t *testing.T, srv *osstest.Server, bucket string) ossapi.ObjectStore {
	t.Helper()
	c, err := ossapi.New(ossapi.Config{Bucket: bucket, Region: "cn-hangzhou", Endpoint: srv.URL(), RetryMax: 2,
		Credentials: ossapi.StaticCredentials{AccessKeyID: testAK, AccessKeySecret: testSK}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newTestEngine makes an engine on bucket of srv staging in cacheDir; cfg
// changes the configuration. It is closed at the end of the test.
func newTestEngine(t *testing.T, srv *osstest.Server, bucket, cacheDir string, cfg func(*Config)) (*Engine, *logBuf) {
	t.Helper()
	log := &logBuf{}
	c := Config{Store: testStore(t, srv, bucket), StoreID: StoreID{Endpoint: srv.URL(), Bucket: bucket},
		Logger: slog.New(slog.NewTextHandler(log, nil)), Memory: 64 << 20, CacheDir: cacheDir, DiskBudget: 1 << 30}
	if cfg != nil {
		cfg(&c)
	}
	e, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Every buffer handed out comes back (the readers are closed by
		// now; a canceled part's fetch still fills the data cache, which
		// the test closes after this).
		if !waitFor(60*time.Second, func() bool { return e.budget.Used() == e.bufs.Pooled()+e.blocks.Bytes() }) {
			t.Errorf("memory still held at the end: %d bytes, %d of them pooled, %d in cached blocks", e.budget.Used(), e.bufs.Pooled(), e.blocks.Bytes())
		}
		<-e.Recovered()
		e.Close()
	})
	return e, log
}

// randData is n bytes of seeded noise.
func randData(n int, seed uint64) []byte {
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

// waitFor polls cond until it holds or the (generous) deadline passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

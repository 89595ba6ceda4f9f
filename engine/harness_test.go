package engine

// The engine's tests run against the osstest emulator over real HTTP with
// signatures checked, with no mount and no kernel (and under -race).

import (
	"log/slog"
	"testing"
	"time"

	"github.com/ossmount/ossmount/internal/testenv"
	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// logBuf collects a log (internal/testenv).
type logBuf = testenv.LogBuf

func newTestServer(t *testing.T, buckets ...string) *osstest.Server {
	return testenv.Server(t, buckets...)
}

func testStore(t *testing.T, srv *osstest.Server, bucket string) ossapi.ObjectStore {
	return testenv.Store(t, srv, bucket, 2)
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
func randData(n int, seed uint64) []byte { return testenv.RandData(n, seed) }

// waitFor polls cond until it holds or the (generous) deadline passes.
func waitFor(timeout time.Duration, cond func() bool) bool { return testenv.WaitFor(timeout, cond) }

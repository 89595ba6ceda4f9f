package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// A mount killed with uploads in progress leaves its directory; the next
// mount of the same endpoint and bucket aborts them and removes the
// staging files, a mount of another bucket leaves them, kept files stay.
func TestStagerRecoveryOnlyOwnBucket(t *testing.T) {
	srv := newTestServer(t, "test", "other")
	cacheDir := t.TempDir()
	ctx := context.Background()
	a, _ := newTestEngine(t, srv, "other", cacheDir, nil)
	<-a.Recovered()
	id, err := a.store.InitiateMultipart(ctx, ossapi.InitiateRequest{Key: "big.bin"})
	if err != nil {
		t.Fatal(err)
	}
	a.Staging().NoteUpload("big.bin", id)
	s := a.NewStageFile()
	if _, err := s.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.trySpill(); !ok {
		t.Fatal("a staging file holding memory did not spill")
	}
	stageName := s.Name()
	kept := &KeptFile{StoreID: a.Staging().ID(), Key: "lost.bin", Path: filepath.Join(a.Staging().Dir(), keptPrefix+"x"), Size: 3,
		Reason: "test", Time: time.Now().UTC(), Changed: []Range{{Off: 0, End: 3}}}
	if err := os.WriteFile(kept.Path, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Staging().SaveKept(kept); err != nil {
		t.Fatal(err)
	}
	recs := ListRecords(cacheDir, a.Staging().ID())
	if len(recs) != 1 || recs[0].Key != "big.bin" || recs[0].UploadID != id || !recs[0].Live {
		t.Fatalf("records of a live mount: %+v", recs)
	}
	// The mount dies: its lock goes with its process, its files stay.
	a.staging.lock.Close()
	if recs := ListRecords(cacheDir, a.Staging().ID()); len(recs) != 1 || recs[0].Live {
		t.Fatalf("records of a dead mount: %+v", recs)
	}

	b, _ := newTestEngine(t, srv, "test", cacheDir, nil)
	<-b.Recovered()
	if ids := srv.ListMultipartUploadIDs("other"); len(ids) != 1 {
		t.Errorf("a mount of bucket test aborted bucket other's upload: %v", ids)
	}
	c, clog := newTestEngine(t, srv, "other", cacheDir, nil)
	<-c.Recovered()
	if ids := srv.ListMultipartUploadIDs("other"); len(ids) != 0 {
		t.Errorf("the next mount of bucket other did not abort its abandoned upload: %v", ids)
	}
	if recs := ListRecords(cacheDir, a.Staging().ID()); len(recs) != 0 {
		t.Errorf("records left: %+v", recs)
	}
	if _, err := os.Stat(stageName); !os.IsNotExist(err) {
		t.Errorf("the dead mount's staging file is still there: %v", err)
	}
	if got, err := os.ReadFile(kept.Path); err != nil || string(got) != "abc" {
		t.Errorf("the kept file was touched: %q, %v", got, err)
	}
	if l := clog.String(); !strings.Contains(l, "key=lost.bin") || !strings.Contains(l, "not_on_oss=0-3") {
		t.Errorf("the recovery did not log the kept data:\n%s", l)
	}
	ks := ListKept(cacheDir, a.Staging().ID())
	if len(ks) != 1 || ks[0].Key != "lost.bin" || ks[0].Path != kept.Path || ks[0].Changed[0] != (Range{Off: 0, End: 3}) {
		t.Errorf("kept files of bucket other: %+v", ks)
	}
	if ks := ListKept(cacheDir, b.Staging().ID()); len(ks) != 0 {
		t.Errorf("kept files of bucket test: %+v", ks)
	}
	if ks := ListKept(cacheDir, StoreID{}); len(ks) != 1 {
		t.Errorf("every kept file: %+v", ks)
	}
}

// ForgetRecords drops the records of an upload aborted by hand, in every
// mount directory.
func TestStagerForgetRecords(t *testing.T) {
	srv := newTestServer(t, "test")
	cacheDir := t.TempDir()
	e, _ := newTestEngine(t, srv, "test", cacheDir, func(c *Config) { c.ReadOnly = true })
	e.Staging().NoteUpload("a", "id-a")
	e.Staging().NoteUpload("b", "id-b")
	if recs := ListRecords(cacheDir, e.Staging().ID()); len(recs) != 2 {
		t.Fatalf("records: %+v", recs)
	}
	ForgetRecords(cacheDir, "id-a")
	recs := ListRecords(cacheDir, e.Staging().ID())
	if len(recs) != 1 || recs[0].UploadID != "id-b" {
		t.Errorf("records after forgetting id-a: %+v", recs)
	}
	e.Staging().ForgetUpload("id-b")
	if recs := ListRecords(cacheDir, e.Staging().ID()); len(recs) != 0 {
		t.Errorf("records after forgetting id-b: %+v", recs)
	}
}

// The staging directory goes at Close when nothing is left in it, and
// stays (for the next mount) when it holds kept data.
func TestEngineCloseRemovesEmptyDir(t *testing.T) {
	srv := newTestServer(t, "test")
	cacheDir := t.TempDir()
	for _, keep := range []bool{false, true} {
		log := &logBuf{}
		e, err := New(Config{Store: testStore(t, srv, "test"), StoreID: StoreID{Endpoint: srv.URL(), Bucket: "test"},
			Logger: newLogger(log), Memory: 1 << 20, CacheDir: cacheDir, DiskBudget: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		<-e.Recovered()
		s := e.NewStageFile()
		if _, err := s.WriteAt(make([]byte, 2<<20), 0); err != nil { // more than the memory: on disk
			t.Fatal(err)
		}
		if s.Name() == "" {
			t.Fatal("2 MiB staged in memory with a budget of 1 MiB")
		}
		if keep {
			kept, err := s.Keep(KeptName)
			if err != nil || !strings.HasPrefix(filepath.Base(kept), keptPrefix) {
				t.Fatalf("Keep: %q, %v", kept, err)
			}
			k := &KeptFile{StoreID: e.Staging().ID(), Key: "k", Path: kept, Size: 2 << 20, Time: time.Now()}
			if err := e.Staging().SaveKept(k); err != nil {
				t.Fatal(err)
			}
		}
		e.CloseStageFile(s, keep)
		if e.Budget().Used() != 0 {
			t.Errorf("memory held after the staging file closed: %d", e.Budget().Used())
		}
		dir := e.Staging().Dir()
		e.Close()
		_, err = os.Stat(dir)
		if keep && err != nil {
			t.Errorf("the directory holding kept data went: %v", err)
		}
		if !keep && !os.IsNotExist(err) {
			t.Errorf("the empty staging directory stayed: %v", err)
		}
		if keep && !strings.Contains(log.String(), "data that could not be uploaded is kept") {
			t.Errorf("Close did not log the kept data:\n%s", log.String())
		}
	}
}

package engine

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"

	"github.com/ossmount/ossmount/cache"
)

type fixedName string

func (k fixedName) CurrentKey() (string, bool) { return string(k), true }

// status decodes a CacheStatus answer.
func status(t *testing.T, e *Engine, key string, a *Stat) (st struct {
	Key string `json:"key"`
	cache.EntryStatus
	Current bool `json:"current"`
}) {
	t.Helper()
	val, err := e.CacheStatus(key, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(val), &st); err != nil {
		t.Fatalf("%q: %v", val, err)
	}
	return st
}

// user.oss.cache: a file's status before and after a pin (the whole file
// fetched with GETs and kept), an unpin and a drop; the cache's numbers;
// a file larger than the cache refused with EFBIG; without a data cache,
// ENODATA and ENOTSUP.
func TestCacheControl(t *testing.T) {
	dc := newDataCache(t)
	tf := newReaderTest(t, func(c *Config) { c.DataCache = dc })
	e, ctx := tf.e, context.Background()
	data := randData(3<<20+100, 7)
	etag := tf.put(t, "f.bin", data)
	a := &Stat{Size: int64(len(data)), ETag: etag}
	if st := status(t, e, "f.bin", a); st.Key != "f.bin" || st.Size != a.Size || st.ETag != etag || st.Cached != 0 || st.Current || st.Pinned {
		t.Errorf("status before any read: %+v", st)
	}
	for _, bad := range []string{"", "PIN", "pin ", "evict"} {
		if _, err := e.CacheOp([]byte(bad)); err != syscall.EINVAL {
			t.Errorf("CacheOp(%q) = %v, want EINVAL", bad, err)
		}
	}
	op, err := e.CacheOp([]byte("pin"))
	if err != nil || op != "pin" {
		t.Fatalf("CacheOp(pin) = %q, %v", op, err)
	}
	gets := tf.srv.Count("GetObject")
	if err := e.CacheControl(ctx, op, fixedName("f.bin"), "f.bin", a, 1000); err != nil {
		t.Fatal(err)
	}
	if tf.srv.Count("GetObject") == gets {
		t.Error("pin fetched nothing")
	}
	st := status(t, e, "f.bin", a)
	if st.Cached != a.Size || !st.Pinned || !st.Current || len(st.Missing) != 0 {
		t.Errorf("status after pin: %+v", st)
	}
	gets = tf.srv.Count("GetObject")
	if err := e.CacheControl(ctx, "pin", fixedName("f.bin"), "f.bin", a, 1000); err != nil || tf.srv.Count("GetObject") != gets {
		t.Errorf("a second pin: %v, %d GETs; want none", err, tf.srv.Count("GetObject")-gets)
	}
	var sum cache.DataCacheStats
	if val, err := e.CacheSummary(); err != nil || json.Unmarshal([]byte(val), &sum) != nil || sum.FilledBytes < a.Size {
		t.Errorf("summary %+v, %v: want %d bytes filled", sum, err, a.Size)
	}
	if err := e.CacheControl(ctx, "unpin", fixedName("f.bin"), "f.bin", a, 1000); err != nil {
		t.Fatal(err)
	}
	if st := status(t, e, "f.bin", a); st.Pinned || st.Cached != a.Size {
		t.Errorf("status after unpin: %+v", st)
	}
	if err := e.CacheControl(ctx, "drop", fixedName("f.bin"), "f.bin", a, 1000); err != nil {
		t.Fatal(err)
	}
	if _, ok := dc.Status(e.DataID("f.bin")); ok {
		t.Error("an entry left after drop")
	}
	if err := e.CacheControl(ctx, "pin", fixedName("empty"), "empty", &Stat{ETag: etag}, 0); err != nil {
		t.Errorf("pin of an empty file: %v", err)
	}
	huge := &Stat{Size: 2 << 30, ETag: etag}
	if err := e.CacheControl(ctx, "pin", fixedName("huge"), "huge", huge, 0); err != syscall.EFBIG {
		t.Errorf("pin of a file larger than the cache: %v, want EFBIG", err)
	}

	off := newReaderTest(t, nil).e
	if _, err := off.CacheStatus("f.bin", a); err != syscall.ENODATA {
		t.Errorf("status without a data cache: %v, want ENODATA", err)
	}
	if _, err := off.CacheSummary(); err != syscall.ENODATA {
		t.Errorf("summary without a data cache: %v, want ENODATA", err)
	}
	if _, err := off.CacheOp([]byte("pin")); err != syscall.ENOTSUP {
		t.Errorf("pin without a data cache: %v, want ENOTSUP", err)
	}
}

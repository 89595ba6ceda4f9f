package engine

// The namespace (lookups, attribute caches, listings) against the
// emulator, counting the requests each answer costs.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// newTestNamespace makes a namespace on bucket "test" of srv with the
// mount's defaults (as package fs sets them); cfg changes them.
func newTestNamespace(t *testing.T, srv *osstest.Server, cfg func(*NamespaceConfig)) (*Namespace, *logBuf) {
	t.Helper()
	log := &logBuf{}
	c := NamespaceConfig{Store: testStore(t, srv, "test"), Logger: slog.New(slog.NewTextHandler(log, nil)),
		UID: 1000, GID: 1000, FileMode: 0o644, DirMode: 0o755,
		StatTTL: time.Minute, OpenFreshTTL: time.Second, NegTTL: time.Minute, ListTTL: time.Minute,
		StatCacheSize: 1000, NegCacheSize: 1000, ListCacheSize: 100, HeadConcurrency: 4}
	if cfg != nil {
		cfg(&c)
	}
	n := NewNamespace(c)
	t.Cleanup(n.Close)
	return n, log
}

// put stores an object of size bytes at key, with ossfs metadata meta
// ("mode", "uid" ...) when given.
func put(t *testing.T, srv *osstest.Server, key string, size int, meta map[string]string) {
	t.Helper()
	putData(t, srv, key, make([]byte, size), meta)
}

// putData stores data at key, with ossfs metadata meta when given.
func putData(t *testing.T, srv *osstest.Server, key string, data []byte, meta map[string]string) {
	t.Helper()
	h := http.Header{}
	for k, v := range meta {
		h.Set("x-oss-meta-"+k, v)
	}
	if err := srv.PutObject("test", key, data, h); err != nil {
		t.Fatal(err)
	}
}

// cost is the LISTs and HEADs srv served since the last reset, and
// whether it served anything else.
func cost(srv *osstest.Server) (lists, heads int64, other bool) {
	for op, c := range srv.Counts() {
		switch op {
		case "ListObjectsV2":
			lists = c
		case "HeadObject":
			heads = c
		default:
			other = other || c > 0
		}
	}
	return lists, heads, other
}

// wantCost fails the test unless srv served exactly lists LISTs and heads
// HEADs since the last reset (then resets the counts).
func wantCost(t *testing.T, srv *osstest.Server, what string, lists, heads int64) {
	t.Helper()
	l, h, other := cost(srv)
	if l != lists || h != heads || other {
		t.Errorf("%s cost %v, want %d LIST and %d HEAD", what, srv.Counts(), lists, heads)
	}
	srv.ResetCounts()
}

// isNotExist reports whether err stands for ENOENT (a namespace error or
// OSS's).
func isNotExist(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Errno == syscall.ENOENT
}

func TestLookupFile(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "f", 5, map[string]string{"mode": strconv.Itoa(syscall.S_IFREG | 0o600), "uid": "7", "gid": "8"})
	put(t, srv, "plain", 3, nil)
	n, _ := newTestNamespace(t, srv, nil)
	srv.ResetCounts()
	a, err := n.Lookup(context.Background(), "", "f")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Known || a.Dir || a.Size != 5 || a.Mode != syscall.S_IFREG|0o600 || a.UID != 7 || a.GID != 8 || a.ETag == "" {
		t.Errorf("f: %+v, want a known file of 5 bytes, mode 0600, owner 7:8", a)
	}
	wantCost(t, srv, "first lookup", 1, 1) // one HEAD and one LIST, in parallel
	if b, err := n.Lookup(context.Background(), "", "f"); err != nil || b != a {
		t.Errorf("second lookup: %v, %v; want the cached attributes", b, err)
	}
	wantCost(t, srv, "cached lookup", 0, 0)
	a, err = n.Lookup(context.Background(), "", "plain")
	if err != nil || a.Mode != syscall.S_IFREG|0o644 || a.UID != 1000 || a.GID != 1000 || a.Size != 3 {
		t.Errorf("plain: %+v, %v; want the mount's defaults", a, err)
	}
}

func TestLookupDirectory(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "implicit/a", 1, nil)
	put(t, srv, "marked/", 0, map[string]string{"mode": strconv.Itoa(syscall.S_IFDIR | 0o700), "uid": "5"})
	put(t, srv, "marked/a", 1, nil)
	n, _ := newTestNamespace(t, srv, nil)
	srv.ResetCounts()
	a, err := n.Lookup(context.Background(), "", "implicit")
	if err != nil || !a.Dir || !a.Implicit || !a.Known || a.Mode != syscall.S_IFDIR|0o755 || a.Size != 0 {
		t.Errorf("implicit: %+v, %v; want a known directory without marker", a, err)
	}
	wantCost(t, srv, "lookup of a directory without marker", 1, 1)
	a, err = n.Lookup(context.Background(), "", "marked")
	if err != nil || !a.Dir || a.Implicit || !a.Known || a.Mode != syscall.S_IFDIR|0o700 || a.UID != 5 {
		t.Errorf("marked: %+v, %v; want its marker's mode and owner", a, err)
	}
	wantCost(t, srv, "lookup of a directory with a marker", 1, 2) // and the marker's HEAD

	// HeadDir: an implicit directory keeps its mtime while it stays so.
	old, err := n.HeadDir(context.Background(), "implicit")
	if err != nil || !old.Implicit {
		t.Fatalf("HeadDir: %+v, %v", old, err)
	}
	n.Attrs.Put("implicit", &Stat{Dir: true, Implicit: true, Known: true, MtimeSec: 12345})
	if a, err := n.HeadDir(context.Background(), "implicit"); err != nil || a.MtimeSec != 12345 {
		t.Errorf("HeadDir again: %+v, %v; want the mtime it had", a, err)
	}
	if a, err := n.HeadDir(context.Background(), "marked"); err != nil || a.Mode != syscall.S_IFDIR|0o700 {
		t.Errorf("HeadDir marked: %+v, %v", a, err)
	}
}

func TestLookupNegativeCache(t *testing.T) {
	srv := newTestServer(t)
	n, log := newTestNamespace(t, srv, nil)
	srv.ResetCounts()
	if _, err := n.Lookup(context.Background(), "", "missing"); !isNotExist(err) {
		t.Fatalf("lookup of a missing name: %v, want ENOENT", err)
	}
	wantCost(t, srv, "lookup of a missing name", 1, 1)
	put(t, srv, "missing", 1, nil) // by another client: not seen until the entry expires
	if _, err := n.Lookup(context.Background(), "", "missing"); !isNotExist(err) {
		t.Errorf("second lookup: %v, want the cached ENOENT", err)
	}
	wantCost(t, srv, "second lookup", 0, 0)
	n.Invalidate("missing")
	if a, err := n.Lookup(context.Background(), "", "missing"); err != nil || a.Size != 1 {
		t.Errorf("lookup after Invalidate: %+v, %v", a, err)
	}
	wantCost(t, srv, "lookup after Invalidate", 1, 1)
	if log.String() != "" {
		t.Errorf("a missing name logged: %s", log)
	}

	// A failure is not cached as absence, and says what it was.
	srv.AddFault(osstest.Fault{Op: "HeadObject", Status: 403, Code: "AccessDenied"})
	_, err := n.Lookup(context.Background(), "", "denied")
	if err == nil || isNotExist(err) {
		t.Errorf("lookup with HEADs denied: %v, want OSS's error", err)
	}
	if _, ok := n.Neg.Get("denied"); ok {
		t.Error("a failed lookup was cached as absence")
	}
}

func TestLookupDirectoryWinsOverFile(t *testing.T) {
	for _, fast := range []bool{false, true} {
		t.Run(fmt.Sprintf("fast_listing=%v", fast), func(t *testing.T) {
			srv := newTestServer(t)
			put(t, srv, "both", 7, nil)
			put(t, srv, "both/a", 1, nil)
			n, _ := newTestNamespace(t, srv, func(c *NamespaceConfig) { c.FastListing = fast })
			a, err := n.Lookup(context.Background(), "", "both")
			if err != nil || !a.Dir {
				t.Errorf("both: %+v, %v; want the directory", a, err)
			}
			l, err := n.ListDir(context.Background(), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if name, e := l.At(0); l.Len() != 1 || name != "both" || !e.Dir {
				t.Errorf("listing: %d entries, first %q %+v; want the directory alone", l.Len(), name, e)
			}
		})
	}
}

// TestLookupFastListing: with fast_listing one LIST tells a file, a
// directory and a missing name apart, with no HEAD; keys between "x" and
// "x/" that fill the LIST's page cost one more LIST; a marker is HEADed
// only when the mount checks permissions.
func TestLookupFastListing(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "file", 5, map[string]string{"mode": strconv.Itoa(syscall.S_IFREG | 0o600)})
	put(t, srv, "dir/a", 1, nil)
	put(t, srv, "marked/", 0, map[string]string{"mode": strconv.Itoa(syscall.S_IFDIR | 0o700)})
	put(t, srv, "marked/a", 1, nil)
	for i := range lookupListMax + 4 {
		put(t, srv, fmt.Sprintf("crowded-%02d", i), 1, nil)
		put(t, srv, fmt.Sprintf("absent-%02d", i), 1, nil)
	}
	put(t, srv, "crowded/a", 1, nil)
	for _, perms := range []bool{false, true} {
		t.Run(fmt.Sprintf("check_permissions=%v", perms), func(t *testing.T) {
			n, _ := newTestNamespace(t, srv, func(c *NamespaceConfig) { c.FastListing, c.CheckPermissions = true, perms })
			ctx := context.Background()
			srv.ResetCounts()
			a, err := n.Lookup(ctx, "", "file")
			if err != nil || a.Dir || a.Known || a.Size != 5 || a.Mode != syscall.S_IFREG|0o644 {
				t.Errorf("file: %+v, %v; want its listing's guess", a, err)
			}
			wantCost(t, srv, "file", 1, 0)
			if a, err := n.Lookup(ctx, "", "dir"); err != nil || !a.Dir || !a.Known {
				t.Errorf("dir: %+v, %v; want a known directory without marker", a, err)
			}
			wantCost(t, srv, "dir", 1, 0)
			a, err = n.Lookup(ctx, "", "marked")
			if perms {
				if err != nil || !a.Known || a.Mode != syscall.S_IFDIR|0o700 {
					t.Errorf("marked: %+v, %v; want its marker's attributes", a, err)
				}
				wantCost(t, srv, "marked", 1, 1)
			} else {
				if err != nil || !a.Dir || a.Known || !a.Listed {
					t.Errorf("marked: %+v, %v; want a listed directory's guess", a, err)
				}
				wantCost(t, srv, "marked", 1, 0)
			}
			if _, err := n.Lookup(ctx, "", "missing"); !isNotExist(err) {
				t.Errorf("missing: %v", err)
			}
			wantCost(t, srv, "missing", 1, 0)
			if a, err := n.Lookup(ctx, "", "crowded"); err != nil || !a.Dir {
				t.Errorf("crowded: %+v, %v; want the directory past a full page", a, err)
			}
			wantCost(t, srv, "crowded (a full page before the directory)", 2, 0)
			if _, err := n.Lookup(ctx, "", "absent"); !isNotExist(err) {
				t.Errorf("absent: %v", err)
			}
			wantCost(t, srv, "absent (a full page, no directory)", 2, 0)
		})
	}
}

// TestListingGuessesVerified: without fast_listing a listing's entries
// are guesses, verified by the lookups that need them (one HEAD each, in
// a doubling window ahead of the lookups): looking every entry up costs
// one HEAD per entry, no more.
func TestListingGuessesVerified(t *testing.T) {
	srv := newTestServer(t)
	const files = 10
	for i := range files {
		put(t, srv, fmt.Sprintf("d/f%02d", i), i, map[string]string{"mode": strconv.Itoa(syscall.S_IFREG | 0o640)})
	}
	put(t, srv, "d/sub/x", 1, nil)
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	srv.ResetCounts()
	l, err := n.ListDir(ctx, "d/", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCost(t, srv, "listing", 1, 0)
	if l.Len() != files+1 {
		t.Fatalf("%d entries, want %d", l.Len(), files+1)
	}
	for i := range l.Len() {
		if name, a := l.At(i); a.Known {
			t.Errorf("%s: known before any HEAD", name)
		}
	}
	if _, ok := n.Shown("d/", "f00"); ok {
		t.Error("a guess is shown without fast_listing")
	}
	if l2, err := n.ListDir(ctx, "d/", nil); err != nil || l2 != l {
		t.Errorf("second ListDir: %p, %v; want the live listing", l2, err)
	}
	wantCost(t, srv, "second ListDir", 0, 0)

	a, err := n.Lookup(ctx, "d/", "f00")
	if err != nil || !a.Known || a.Mode != syscall.S_IFREG|0o640 {
		t.Fatalf("f00: %+v, %v; want its HEAD's attributes", a, err)
	}
	wantCost(t, srv, "first lookup of a listed name", 0, 1)
	// The second lookup verifies two entries (f01 and, ahead, f02).
	if a, err := n.Lookup(ctx, "d/", "f01"); err != nil || !a.Known || a.Size != 1 {
		t.Fatalf("f01: %+v, %v", a, err)
	}
	if !waitFor(60*time.Second, func() bool { a, _ := l.Entry("f02"); return a.Known }) {
		t.Error("f02 not verified ahead of its lookup")
	}
	wantCost(t, srv, "the second lookup", 0, 2)
	for i := 2; i < files; i++ {
		if a, err := n.Lookup(ctx, "d/", fmt.Sprintf("f%02d", i)); err != nil || !a.Known || a.Size != int64(i) {
			t.Fatalf("f%02d: %+v, %v", i, a, err)
		}
	}
	if a, err := n.Lookup(ctx, "d/", "sub"); err != nil || !a.Dir || !a.Implicit || !a.Known {
		t.Errorf("sub: %+v, %v; want a directory known to have no marker", a, err)
	}
	// Each entry HEADed once (f03 to f09 and sub: some were verified
	// ahead of their lookups).
	if !waitFor(60*time.Second, func() bool { a, _ := l.Entry("sub"); return a.Known }) {
		t.Error("sub not verified")
	}
	wantCost(t, srv, "looking up the other entries", 0, files-2)
	srv.ResetCounts()
	if _, err := n.Lookup(ctx, "d/", "nothere"); !isNotExist(err) {
		t.Errorf("a name the listing does not hold: %v", err)
	}
	if a, ok := n.Shown("d/", "f05"); !ok || !a.Known {
		t.Error("a verified entry is not shown at no cost")
	}
	wantCost(t, srv, "names the listing speaks for", 0, 0)
}

// TestListingVerifyGone: an entry gone since the listing is ENOENT, and
// the listing stops speaking for it.
func TestListingVerifyGone(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "d/a", 1, nil)
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	l, err := n.ListDir(ctx, "d/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.DeleteObject("test", "d/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Lookup(ctx, "d/", "a"); ossapi.KindOf(err) != ossapi.KindNotExist {
		t.Errorf("lookup of an entry deleted since: %v, want not found", err)
	}
	if l.SpeaksFor("a") {
		t.Error("the listing still speaks for a deleted entry")
	}

	// A caller that gives up gets its context's error.
	put(t, srv, "d/b", 1, nil)
	if _, err := n.ListDir(ctx, "d/", nil); err != nil { // not pristine: listed again
		t.Fatal(err)
	}
	srv.AddFault(osstest.Fault{Op: "HeadObject", Latency: 2 * time.Second, Times: 1})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := n.Lookup(cctx, "d/", "b"); !errors.Is(err, context.Canceled) {
		t.Errorf("lookup with its caller gone: %v, want context.Canceled", err)
	}
}

// TestPutAttrKeepsKnown: a guess never replaces known attributes of the
// same version (it only says they still stand, and when); a guess of
// another version does.
func TestPutAttrKeepsKnown(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "f", 3, map[string]string{"mode": strconv.Itoa(syscall.S_IFREG | 0o600)})
	n, _ := newTestNamespace(t, srv, nil)
	known, err := n.HeadFile(context.Background(), "f")
	if err != nil || !known.Known {
		t.Fatalf("HeadFile: %+v, %v", known, err)
	}
	guess := &Stat{Size: known.Size, ETag: known.ETag, LastMod: known.LastMod, Mode: syscall.S_IFREG | 0o644, Answered: known.Answered + 1}
	n.putAttr("f", guess)
	got, _, _ := n.Attrs.Peek("f")
	if !got.Known || got.Mode != syscall.S_IFREG|0o600 || got.Answered != guess.Answered {
		t.Errorf("after a guess of the same version: %+v; want the known attributes, answered at the guess's time", got)
	}
	other := &Stat{Size: 9, ETag: `"other"`, Mode: syscall.S_IFREG | 0o644}
	n.putAttr("f", other)
	if got, _, _ := n.Attrs.Peek("f"); got != other {
		t.Errorf("after a guess of another version: %+v; want the guess", got)
	}
	// The listing keeps what is known of the same version too.
	n.Attrs.Put("f", known)
	l, err := n.ListDir(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := l.Entry("f"); !ok || !a.Known || a.Mode != syscall.S_IFREG|0o600 {
		t.Errorf("listed f: %+v; want the known attributes", a)
	}
	// A HEAD that finds nothing forgets the attributes.
	if err := srv.DeleteObject("test", "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.HeadFile(context.Background(), "f"); ossapi.KindOf(err) != ossapi.KindNotExist {
		t.Errorf("HeadFile of a deleted object: %v", err)
	}
	if _, _, ok := n.Attrs.Peek("f"); ok {
		t.Error("attributes kept after a HEAD found no object")
	}
}

// TestFreshWindow: an open takes the cached attributes as the current
// version only within OpenFreshTTL of the server's answer.
func TestFreshWindow(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "f", 3, nil)
	n, _ := newTestNamespace(t, srv, func(c *NamespaceConfig) { c.OpenFreshTTL = time.Hour })
	if _, ok := n.Fresh("f"); ok {
		t.Error("fresh before anything is known")
	}
	a, err := n.HeadFile(context.Background(), "f")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := n.Fresh("f"); !ok || got != a {
		t.Errorf("right after a HEAD: %+v, %v; want fresh", got, ok)
	}
	old := *a
	old.Answered = time.Now().Add(-2 * time.Hour).UnixNano()
	n.Attrs.Put("f", &old)
	if _, ok := n.Fresh("f"); ok {
		t.Error("fresh past OpenFreshTTL")
	}
	mine := *a
	mine.Answered = 0 // not from an answer of the server
	n.Attrs.Put("f", &mine)
	if _, ok := n.Fresh("f"); ok {
		t.Error("fresh without an answer")
	}
	n.Attrs.Put("d", n.ImplicitDir())
	if _, ok := n.Fresh("d"); ok {
		t.Error("a directory is fresh")
	}
	n.cfg.OpenFreshTTL = 0
	n.Attrs.Put("f", a)
	if _, ok := n.Fresh("f"); ok {
		t.Error("fresh with OpenFreshTTL off")
	}
}

// TestInvalidateStopsListing: once this mount changes a name, the parent's
// listing stops speaking for it (and only for it).
func TestInvalidateStopsListing(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "d/a", 1, nil)
	n, _ := newTestNamespace(t, srv, func(c *NamespaceConfig) { c.FastListing = true })
	ctx := context.Background()
	l, err := n.ListDir(ctx, "d/", "owner")
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	if _, err := n.Lookup(ctx, "d/", "new"); !isNotExist(err) {
		t.Fatalf("new, before it exists: %v", err)
	}
	wantCost(t, srv, "a name the listing speaks for", 0, 0)
	put(t, srv, "d/new", 4, nil)
	n.Invalidate("d/new")
	if l.SpeaksFor("new") || !l.SpeaksFor("a") {
		t.Error("Invalidate: the listing should stop speaking for new, and only for it")
	}
	if a, err := n.Lookup(ctx, "d/", "new"); err != nil || a.Size != 4 {
		t.Errorf("new, after Invalidate: %+v, %v", a, err)
	}
	wantCost(t, srv, "a name the listing no longer speaks for", 1, 0)
	if _, ok := n.Cached("d/a"); !ok {
		t.Error("d/a: the listing's entry is not cached")
	}
	// A changed listing is listed again; Forget drops it for its owner only.
	if l2, err := n.ListDir(ctx, "d/", "owner"); err != nil || l2 == l || l2.Len() != 2 {
		t.Errorf("ListDir after a change: %v; want a new listing of 2 entries", err)
	}
	n.Forget("d/", "someone else")
	if _, _, ok := n.Lists.Peek("d/"); !ok {
		t.Error("Forget by another owner dropped the listing")
	}
	n.Forget("d/", "owner")
	if _, _, ok := n.Lists.Peek("d/"); ok {
		t.Error("Forget by its owner kept the listing")
	}
	srv.ResetCounts()
	// A directory this mount made empty answers for its names at once.
	n.NoteEmptyDir("e/")
	if _, err := n.Lookup(ctx, "e/", "x"); !isNotExist(err) {
		t.Errorf("a name in a new empty directory: %v", err)
	}
	wantCost(t, srv, "lookups in a new empty directory", 0, 0)
}

// TestListDirNames: keys that cannot be names are skipped (logged), a
// marker listed as an object is a directory, and the listing counts for
// the memory limit while it is read.
func TestListDirNames(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "d/", 0, nil)
	put(t, srv, "d/ok", 1, nil)
	put(t, srv, "d/empty/", 0, nil)
	put(t, srv, "d//x", 1, nil) // an empty name
	var counted, peak int64
	n, log := newTestNamespace(t, srv, func(c *NamespaceConfig) {
		c.Listed = func(d int64) { counted += d; peak = max(peak, counted) }
	})
	l, err := n.ListDir(context.Background(), "d/", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range l.Len() {
		name, _ := l.At(i)
		names = append(names, name)
	}
	if fmt.Sprint(names) != "[empty ok]" {
		t.Errorf("entries %v, want [empty ok]", names)
	}
	if a, _ := l.Entry("empty"); !a.Dir {
		t.Errorf("empty: %+v, want a directory", a)
	}
	if !strings.Contains(log.String(), "cannot be a name") {
		t.Errorf("the skipped key was not logged: %s", log)
	}
	if counted != 0 || peak != 2 {
		t.Errorf("memory count %d at the end, %d at most; want 0 and 2", counted, peak)
	}
	if got := n.ListedEntries(); got != 2 {
		t.Errorf("ListedEntries %d, want 2", got)
	}
}

// TestListEntrySmall keeps a listing's entry (one per child of a listed
// directory, a million and more) within its size class.
func TestListEntrySmall(t *testing.T) {
	if s := unsafe.Sizeof(listEntry{}); s > 24 {
		t.Errorf("listEntry is %d bytes, want at most 24", s)
	}
}

func TestValidNames(t *testing.T) {
	for name, want := range map[string]syscall.Errno{
		"a": 0, "": syscall.EINVAL, ".": syscall.EINVAL, "..": syscall.EINVAL, "a/b": syscall.EINVAL, "a\x00": syscall.EINVAL,
		strings.Repeat("x", MaxNameLen): 0, strings.Repeat("x", MaxNameLen+1): syscall.ENAMETOOLONG,
	} {
		if got := NameErrno(name); got != want || ValidName(name) != (want == 0) {
			t.Errorf("NameErrno(%q) = %v, want %v", name, got, want)
		}
	}
	for key, want := range map[string]string{"a": "", "a/b": "a/", "a/b/": "a/", "a/b/c": "a/b/"} {
		if got := ParentKey(key); got != want {
			t.Errorf("ParentKey(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestSweep: the negative and listing caches let go of their entries once
// their time is up, without a lookup meeting them; Attrs keeps only what
// it knows (what later listings are checked against).
func TestSweep(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "d/a", 1, nil)
	put(t, srv, "f", 1, nil)
	n, _ := newTestNamespace(t, srv, func(c *NamespaceConfig) {
		c.StatTTL, c.NegTTL, c.ListTTL = time.Second, time.Second, time.Second
	})
	ctx := context.Background()
	if _, err := n.ListDir(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.HeadFile(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	n.Attrs.Put("guess", &Stat{Size: 1})
	n.Neg.Put("missing", struct{}{})
	if !waitFor(60*time.Second, func() bool {
		n.Sweep(time.Now())
		return n.Neg.Len() == 0 && n.Lists.Len() == 0
	}) {
		t.Fatalf("60 s after they expired: %d negative entries and %d listings held", n.Neg.Len(), n.Lists.Len())
	}
	if !waitFor(60*time.Second, func() bool { n.Sweep(time.Now()); return n.Attrs.Len() == 1 }) {
		t.Errorf("Attrs holds %d entries, want f's known attributes alone", n.Attrs.Len())
	}
	if _, _, ok := n.Attrs.Peek("f"); !ok {
		t.Error("known attributes dropped by the sweep")
	}
}

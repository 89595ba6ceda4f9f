package fs

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// TestLookupCost pins what a lookup on a fresh mount (nothing cached)
// costs. With fast_listing one LIST of the keys starting with the name
// tells a file (its entry), a directory and a missing name apart, with no
// HEAD (`ls -l dir` costs the directory's lookup LIST and its pages,
// nothing else); a directory's marker is HEADed for its exact attributes
// only when the mount checks permissions. Keys sorting between "x" and
// "x/" ("x-1", "x.txt") that fill the LIST's page cost one more LIST.
// Exact attributes (the default) take one HEAD and one LIST in parallel,
// as before.
func TestLookupCost(t *testing.T) {
	type want struct {
		errno syscall.Errno
		mode  uint32 // S_IFMT
		size  uint64 // directories: 4096
		lists int64
		heads int64
	}
	setup := func(tf *testFS) {
		put := func(key string, n int) { tf.srv.PutObject("test", key, make([]byte, n), nil) }
		put("file", 5)
		put("dir/a", 1)
		put("marked/", 0)
		put("marked/a", 1)
		put("both", 7) // a file and a directory of one name: the directory wins
		put("both/a", 1)
		for i := range 40 { // more than a lookup LIST asks for (lookupListMax)
			put(fmt.Sprintf("crowded-%02d", i), 1)
			put(fmt.Sprintf("crowdfile.%02d", i), 1)
			put(fmt.Sprintf("absent-%02d", i), 1)
		}
		put("crowded/a", 1)
		put("crowdfile", 9)
	}
	for _, mode := range []struct {
		name  string
		fast  bool
		perms bool
		cases map[string]want
	}{
		{"fast_listing", true, false, map[string]want{
			"file":      {0, syscall.S_IFREG, 5, 1, 0},
			"dir":       {0, syscall.S_IFDIR, 4096, 1, 0},
			"marked":    {0, syscall.S_IFDIR, 4096, 1, 0},
			"both":      {0, syscall.S_IFDIR, 4096, 1, 0},
			"missing":   {syscall.ENOENT, 0, 0, 1, 0},
			"crowded":   {0, syscall.S_IFDIR, 4096, 2, 0},
			"crowdfile": {0, syscall.S_IFREG, 9, 2, 0},
			"absent":    {syscall.ENOENT, 0, 0, 2, 0},
		}},
		{"fast_listing, checking permissions", true, true, map[string]want{
			"file":   {0, syscall.S_IFREG, 5, 1, 0},
			"dir":    {0, syscall.S_IFDIR, 4096, 1, 0},
			"marked": {0, syscall.S_IFDIR, 4096, 1, 1}, // its marker's attributes
			"both":   {0, syscall.S_IFDIR, 4096, 1, 0},
		}},
		{"exact", false, false, map[string]want{
			"file":    {0, syscall.S_IFREG, 5, 1, 1},
			"dir":     {0, syscall.S_IFDIR, 4096, 1, 1},
			"marked":  {0, syscall.S_IFDIR, 4096, 1, 2}, // and the marker's HEAD
			"missing": {syscall.ENOENT, 0, 0, 1, 1},
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			tf := newTestFS(t, nil, func(c *Config) { c.FastListing, c.CheckPermissions = mode.fast, mode.perms })
			setup(tf)
			for name, w := range mode.cases {
				tf.srv.ResetCounts()
				out, errno := tf.lookupIn(fuse.FUSE_ROOT_ID, name)
				if errno == 0 && out.NodeId == 0 {
					errno = syscall.ENOENT // a negative entry
				}
				if errno != w.errno {
					t.Errorf("lookup %s: %v, want %v", name, errno, w.errno)
					continue
				}
				if errno == 0 && (out.Attr.Mode&syscall.S_IFMT != w.mode || out.Attr.Size != w.size) {
					t.Errorf("lookup %s: mode %o size %d, want type %o size %d", name, out.Attr.Mode, out.Attr.Size, w.mode, w.size)
				}
				c := tf.srv.Counts()
				if c["ListObjectsV2"] != w.lists || c["HeadObject"] != w.heads || total(c) != w.lists+w.heads {
					t.Errorf("lookup %s cost %v, want %d LIST and %d HEAD", name, c, w.lists, w.heads)
				}
			}
		})
	}
}

// total is the number of requests in counts.
func total(counts map[string]int64) int64 {
	n := int64(0)
	for _, c := range counts {
		n += c
	}
	return n
}

package e2e

// Attributes are exact before they are shown: what a listing shows and
// when (docs/SEMANTICS.md "What a listing shows").

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ossfsHdr is the ossfs metadata of an object: mode, owner and mtime.
func ossfsHdr(mode uint32, uid, gid int, mtime time.Time) []string {
	return []string{"x-oss-meta-mode", strconv.FormatUint(uint64(mode), 10), "x-oss-meta-uid", strconv.Itoa(uid),
		"x-oss-meta-gid", strconv.Itoa(gid), "x-oss-meta-mtime", strconv.FormatInt(mtime.Unix(), 10)}
}

// wantStat checks a path's type and mode, owner and mtime.
func wantStat(t *testing.T, what, p string, mode uint32, uid, gid int, mtime time.Time) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	got := time.Unix(st.Mtim.Unix())
	if st.Mode != mode || int(st.Uid) != uid || int(st.Gid) != gid || !got.Equal(mtime) {
		t.Errorf("%s: mode %o uid %d gid %d mtime %v; want %o %d %d %v", what, st.Mode, st.Uid, st.Gid, got, mode, uid, gid, mtime)
	}
}

// TestListingShowsExactAttributes: on a fresh mount, what `ls -l` and stat
// show after a listing is each object's own mode, owner and mtime, never
// the listing's guess; directories first seen in a listing get their
// marker's attributes, or the mount time (never 1970).
func TestListingShowsExactAttributes(t *testing.T) {
	srv := newServer(t)
	old := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
	srv.PutObject("test", "d/secret.bin", []byte("s"), hdr(ossfsHdr(syscall.S_IFREG|0o600, 1234, 5678, old)...))
	srv.PutObject("test", "d/run.sh", []byte("#!/bin/sh\n"), hdr(ossfsHdr(syscall.S_IFREG|0o750, 42, 43, old.Add(time.Hour))...))
	srv.PutObject("test", "d/link", []byte("secret.bin"), hdr(ossfsHdr(syscall.S_IFLNK|0o777, 0, 0, old)...))
	srv.PutObject("test", "d/plain.txt", []byte("p"), nil)
	srv.PutObject("test", "d/sub/", nil, hdr(append(ossfsHdr(syscall.S_IFDIR|0o700, 1234, 5678, old), "Content-Type", "application/x-directory")...))
	srv.PutObject("test", "d/sub/x", []byte("x"), nil)
	srv.PutObject("test", "d/implicit/y", []byte("y"), nil)
	_, h, _ := srv.GetObject("test", "d/plain.txt")
	plainTime, _ := time.Parse(time.RFC1123, h.Get("Last-Modified"))
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	m := startMount(t, srv, "test")
	after := time.Now().Add(time.Second)

	out := strings.Join(strings.Fields(run(t, "ls", "-ln", "--time-style=+%s", m.path("d"))), " ")
	for name, want := range map[string]string{
		"secret.bin": fmt.Sprintf("-rw------- 1 1234 5678 1 %d secret.bin", old.Unix()),
		"run.sh":     fmt.Sprintf("-rwxr-x--- 1 42 43 10 %d run.sh", old.Add(time.Hour).Unix()),
		"link":       fmt.Sprintf("lrwxrwxrwx 1 0 0 10 %d link -> secret.bin", old.Unix()),
		"sub":        fmt.Sprintf("drwx------ 2 1234 5678 4096 %d sub", old.Unix()),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ls -l shows no %q for %s:\n%s", want, name, out)
		}
	}
	uid, gid := os.Getuid(), os.Getgid()
	wantStat(t, "plain.txt (no ossfs metadata)", m.path("d", "plain.txt"), syscall.S_IFREG|0o644, uid, gid, plainTime)
	var st syscall.Stat_t
	if err := syscall.Stat(m.path("d", "implicit"), &st); err != nil {
		t.Fatal(err)
	}
	if mt := time.Unix(st.Mtim.Unix()); st.Mode != syscall.S_IFDIR|0o755 || mt.Before(before) || mt.After(after) {
		t.Errorf("implicit directory from a listing: mode %o mtime %v; want 0755 and the mount time (%v..%v)", st.Mode, mt, before, after)
	}
	// tar reads what stat showed, and nothing changes under it.
	tarOut, err := exec.Command("tar", "cf", "/dev/null", "-C", m.path(), "d").CombinedOutput()
	if err != nil || len(tarOut) != 0 {
		t.Errorf("tar cf: %v %s", err, tarOut)
	}
}

// TestListingKeepsKnownAttributes: a listing of the parent never resets
// what this mount knows of a directory (mode, owner, mtime), right after a
// chmod, chown, utimes or rename through the mount too, with or without
// fast_listing.
func TestListingKeepsKnownAttributes(t *testing.T) {
	for _, fast := range []bool{false, true} {
		t.Run(fmt.Sprintf("fast_listing=%v", fast), func(t *testing.T) {
			srv := newServer(t)
			extra := []string{"-o", "list_cache_ttl=0"}
			if fast {
				extra = append(extra, "-o", "fast_listing")
			}
			m := startMount(t, srv, "test", extra...)
			mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := os.MkdirAll(m.path("top", "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(m.path("top", "d", "f"), []byte("f"), 0o644)
			if err := syscall.Chmod(m.path("top", "d"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(m.path("top", "d"), 1234, 5678); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(m.path("top", "d"), mt, mt); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				run(t, "ls", "-l", m.path("top"))
				wantStat(t, fmt.Sprintf("d after listing its parent (%d)", i), m.path("top", "d"), syscall.S_IFDIR|0o700, 1234, 5678, mt)
			}
			if err := os.Rename(m.path("top", "d"), m.path("top", "e")); err != nil {
				t.Fatal(err)
			}
			run(t, "ls", "-l", m.path("top"))
			wantStat(t, "e (d renamed) after listing its parent", m.path("top", "e"), syscall.S_IFDIR|0o700, 1234, 5678, mt)
			wantStat(t, "e/f after the rename", m.path("top", "e", "f"), syscall.S_IFREG|0o644, os.Getuid(), os.Getgid(), fileMtime(t, m.path("top", "e", "f")))
			if fast {
				return // a fresh mount shows the listing's guess for e
			}
			// And on a remount, the marker's attributes.
			m.stop()
			m2 := startMount(t, srv, "test", extra...)
			run(t, "ls", "-l", m2.path("top"))
			wantStat(t, "e on a fresh mount", m2.path("top", "e"), syscall.S_IFDIR|0o700, 1234, 5678, mt)
		})
	}
}

func fileMtime(t *testing.T, p string) time.Time {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return time.Unix(st.Mtim.Unix())
}

// TestListingDotEntries: readdir shows "." and "..".
func TestListingDotEntries(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "d/f", []byte("f"), nil)
	m := startMount(t, srv, "test")
	for _, dir := range []string{m.path(), m.path("d")} {
		out := run(t, "ls", "-a", dir)
		names := strings.Fields(out)
		if len(names) < 2 || names[0] != "." || names[1] != ".." {
			t.Errorf("ls -a %s = %q, want . and .. first", dir, names)
		}
	}
	out := run(t, "ls", "-la", m.path("d"))
	if !strings.Contains(out, " .\n") || !strings.Contains(out, " ..\n") || strings.Contains(out, " 1970 ") {
		t.Errorf("ls -la:\n%s", out)
	}
}

// TestTarOfFreshMount: tar of 2,000 files with modes and times out of a
// fresh mount exits 0 ("file changed as we read it" never happens) and
// records each file's own mode, owner and mtime.
func TestTarOfFreshMount(t *testing.T) {
	srv := newServer(t)
	const n = 2000
	base := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	modes := []uint32{0o600, 0o640, 0o644, 0o755, 0o700, 0o444}
	for i := 0; i < n; i++ {
		mode := modes[i%len(modes)]
		srv.PutObject("test", fmt.Sprintf("tree/d%02d/f%04d", i%20, i), []byte(strconv.Itoa(i)),
			hdr(ossfsHdr(syscall.S_IFREG|mode, 1000+i%3, 2000+i%5, base.Add(time.Duration(i)*time.Hour))...))
	}
	m := startMount(t, srv, "test")
	tarFile := filepath.Join(t.TempDir(), "t.tar")
	out, err := exec.Command("tar", "cf", tarFile, "-C", m.path(), "tree").CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("tar cf of a fresh mount: %v\n%s", err, out)
	}
	list := run(t, "tar", "tvf", tarFile, "--numeric-owner", "--full-time")
	seen := 0
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasPrefix(f[0], "-") {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(filepath.Base(f[5]), "f%04d", &i); err != nil {
			continue
		}
		seen++
		mode := modes[i%len(modes)]
		want := os.FileMode(mode).String()
		owner := fmt.Sprintf("%d/%d", 1000+i%3, 2000+i%5)
		mt := base.Add(time.Duration(i) * time.Hour).Local().Format("2006-01-02 15:04:05")
		if f[0] != want || f[1] != owner || f[3]+" "+f[4] != mt {
			t.Errorf("tar entry %q; want %s %s %s", line, want, owner, mt)
		}
	}
	if seen != n {
		t.Errorf("tar holds %d files, want %d", seen, n)
	}
}

// TestListingCost: without fast_listing, `ls -l` of 10,000 objects with
// ossfs metadata on a fresh mount costs its LISTs and one HEAD per object
// (run in parallel), and shows each object's own mode; after a remount of
// the unchanged bucket it costs the LISTs alone (the attribute store);
// after an object changes, one HEAD for it.
func TestListingCost(t *testing.T) {
	srv := newServer(t)
	const n = 10000
	mt := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)
	for i := 0; i < n; i++ {
		srv.PutObject("test", fmt.Sprintf("many/f%05d", i), []byte("x"), hdr(ossfsHdr(syscall.S_IFREG|0o600, 1000+i%7, 2000, mt)...))
	}
	seeded := time.Now()
	// The store keeps a HEAD only when it came at least 2 s after the
	// object's Last-Modified (a change within that second would keep its
	// version): wait until the bucket is that old.
	time.Sleep(time.Until(seeded.Add(2100 * time.Millisecond)))
	ls := func(m *mount) (map[string]int64, int64) {
		t.Helper()
		if _, err := os.Stat(m.path("many")); err != nil {
			t.Fatal(err)
		}
		srv.ResetCounts()
		out := run(t, "ls", "-ln", m.path("many"))
		if lines := strings.Count(out, "\n") - 1; lines != n {
			t.Fatalf("ls -l listed %d entries, want %d", lines, n)
		}
		if c := strings.Count(out, "-rw------- 1 "); c != n {
			t.Errorf("ls -l shows mode 0600 for %d of %d objects", c, n)
		}
		return srv.Counts(), totalRequests(srv)
	}
	m := startMount(t, srv, "test")
	counts, total := ls(m)
	t.Logf("fresh mount: %d requests %v", total, counts)
	if counts["HeadObject"] > n || counts["ListObjectsV2"] > 11 || total > n+11 {
		t.Errorf("ls -l of %d objects on a fresh mount cost %v; want at most 11 LISTs and %d HEADs", n, counts, n)
	}
	m.stop()
	m = startMount(t, srv, "test")
	counts, total = ls(m)
	t.Logf("remount: %d requests %v", total, counts)
	if counts["HeadObject"] != 0 || total > 12 {
		t.Errorf("ls -l after a remount of the unchanged bucket cost %v; want at most 12 requests and no HEAD", counts)
	}
	m.stop()
	// Another client changes one object's metadata (a self-copy keeps the
	// ETag, not Last-Modified): its stored record no longer matches.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	srv.PutObject("test", "many/f00042", []byte("x"), hdr(ossfsHdr(syscall.S_IFREG|0o644, 1000, 2000, mt)...))
	m = startMount(t, srv, "test")
	if _, err := os.Stat(m.path("many")); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	out := run(t, "ls", "-ln", m.path("many"))
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "-rw-r--r-- 1 1000 2000 1") {
		t.Errorf("the changed object does not show its new mode")
	}
	if c := srv.Counts(); c["HeadObject"] != 1 {
		t.Errorf("ls -l after one object changed: %v; want one HEAD", c)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrivateDir(t *testing.T) {
	base := t.TempDir()

	// Created with missing parents, 0700.
	d := filepath.Join(base, "a", "b")
	if err := privateDir(d); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(base, "a"), d} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 || !st.IsDir() {
			t.Errorf("%s: mode %v, want drwx------", p, st.Mode())
		}
	}
	// Existing and private: fine.
	if err := privateDir(d); err != nil {
		t.Fatalf("second call: %v", err)
	}

	// Open to others: refused, not fixed silently.
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o755)
	if err := privateDir(open); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("group/other readable dir: %v, want a refusal naming chmod 700", err)
	}

	// A symlink in its place, even to a private directory: refused.
	link := filepath.Join(base, "link")
	os.Symlink(d, link)
	if err := privateDir(link); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("symlink: %v, want a refusal", err)
	}

	// A file in its place: refused.
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if err := privateDir(file); err == nil {
		t.Error("a file was accepted as a private directory")
	}

	// Owned by someone else: refused (needs root to set up).
	if os.Geteuid() == 0 {
		other := filepath.Join(base, "other")
		os.Mkdir(other, 0o700)
		os.Chown(other, 65534, 65534)
		if err := privateDir(other); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("dir of uid 65534: %v, want a refusal", err)
		}
	} else {
		t.Log("not root: the other-owner case needs chown; checked as root in CI")
	}

	if err := privateDir("relative/dir"); err == nil {
		t.Error("a relative path was accepted")
	}
}

func TestCreatePrivateFile(t *testing.T) {
	d := t.TempDir()
	target := filepath.Join(d, "target")
	os.WriteFile(target, []byte("keep"), 0o600)
	name := filepath.Join(d, "f.pid")
	// A symlink planted at the name is replaced, never written through.
	os.Symlink(target, name)
	f, err := createPrivateFile(name, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("123\n")
	f.Close()
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("wrote through a symlink: target now %q", b)
	}
	if st, err := os.Lstat(name); err != nil || !st.Mode().IsRegular() {
		t.Errorf("%s: %v %v, want a regular file", name, st, err)
	}
}

package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func createFile(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
}

func TestAttrStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "attrs")
	s, err := OpenAttrStore(path, 10, createFile)
	if err != nil {
		t.Fatal(err)
	}
	lm := time.Now().Add(-time.Minute)
	meta := map[string]string{"mode": "33152", "uid": "7", "color": "blue"}
	s.Put("a", `"e1"`, lm, meta)
	s.Put("fresh", `"e2"`, time.Now(), meta) // same second: not kept
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenAttrStore(path, 10, createFile)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s2.Get("a", `"e1"`, lm)
	if !ok || got["mode"] != "33152" || got["uid"] != "7" || got["color"] != "" {
		t.Errorf("Get after reload = %v %v; want the ossfs keys only", got, ok)
	}
	if _, ok := s2.Get("a", `"e1"`, lm.Add(time.Second)); ok {
		t.Error("a record matched another Last-Modified")
	}
	if _, ok := s2.Get("a", `"other"`, lm); ok {
		t.Error("a record matched another ETag")
	}
	if _, ok := s2.Get("fresh", `"e2"`, time.Now()); ok {
		t.Error("a HEAD made within its object's Last-Modified second was kept")
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("store file: %v %v", st.Mode(), err)
	}
}

func TestAttrStoreRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "attrs")
	s, _ := OpenAttrStore(path, 10, createFile)
	s.Put("a", `"e1"`, time.Now().Add(-time.Hour), map[string]string{"mode": "33188"})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	cases := map[string]func(){
		"flipped byte": func() {
			b := append([]byte(nil), good...)
			b[len(b)-3] ^= 1
			os.WriteFile(path, b, 0o600)
		},
		"truncated": func() { os.WriteFile(path, good[:len(good)-5], 0o600) },
		"other format": func() {
			os.WriteFile(path, []byte("something else\n[]"), 0o600)
		},
		"symlink": func() {
			os.WriteFile(filepath.Join(dir, "real"), good, 0o600)
			os.Remove(path)
			os.Symlink(filepath.Join(dir, "real"), path)
		},
		"unexpected metadata": func() {
			body := `[{"k":"a","e":"x","t":1,"m":{"evil":"1"}}]`
			os.WriteFile(path, []byte(fmt.Sprintf("%s 1 %08x\n%s", storeMagic, crc32c([]byte(body)), body)), 0o600)
		},
	}
	for name, spoil := range cases {
		os.Remove(path)
		spoil()
		s, err := OpenAttrStore(path, 10, createFile)
		if err == nil || s.Len() != 0 {
			t.Errorf("%s: loaded %d records, err %v; want it ignored", name, s.Len(), err)
		}
	}
	// Ignored, and then replaced by the next save.
	s.Put("b", `"e"`, time.Now().Add(-time.Hour), nil)
	if err := s.Save(); err != nil {
		t.Fatalf("save over an ignored file: %v", err)
	}
	if s3, err := OpenAttrStore(path, 10, createFile); err != nil || s3.Len() != 2 {
		t.Errorf("after the save: %d records, %v", s3.Len(), err)
	}
}

func TestAttrStoreBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "attrs")
	s, _ := OpenAttrStore(path, 3, createFile)
	lm := time.Now().Add(-time.Hour)
	for i := 0; i < 5; i++ {
		s.Put(fmt.Sprint("k", i), `"e"`, lm, nil)
	}
	if s.Len() != 3 {
		t.Errorf("%d records, want at most 3", s.Len())
	}
	s.Save()
	s2, _ := OpenAttrStore(path, 2, createFile)
	if s2.Len() != 2 {
		t.Errorf("loaded %d records into a store of 2", s2.Len())
	}
	if _, ok := s2.Get("k4", `"e"`, lm); !ok {
		t.Error("the most recent record was dropped")
	}
}

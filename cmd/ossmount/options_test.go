package main

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/CONFIGURATION.md")

func TestExpandArgs(t *testing.T) {
	got, err := expandArgs([]string{"bucket:/p", "/mnt", "-o", "rw,_netdev,nofail,allow_other,uid=1000,stat_cache_ttl=5s,x-systemd.automount,comment=foo", "-f"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--rw", "--allow_other", "--uid=1000", "--stat_cache_ttl=5s", "-f", "bucket:/p", "/mnt"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	got, err = expandArgs([]string{"--region", "cn-hangzhou", "b", "/m", "-oro"})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"--region", "cn-hangzhou", "--ro", "b", "/m"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for _, bad := range [][]string{{"b", "/m", "-o", "nosuch=1"}, {"b", "/m", "-o", "region"}, {"b", "/m", "-o", "ro=maybe"}, {"b", "/m", "-o"}} {
		if _, err := expandArgs(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		} else if strings.Contains(bad[len(bad)-1], "nosuch") && !strings.Contains(err.Error(), "nosuch") {
			t.Errorf("error %q does not name the option", err)
		}
	}
}

func TestParseSizeAndDuration(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "512K": 512 << 10, "8M": 8 << 20, "10G": 10 << 30, "1Gi": 1 << 30, "2MB": 2 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1Q"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
	// 16777216T is 2^64 bytes: it once wrapped around to 0, which the
	// options took for "not given" and replaced with the default.
	if n, err := parseSize("16777216T"); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("parseSize(16777216T) = %d, %v; want a too-large error", n, err)
	}
	if d, err := parseDuration("30"); err != nil || d.Seconds() != 30 {
		t.Errorf("parseDuration(30) = %v %v", d, err)
	}
	if _, err := parseDuration("soon"); err == nil {
		t.Errorf("parseDuration(soon) accepted")
	}
}

func TestParseSource(t *testing.T) {
	for in, want := range map[string][2]string{"bucket": {"bucket", ""}, "bucket:/a/b": {"bucket", "a/b/"}, "oss://bucket/x/": {"bucket", "x/"}} {
		b, p, err := parseSource(in)
		if err != nil || b != want[0] || p != want[1] {
			t.Errorf("parseSource(%q) = %q %q %v", in, b, p, err)
		}
	}
	for _, bad := range []string{"", "UPPER", "a", "bad_name"} {
		if _, _, err := parseSource(bad); err == nil {
			t.Errorf("parseSource(%q) accepted", bad)
		}
	}
}

const (
	docPath  = "../../docs/CONFIGURATION.md"
	genBegin = "<!-- BEGIN GENERATED OPTIONS (go test ./cmd/ossmount -update) -->"
	genEnd   = "<!-- END GENERATED OPTIONS -->"
)

// TestConfigurationDoc keeps docs/CONFIGURATION.md true to the option table.
func TestConfigurationDoc(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, genBegin), strings.Index(s, genEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-options markers", docPath)
	}
	gen := optionsMarkdown()
	cur := s[i+len(genBegin) : j]
	if cur != gen {
		if *update {
			os.WriteFile(docPath, []byte(s[:i+len(genBegin)]+gen+s[j:]), 0o644)
			return
		}
		t.Fatalf("docs/CONFIGURATION.md is out of date with the option table; run go test ./cmd/ossmount -update")
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportsSkipsAndFailures runs a real `go test -json` of a package with
// a passing, a skipped and a failing test.
func TestReportsSkipsAndFailures(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module sample\n\ngo 1.22\n",
		"a_test.go": `package sample

import "testing"

func TestPass(t *testing.T) {}
func TestSkip(t *testing.T) { t.Skip("no real bucket: set THE_VARIABLES") }
func TestFail(t *testing.T) { t.Log("some detail"); t.Fatal("it broke") }
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-count=1", "-json", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	js, _ := cmd.Output()
	var out strings.Builder
	code := report(strings.NewReader(string(js)), &out)
	got := out.String()
	if code != 1 {
		t.Errorf("exit %d with a failing test, want 1", code)
	}
	for _, want := range []string{
		"--- SKIP: TestSkip (sample): ",
		"no real bucket: set THE_VARIABLES",
		"--- FAIL: TestFail",
		"some detail",
		"it broke",
		"FAIL\tsample",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "TestPass") {
		t.Errorf("report shows a passing test:\n%s", got)
	}
	// A passing run exits 0; no results at all is a failure.
	var o2 strings.Builder
	if c := report(strings.NewReader(`{"Action":"pass","Package":"p","Elapsed":0.1}`+"\n"), &o2); c != 0 || !strings.Contains(o2.String(), "ok  \tp") {
		t.Errorf("passing package: exit %d, %q", c, o2.String())
	}
	if c := report(strings.NewReader(""), &o2); c != 1 {
		t.Errorf("no results: exit %d, want 1", c)
	}
}

// Command testreport turns `go test -json` into what `go test` prints
// without -v, plus every skipped test and its reason, so that a skip is
// never silent in `make test`:
//
//	go test -json ./... | go run ./test/testreport
//
// It prints one line per package (ok, FAIL, no test files), the whole
// output of every failed test and of a failed package (a panic, a build
// error), and one line per skipped test with the reason it gave. It exits
// 1 when anything failed or no package reported at all.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	ImportPath string // build events
	Test       string
	Elapsed    float64
	Output     string
}

func main() {
	os.Exit(report(os.Stdin, os.Stdout))
}

type key struct{ pkg, test string }

func report(in io.Reader, out io.Writer) int {
	outputs := map[key][]string{}
	failed, packages := false, 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(out, string(line)) // not an event: show it as it is
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			outputs[k] = append(outputs[k], e.Output)
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "build-fail":
			failed = true
		case "skip":
			if e.Test == "" {
				packages++
				fmt.Fprintf(out, "?   \t%s\t[no test files]\n", e.Package)
				break
			}
			fmt.Fprintf(out, "--- SKIP: %s (%s): %s\n", e.Test, e.Package, skipReason(outputs[k]))
			delete(outputs, k)
		case "pass":
			if e.Test == "" {
				packages++
				fmt.Fprintf(out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
			}
			delete(outputs, k)
		case "fail":
			failed = true
			if e.Test != "" {
				fmt.Fprint(out, strings.Join(outputs[k], ""))
				delete(outputs, k)
				break
			}
			packages++
			// The package's own output (a panic, a timeout, TestMain)
			// and that of tests that never finished; the summary line
			// once.
			for _, l := range outputs[k] {
				if !strings.HasPrefix(l, "FAIL\t"+e.Package) && l != "FAIL\n" {
					fmt.Fprint(out, l)
				}
			}
			delete(outputs, k)
			for ok, lines := range outputs {
				if ok.pkg == e.Package {
					fmt.Fprint(out, strings.Join(lines, ""))
					delete(outputs, ok)
				}
			}
			fmt.Fprintf(out, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testreport:", err)
		return 1
	}
	if packages == 0 {
		fmt.Fprintln(out, "testreport: no test results")
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// skipReason is what a skipped test said, on one line.
func skipReason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

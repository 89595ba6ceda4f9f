package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/CONFIGURATION.md")

func TestNormalize(t *testing.T) {
	expandArgs := func(args []string) ([]string, error) { return normalize(flags(), args) }
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

// parsed is what a command line parsed into: the command that ran, its
// positional arguments and its option values.
type parsed struct {
	cmd  string
	args []string
	v    values
}

// parseArgs parses a command line the way run does, with every command's
// action replaced by one that records what it was given.
func parseArgs(args ...string) (parsed, error) {
	app := newApp(nil)
	var got parsed
	record := func(c *cli.Context) error {
		got = parsed{cmd: commandPath(c), args: c.Args().Slice(), v: values{c}}
		return nil
	}
	var stub func(cmds []*cli.Command)
	stub = func(cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Action != nil {
				c.Action = record
			}
			stub(c.Subcommands)
		}
	}
	app.Action = record
	stub(app.Commands)
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	argv, err := normalizeArgv(app, append([]string{"ossmount"}, args...))
	if err != nil {
		return got, err
	}
	return got, app.Run(argv)
}

// wantUsageError checks that err is a usage error (exit status 2) of one
// line saying want.
func wantUsageError(t *testing.T, what string, err error, want string) {
	t.Helper()
	var ec cli.ExitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != 2 || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %v; want a one-line usage error (exit status 2) saying %q", what, err, want)
	}
}

// TestTypedOptions: every option is parsed with its type when the command
// line is read, whichever way it is given.
func TestTypedOptions(t *testing.T) {
	p, err := parseArgs("b", "/m", "-o", "memory_budget=64M,stat_cache_ttl=0,negative_cache_ttl=2m,uid=1000,file_mode=0600",
		"--data_cache_passthrough", "off", "--retry_max=3", "-o", "ro,log_level=WARN,data_cache=/var/cache/d")
	if err != nil {
		t.Fatal(err)
	}
	v := p.v
	if p.cmd != "" || !reflect.DeepEqual(p.args, []string{"b", "/m"}) {
		t.Errorf("command %q args %q", p.cmd, p.args)
	}
	if v.size("memory_budget") != 64<<20 || v.int("uid") != 1000 || !v.given("uid") || v.given("gid") ||
		v.octal("file_mode") != 0o600 || v.octal("dir_mode") != 0o755 || v.on("data_cache_passthrough") ||
		v.int("retry_max") != 3 || !v.bool("ro") || v.bool("rw") || v.str("log_level") != "WARN" {
		t.Errorf("values: memory_budget %d uid %d (given %v, gid given %v) modes %o %o passthrough %v retry_max %d ro %v rw %v log_level %q",
			v.size("memory_budget"), v.int("uid"), v.given("uid"), v.given("gid"), v.octal("file_mode"), v.octal("dir_mode"),
			v.on("data_cache_passthrough"), v.int("retry_max"), v.bool("ro"), v.bool("rw"), v.str("log_level"))
	}
	// Defaults, and 0 meaning "disabled" for cache lifetimes.
	if ttl(v, "stat_cache_ttl") != -1 || ttl(v, "negative_cache_ttl") != 2*time.Minute || ttl(v, "list_cache_ttl") != time.Minute ||
		v.size("disk_budget") != 10<<30 || v.dur("connect_timeout") != 5*time.Second {
		t.Errorf("stat ttl %v, negative ttl %v, list ttl %v, disk_budget %d, connect_timeout %v",
			ttl(v, "stat_cache_ttl"), ttl(v, "negative_cache_ttl"), ttl(v, "list_cache_ttl"), v.size("disk_budget"), v.dur("connect_timeout"))
	}
	p, err = parseArgs("b", "/m")
	if err != nil || !p.v.on("data_cache_passthrough") || p.v.given("umask") || p.v.size("data_cache_size") != 0 {
		t.Errorf("defaults: %v passthrough %v umask given %v", err, p.v.on("data_cache_passthrough"), p.v.given("umask"))
	}
	// head_concurrency reaches the file system (64 unless given).
	for _, c := range []struct {
		args []string
		want int
	}{{[]string{"b", "/m"}, 64}, {[]string{"b", "/m", "-o", "head_concurrency=128"}, 128}} {
		p, err := parseArgs(c.args...)
		if err != nil {
			t.Fatal(err)
		}
		if n := fsConfig(p.v, "").HeadConcurrency; n != c.want {
			t.Errorf("%v: HeadConcurrency %d, want %d", c.args, n, c.want)
		}
	}
	fcfg, ocfg, mo, err := buildConfigs(values{}, "b", "")
	if err == nil {
		t.Errorf("no region and no endpoint: accepted (%v %v %v)", fcfg, ocfg, mo)
	}
}

// TestBadOptionValues: a bad value is a one-line usage error naming the
// option and saying what is wrong, whatever the command.
func TestBadOptionValues(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"b", "/m", "-o", "memory_budget=lots"}, `option memory_budget: "lots" is not a size`},
		// 2^64 bytes: once wrapped around to 0, taken for "not given".
		{[]string{"b", "/m", "-o", "disk_budget=16777216T"}, `option disk_budget: "16777216T" is too large`},
		{[]string{"--disk_budget", "16777216T", "b", "/m"}, `option disk_budget: "16777216T" is too large`},
		{[]string{"b", "/m", "-o", "uid=me"}, `option uid: "me" is not a number`},
		{[]string{"b", "/m", "-o", "umask=9"}, `option umask: "9" is not an octal mode`},
		{[]string{"b", "/m", "-o", "stat_cache_ttl=soon"}, `option stat_cache_ttl: "soon" is not a duration`},
		{[]string{"b", "/m", "-o", "head_concurrency=0"}, `option head_concurrency: "0" is not a number from 1 to 1024`},
		{[]string{"b", "/m", "-o", "log_level=loud"}, `option log_level: "loud" is not one of debug, info, warn, error`},
		{[]string{"b", "/m", "-o", "data_cache_passthrough=maybe"}, `option data_cache_passthrough: "maybe" is not on or off`},
		{[]string{"b", "/m", "-o", "data_cache=relative/dir"}, `option data_cache: "relative/dir" is not an absolute path`},
		{[]string{"b", "/m", "-o", "credential_source=nope"}, `option credential_source: unknown source "nope"`},
		{[]string{"b", "/m", "-o", "sts_endpoint=https://sts.example.com"}, `option sts_endpoint: "https://sts.example.com" is not HOST[:PORT]`},
		{[]string{"presign", "/m/f", "--expires", "8d"}, `--expires: "8d" is not a duration`},
		{[]string{"presign", "oss://b/k", "-o", "connect_timeout=x"}, `option connect_timeout: "x" is not a duration`},
		{[]string{"post-policy", "/m/d", "--max-size", "big"}, `--max-size: "big" is not a size`},
		{[]string{"uploads", "abort", "b", "--older-than", "old"}, `--older-than: "old" is not a duration`},
		{[]string{"unmount", "/m", "--wait", "long"}, `--wait: "long" is not a duration`},
		{[]string{"--frobnicate", "b", "/m"}, "unknown option --frobnicate (see ossmount --help)"},
		{[]string{"stats", "/m", "--frobnicate"}, "stats: unknown option --frobnicate (see ossmount stats --help)"},
		{[]string{"uploads", "list", "b", "--frobnicate"}, "uploads list: unknown option --frobnicate (see ossmount uploads list --help)"},
		{[]string{"presign", "/m/f", "-o", "allow_other"}, "presign: unknown option --allow_other"},
	} {
		_, err := parseArgs(c.args...)
		wantUsageError(t, strings.Join(c.args, " "), err, c.want)
	}
}

// TestCommandsAnyOrder: every command takes its options before or after
// its arguments, and -o lists where it takes client options.
func TestCommandsAnyOrder(t *testing.T) {
	for _, c := range []struct {
		args    []string
		cmd     string
		pos     []string
		check   func(v values) bool
		explain string
	}{
		{[]string{"presign", "/m/f", "--expires", "60", "-o", "region=r,sigv1", "--inline"}, "presign", []string{"/m/f"},
			func(v values) bool {
				return v.dur("expires") == time.Minute && v.str("region") == "r" && v.bool("sigv1") && v.bool("inline")
			}, "expires 60s, region r, sigv1, inline"},
		{[]string{"post-policy", "--max-size", "10M", "oss://b/in/", "--html"}, "post-policy", []string{"oss://b/in/"},
			func(v values) bool {
				return v.size("max-size") == 10<<20 && v.bool("html") && v.dur("expires") == 30*time.Minute
			},
			"max-size 10M, html, expires 1800s"},
		{[]string{"uploads", "abort", "b:/p", "--older-than", "24h", "-o", "endpoint=http://127.0.0.1:1", "--all"}, "uploads abort", []string{"b:/p"},
			func(v values) bool {
				return v.dur("older-than") == 24*time.Hour && v.bool("all") && v.str("endpoint") == "http://127.0.0.1:1"
			}, "older-than 24h, all, endpoint"},
		{[]string{"stats", "/m", "--json"}, "stats", []string{"/m"}, func(v values) bool { return v.bool("json") }, "json"},
		{[]string{"unmount", "/m", "-z", "--wait", "5"}, "unmount", []string{"/m"},
			func(v values) bool { return v.bool("z") && v.dur("wait") == 5*time.Second }, "z, wait 5s"},
		{[]string{"mount", "b", "/m", "-o", "ro"}, "", []string{"b", "/m"}, func(v values) bool { return v.bool("ro") }, "ro"},
		{[]string{"-f", "b", "--", "-m"}, "", []string{"b", "-m"}, func(v values) bool { return v.bool("foreground") }, "foreground"},
	} {
		p, err := parseArgs(c.args...)
		if err != nil || p.cmd != c.cmd || !reflect.DeepEqual(p.args, c.pos) || !c.check(p.v) {
			t.Errorf("%q: err %v, command %q, args %q; want command %q, args %q, %s", c.args, err, p.cmd, p.args, c.cmd, c.pos, c.explain)
		}
	}
}

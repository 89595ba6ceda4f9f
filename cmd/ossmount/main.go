// Command ossmount mounts an Alibaba Cloud OSS bucket as a directory.
//
//	ossmount [options] BUCKET[:/PREFIX] MOUNTPOINT [-o opt[,opt...]]
//	ossmount unmount [-z] [--wait D] MOUNTPOINT
//	ossmount presign FILE|oss://BUCKET/KEY [--expires D] [--download-as NAME]
//	ossmount post-policy DIR|oss://BUCKET/PREFIX/ [--max-size N] [--html]
//	ossmount uploads list|abort [--older-than D] BUCKET[:/PREFIX]
//	ossmount stats [--json] MOUNTPOINT
//	ossmount cache status|pin|unpin|drop PATH
//
// Every option works as `-o name=value` and as `--name value`, before or
// after the positional arguments, so ossmount can be run by mount.fuse3
// from /etc/fstab. See docs/CONFIGURATION.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

var version = "0.1.0-dev"

func main() {
	// OSSMOUNT_CPUPROFILE=FILE writes a CPU profile of the whole run (a
	// debugging aid for performance work; see docs/CONFIGURATION.md).
	if p := os.Getenv("OSSMOUNT_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			code := run(os.Args)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args))
}

func run(argv []string) int {
	ensureEnv()
	if isMountHelper(argv[0]) {
		var fake bool
		argv, fake = helperArgs(argv)
		if fake {
			return 0
		}
	}
	// The detached daemon re-runs ossmount with these arguments.
	childArgs = argv[1:]
	app := newApp()
	args := argv
	// Mount-style argv (anything not starting with a subcommand) gets
	// its -o lists expanded and positionals moved last.
	if len(argv) > 1 && !isCommand(app, argv[1]) {
		exp, err := expandArgs(argv[1:])
		if err != nil {
			fmt.Fprintf(os.Stderr, "ossmount: %v\n", err)
			return 2
		}
		args = append([]string{argv[0]}, exp...)
	}
	if err := app.Run(args); err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintf(os.Stderr, "ossmount: %s\n", msg)
			}
			return ec.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "ossmount: %v\n", err)
		return 1
	}
	return 0
}

// childArgs are the arguments the daemon child is started with: argv
// without the program name, after mount-helper normalization.
var childArgs []string

// defaultPath is used when ossmount starts without PATH: mount(8) removes
// it from a mount helper's environment, and ossmount runs fusermount3 and
// credential_process commands by name.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ensureEnv gives ossmount a usable PATH and HOME when started by
// mount(8), which clears PATH (and by systemd, which may not set HOME).
func ensureEnv() {
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", defaultPath)
	}
	if os.Getenv("HOME") == "" {
		if u, err := user.Current(); err == nil && u.HomeDir != "" {
			os.Setenv("HOME", u.HomeDir)
		}
	}
}

// isMountHelper reports whether ossmount runs as mount(8)'s helper
// (installed as /sbin/mount.fuse.ossmount).
func isMountHelper(argv0 string) bool {
	return strings.HasPrefix(filepath.Base(argv0), "mount.")
}

// helperArgs rewrites a mount helper's argv,
//
//	mount.fuse.ossmount SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS] [-t TYPE]
//
// into ossmount's: mount(8)'s flags -s (sloppy), -n (no mtab) and -v
// (verbose) are dropped, -t TYPE is dropped, and -f (fake: do everything
// but the mount) makes fake true. In particular -f does not mean
// foreground and -v does not mean version here.
func helperArgs(argv []string) (out []string, fake bool) {
	out = []string{"ossmount"}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-t" || a == "--types":
			i++
		case strings.HasPrefix(a, "-t") && len(a) > 2 && !strings.HasPrefix(a, "--"):
		case a == "-o" || a == "--options":
			if i+1 < len(argv) {
				out = append(out, "-o", argv[i+1])
			}
			i++
		case strings.HasPrefix(a, "-o"):
			out = append(out, a)
		case len(a) > 1 && a[0] == '-' && a[1] != '-' && strings.Trim(a[1:], "sfnv") == "":
			if strings.Contains(a, "f") {
				fake = true
			}
		default:
			out = append(out, a)
		}
	}
	return out, fake
}

func isCommand(app *cli.App, s string) bool {
	if s == "help" || s == "h" {
		return true
	}
	for _, c := range app.Commands {
		if c.Name == s {
			return true
		}
		for _, a := range c.Aliases {
			if a == s {
				return true
			}
		}
	}
	return false
}

// orderedFlagCategoryTemplate is urfave/cli's flag category template with
// the categories in the option table's order (mount, cache, performance,
// credentials, client) instead of alphabetical.
const orderedFlagCategoryTemplate = `{{range orderedCategories .VisibleFlagCategories}}
   {{if .Name}}{{.Name}}

   {{end}}{{$flglen := len .Flags}}{{range $i, $e := .Flags}}{{if eq (subtract $flglen $i) 1}}{{$e}}
{{else}}{{$e}}
   {{end}}{{end}}{{end}}`

func init() {
	cli.HelpPrinter = func(w io.Writer, templ string, data any) {
		templ = strings.ReplaceAll(templ, `{{template "visibleFlagCategoryTemplate" .}}`, orderedFlagCategoryTemplate)
		cli.HelpPrinterCustom(w, templ, data, map[string]any{"orderedCategories": orderCategories})
	}
}

// orderCategories puts uncategorized flags first, then the option groups
// in groupOrder, then any other category.
func orderCategories(cats []cli.VisibleFlagCategory) []cli.VisibleFlagCategory {
	rank := func(name string) int {
		if name == "" {
			return -1
		}
		for i, g := range groupOrder {
			if g == name {
				return i
			}
		}
		return len(groupOrder)
	}
	out := append([]cli.VisibleFlagCategory(nil), cats...)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Name()) < rank(out[j].Name()) })
	return out
}

func newApp() *cli.App {
	mountCmd := &cli.Command{
		Name:      "mount",
		Usage:     "mount a bucket (the default command)",
		ArgsUsage: "BUCKET[:/PREFIX] MOUNTPOINT",
		Flags:     flags(),
		Action:    mountAction,
		Before: func(c *cli.Context) error {
			return nil
		},
	}
	mountCmd.SkipFlagParsing = false
	app := &cli.App{
		Name:      "ossmount",
		Usage:     "mount an Alibaba Cloud OSS bucket as a directory",
		Version:   version,
		ArgsUsage: "BUCKET[:/PREFIX] MOUNTPOINT [-o opt[,opt...]]",
		Description: "Options work as -o name=value and as --name value, before or after the arguments.\n" +
			"Credentials come from the environment (ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET/_SECURITY_TOKEN),\n" +
			"a passwd file, or the credential options below. See docs/CONFIGURATION.md.",
		Flags:                  flags(),
		Action:                 mountAction,
		HideHelpCommand:        false,
		UseShortOptionHandling: false,
		Commands: []*cli.Command{
			mountCmd,
			unmountCommand(),
			presignCommand(),    // presign.go
			postPolicyCommand(), // postpolicy.go
			uploadsCommand(),    // uploads.go
			statsCommand(),      // stats.go
			cacheCommand(),      // datacache.go
		},
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
	}
	for _, c := range app.Commands {
		setUsageError(c)
	}
	return app
}

// setUsageError makes every usage error of c and its subcommands one line
// and exit status 2, like the others (urfave/cli would print the whole
// help and exit 1).
func setUsageError(c *cli.Command) {
	c.OnUsageError = onUsageError
	for _, sub := range c.Subcommands {
		setUsageError(sub)
	}
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	cmd := ""
	if c.Command != nil && c.Command.Name != "mount" && c.Command.Name != c.App.Name {
		cmd = c.Command.Name
	}
	return flagError(cmd, err)
}

// flagError is the usage error for a flag the command line of cmd ("" for
// mounting) got wrong: one line naming it, exit status 2.
func flagError(cmd string, err error) error {
	msg := err.Error()
	if _, name, ok := strings.Cut(msg, "flag provided but not defined: "); ok {
		msg = fmt.Sprintf("unknown option --%s", strings.TrimLeft(name, "-"))
	}
	if cmd == "" {
		return usageError("%s (see ossmount --help)", msg)
	}
	return usageError("%s: %s (see ossmount %s --help)", cmd, msg, cmd)
}

// usageError is a command-line mistake (exit status 2).
func usageError(format string, a ...any) error {
	return cli.Exit(fmt.Sprintf(format, a...), 2)
}

// parseSource splits BUCKET[:/PREFIX] (also oss://BUCKET/PREFIX).
func parseSource(s string) (bucket, prefix string, err error) {
	s = strings.TrimPrefix(s, "oss://")
	bucket, prefix, _ = strings.Cut(s, ":")
	if strings.Contains(bucket, "/") && prefix == "" {
		bucket, prefix, _ = strings.Cut(bucket, "/")
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	if !validBucket(bucket) {
		return "", "", fmt.Errorf("%q is not a bucket name (3-63 lower-case letters, digits and '-')", bucket)
	}
	return bucket, prefix, nil
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || b[0] == '-' || b[len(b)-1] == '-' {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

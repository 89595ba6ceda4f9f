// Command ossmount mounts an Alibaba Cloud OSS bucket as a directory.
//
//	ossmount [options] BUCKET[:/PREFIX] MOUNTPOINT [-o opt[,opt...]]
//	ossmount unmount [-z] MOUNTPOINT
//
// Every option works as `-o name=value` and as `--name value`, before or
// after the positional arguments, so ossmount can be run by mount.fuse3
// from /etc/fstab. See docs/CONFIGURATION.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args))
}

func run(argv []string) int {
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
	return &cli.App{
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
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
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

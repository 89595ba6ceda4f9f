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
//
// Where things are: main.go starts, args.go rewrites the command line for
// the parser (urfave/cli, app.go), options.go is the mount option table
// and optvalue.go its typed values; mount.go, config.go and serve.go
// mount and serve, with daemon.go, sdnotify.go, pidfile.go, logging.go,
// syslog.go and logfile.go around them; each other command has a file
// named for it (unmount, presign, postpolicy, share, uploads, stats,
// datacache), and control.go is how they ask a running mount.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime/pprof"

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

// run runs the command line argv and returns the exit status: 0, 1 for a
// failure, 2 for a usage error.
func run(argv []string) int {
	ensureEnv()
	if isMountHelper(argv[0]) {
		var fake bool
		argv, fake = helperArgs(argv)
		if fake {
			return 0
		}
	}
	// The detached daemon re-runs ossmount with argv as it is now.
	app := newApp(argv[1:])
	args, err := normalizeArgv(app, argv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ossmount: %v\n", err)
		return 2
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

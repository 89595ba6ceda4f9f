package main

// The mount command: its arguments and mount point checked, then served in
// the foreground (serve.go) or by a detached daemon (daemon.go).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// mountAction mounts the bucket named on the command line; childArgs are
// the arguments a detached daemon is started with.
func mountAction(c *cli.Context, childArgs []string) error {
	if c.NArg() == 0 {
		return cli.ShowAppHelp(c)
	}
	if c.NArg() != 2 {
		return usageError("need BUCKET[:/PREFIX] and MOUNTPOINT (got %d arguments); see ossmount --help", c.NArg())
	}
	bucket, prefix, err := parseSource(c.Args().Get(0))
	if err != nil {
		return usageError("%v", err)
	}
	mnt, err := filepath.Abs(c.Args().Get(1))
	if err != nil {
		return usageError("mountpoint: %v", err)
	}
	v := values{c}
	if err := checkMountpoint(mnt, v.bool("nonempty")); err != nil {
		return err
	}
	foreground := v.bool("foreground")
	// Under systemd Type=notify (NOTIFY_SOCKET set) the service process
	// must not fork: it stays in the foreground and sends READY=1 itself.
	if os.Getenv("NOTIFY_SOCKET") != "" && os.Getenv(daemonEnv) == "" {
		foreground = true
	}
	if !foreground && os.Getenv(daemonEnv) == "" {
		if v.str("log_file") == "" {
			p, err := daemonLogFile(mnt)
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			if p != "" {
				childArgs = append(childArgs, "--log_file="+p)
			}
		}
		return daemonize(childArgs)
	}
	report := func(error) {}
	if fdStr := os.Getenv(daemonEnv); fdStr != "" {
		os.Unsetenv(daemonEnv)
		report = readyPipe(fdStr)
	}
	err = serve(v, bucket, prefix, mnt, foreground, report)
	report(err) // no-op if already reported
	if err != nil {
		return cli.Exit(err.Error(), exitCode(err))
	}
	return nil
}

// checkMountpoint refuses to mount at mnt unless it is a directory, holds no
// ossmount mount already (a second daemon would stack on the first), and
// is empty or nonempty is set (what is in it would be hidden while
// mounted).
func checkMountpoint(mnt string, nonempty bool) error {
	if e, ok := mountAt(mnt); ok && e.isOssmount() {
		return cli.Exit(fmt.Sprintf("%s already holds an ossmount mount (%s): unmount it first (ossmount unmount %s)", mnt, e.source, mnt), 1)
	}
	st, err := os.Stat(mnt)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usageError("mountpoint %s: no such directory", mnt)
	case errors.Is(err, syscall.ENOTCONN):
		return cli.Exit(fmt.Sprintf("mountpoint %s is a stale mount (the process serving it is gone): unmount it first (umount -l %s)", mnt, mnt), 1)
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return usageError("mountpoint %s: %v", mnt, err)
	case !st.IsDir():
		return usageError("mountpoint %s is not a directory", mnt)
	}
	if nonempty {
		return nil
	}
	d, err := os.Open(mnt)
	if err != nil {
		return cli.Exit(fmt.Sprintf("mountpoint %s: %v", mnt, err), 1)
	}
	names, _ := d.Readdirnames(1)
	d.Close()
	if len(names) > 0 {
		return cli.Exit(fmt.Sprintf("mountpoint %s is not empty: mount on an empty directory, or add -o nonempty to hide its contents while mounted", mnt), 1)
	}
	return nil
}

// exitCode is the exit status for err: 2 for a usage error, else 1.
func exitCode(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return 1
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

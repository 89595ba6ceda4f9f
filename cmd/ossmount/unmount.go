package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

func unmountCommand() *cli.Command {
	return &cli.Command{
		Name:      "unmount",
		Aliases:   []string{"umount"},
		Usage:     "unmount a mounted bucket (flushing open files first)",
		ArgsUsage: "MOUNTPOINT",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "z", Aliases: []string{"lazy"}, Usage: "lazy unmount: detach now, finish when no longer busy"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("usage: ossmount unmount [-z] MOUNTPOINT")
			}
			mnt, err := filepath.Abs(c.Args().First())
			if err != nil {
				return usageError("%v", err)
			}
			return unmount(mnt, c.Bool("z"))
		},
	}
}

// unmount runs fusermount3 -u (or umount as root) and explains failures.
func unmount(mnt string, lazy bool) error {
	if !isMounted(mnt) {
		return cli.Exit(fmt.Sprintf("%s is not mounted", mnt), 1)
	}
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		args := []string{mnt}
		if lazy {
			args = []string{"-l", mnt}
		}
		cmd = exec.Command("umount", args...)
	} else {
		args := []string{"-u", mnt}
		if lazy {
			args = []string{"-uz", mnt}
		}
		cmd = exec.Command("fusermount3", args...)
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(out))
	if _, serr := os.Stat(mnt); serr != nil && strings.Contains(serr.Error(), "not connected") {
		return cli.Exit(fmt.Sprintf("%s is a stale mount (the ossmount process is gone): run `ossmount unmount -z %s`", mnt, mnt), 1)
	}
	if strings.Contains(msg, "busy") {
		return cli.Exit(fmt.Sprintf("%s is busy (a process has a file or directory open there); close it, or use -z to detach lazily", mnt), 1)
	}
	return cli.Exit(fmt.Sprintf("unmount %s: %s", mnt, msg), 1)
}

// isMounted reports whether mnt is a mount point in /proc/self/mountinfo.
func isMounted(mnt string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMount(f[4]) == mnt {
			return true
		}
	}
	return false
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

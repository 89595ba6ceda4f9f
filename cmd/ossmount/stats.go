package main

// ossmount stats: a running mount's numbers for people (or, with --json,
// for scripts). The mount's daemon builds them (metrics.Summary) and
// answers through the control channel the sharing commands use, a virtual
// extended attribute (user.oss.stats, see fs/stats.go), after checking
// that the caller is root or the user the mount runs as. SIGUSR1 logs the
// same summary.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/metrics"
)

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "print a running mount's statistics: OSS and FUSE requests, caches, budgets, uploads, credentials",
		ArgsUsage: "[--json] MOUNTPOINT",
		Description: `Asks the mount's own process for its numbers (the ones -o metrics serves to Prometheus):
requests, errors and latencies by OSS and FUSE operation, read-ahead, cache hit ratios, memory
and disk budgets, uploads and kept data, credential expiry. Only root and the user the mount
runs as may read them. --json prints them as JSON for scripts.`,
		Flags: optionFlags([]option{{name: "json", kind: kBool, usage: "print JSON"}}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("usage: ossmount stats [--json] MOUNTPOINT")
			}
			return statsAction(c.Args().First(), c.Bool("json"))
		},
	}
}

func statsAction(path string, asJSON bool) error {
	if _, err := os.Stat(path); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	answer, err := getControlXattr(path, "user.oss.stats")
	switch {
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return cli.Exit(fmt.Sprintf("%s: permission denied: only root and the user who mounted it may read a mount's statistics", path), 1)
	case errors.Is(err, syscall.ENODATA) || errors.Is(err, syscall.ENOTSUP):
		return cli.Exit(fmt.Sprintf("%s is not in an ossmount mount (or the mount is too old to report statistics)", path), 1)
	case err != nil:
		return mountError(path, err)
	}
	var s metrics.Summary
	if err := json.Unmarshal([]byte(answer), &s); err != nil {
		return cli.Exit(fmt.Sprintf("%s: the mount's answer is not a statistics report: %v", path, err), 1)
	}
	if asJSON {
		out, err := json.MarshalIndent(&s, "", "  ")
		if err != nil {
			return cli.Exit(err.Error(), 1)
		}
		fmt.Println(string(out))
		return nil
	}
	return s.WriteText(os.Stdout)
}

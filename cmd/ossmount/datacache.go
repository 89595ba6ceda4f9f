package main

// The persistent data cache: opening it for a mount (-o data_cache=DIR),
// and `ossmount cache`, which shows, pins and drops entries through the
// mount's control channel (the virtual attribute user.oss.cache, see
// fs/cachexattr.go), with the daemon checking that the caller may read the
// file.

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/cache"
)

// openDataCache creates DIR safely (privateDir) and opens the cache in it,
// refusing a directory another mount is using.
func openDataCache(v values, dir string, log *slog.Logger) (*cache.DataCache, error) {
	if err := privateDir(dir); err != nil {
		return nil, fmt.Errorf("data_cache: %v", err)
	}
	dc, err := cache.OpenDataCache(cache.DataCacheConfig{Dir: dir, Limit: v.size("data_cache_size"),
		MinFree: v.size("data_cache_min_free"), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("data_cache: %v", err)
	}
	return dc, nil
}

func cacheCommand() *cli.Command {
	sub := func(name, usage string) *cli.Command {
		return &cli.Command{
			Name:      name,
			Usage:     usage,
			ArgsUsage: "PATH",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usageError("usage: ossmount cache %s PATH", name)
				}
				return cacheAction(name, c.Args().First())
			},
		}
	}
	return &cli.Command{
		Name:  "cache",
		Usage: "show, pin or drop what a mount's data cache (-o data_cache) holds of a file",
		Description: `status FILE prints what the cache holds of the file; status DIR (e.g. the mount point) the
cache's numbers. pin FILE fetches the whole file into the cache and keeps it there (not
evicted) until unpin FILE; drop FILE removes it. The mount checks that you may read the file.`,
		Subcommands: []*cli.Command{
			sub("status", "print what the data cache holds of PATH (a file), or its numbers (a directory)"),
			sub("pin", "fetch a file whole into the data cache and keep it there"),
			sub("unpin", "let a pinned file be evicted again"),
			sub("drop", "remove a file from the data cache"),
		},
	}
}

func cacheAction(op, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if op != "status" {
		if st.IsDir() {
			return cli.Exit(fmt.Sprintf("%s is a directory: cache %s takes a file", path, op), 2)
		}
		return cacheError(path, op, setControlXattr(path, "user.oss.cache", op))
	}
	answer, err := getControlXattr(path, "user.oss.cache")
	if err != nil {
		return cacheError(path, op, err)
	}
	var m map[string]any
	if json.Unmarshal([]byte(answer), &m) != nil {
		return cli.Exit(fmt.Sprintf("%s: the mount's answer is not a cache status", path), 1)
	}
	out, _ := json.MarshalIndent(m, "", "  ")
	fmt.Println(string(out))
	return nil
}

// cacheError explains a failed cache request.
func cacheError(path, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENODATA) || errors.Is(err, syscall.ENOTSUP):
		return cli.Exit(fmt.Sprintf("%s: not in an ossmount mount with a data cache (mount with -o data_cache=DIR)", path), 1)
	case errors.Is(err, syscall.EFBIG):
		return cli.Exit(fmt.Sprintf("%s is larger than the data cache (data_cache_size)", path), 1)
	case errors.Is(err, syscall.ENOSPC):
		return cli.Exit(fmt.Sprintf("%s: no room in the data cache to pin it (other pinned files, data_cache_size or data_cache_min_free)", path), 1)
	case errors.Is(err, syscall.EINVAL) && op != "status":
		return cli.Exit(fmt.Sprintf("%s: the mount refused to %s it (a symlink?)", path, op), 2)
	}
	return mountError(path, err)
}

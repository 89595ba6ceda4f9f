package main

// Configuration building: option values turned into the settings of the
// file system (fs.Config), the OSS client (ossapi.Config) and the FUSE
// mount (fuse.MountOptions).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/ossapi"
)

// buildConfigs turns option values into the fs, client and FUSE settings.
func buildConfigs(v *values, bucket, prefix string) (fs.Config, ossapi.Config, fuse.MountOptions) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if v.set("uid") {
		uid = uint32(v.int("uid"))
	}
	if v.set("gid") {
		gid = uint32(v.int("gid"))
	}
	fileMode, dirMode := v.octal("file_mode"), v.octal("dir_mode")
	if v.set("umask") {
		um := v.octal("umask")
		fileMode &^= um
		dirMode &^= um
	}
	if fileMode == 0 {
		fileMode = 0o644
	}
	if dirMode == 0 {
		dirMode = 0o755
	}
	ro := v.bool("ro") && !v.bool("rw")
	budget := v.size("memory_budget")
	if budget <= 0 {
		budget = 256 << 20
	}
	fcfg := fs.Config{
		Prefix: prefix, UID: uid, GID: gid, FileMode: fileMode, DirMode: dirMode, ReadOnly: ro,
		StatTTL: ttl(v, "stat_cache_ttl"), StatCacheSize: v.int("stat_cache_size"),
		NegTTL: ttl(v, "negative_cache_ttl"), NegCacheSize: v.int("negative_cache_size"),
		ListTTL: ttl(v, "list_cache_ttl"), ListCacheSize: v.int("list_cache_size"),
		MemoryBudget: budget, BlockSize: v.size("block_size"), PartSize: v.size("read_part_size"),
		MaxWindow: v.size("max_read_window"), FirstRead: v.size("first_read_size"),
		CacheDir: v.str("cache_dir"), DiskBudget: v.size("disk_budget"),
		UploadPartSize: v.size("upload_part_size"), UploadConcurrency: v.int("upload_concurrency"),
		MaxRenameObjects: v.int("max_rename_objects"),
		CheckPermissions: !v.bool("default_permissions"),
		FastListing:      v.bool("fast_listing"),
	}
	switch strings.ToLower(v.str("data_cache_passthrough")) {
	case "on", "true", "yes", "1", "":
		fcfg.Passthrough = true
	case "off", "false", "no", "0":
	default:
		v.fail("data_cache_passthrough", fmt.Errorf("%q is not on or off", v.str("data_cache_passthrough")))
	}
	if d := v.str("data_cache"); d != "" && !filepath.IsAbs(d) {
		v.fail("data_cache", fmt.Errorf("%q is not an absolute path", d))
	}
	endpoint := v.str("endpoint")
	var extra []string
	if h := v.str("additional_headers"); h != "" {
		for _, n := range strings.Split(h, ":") {
			if n = strings.TrimSpace(n); n != "" {
				extra = append(extra, strings.ToLower(n))
			}
		}
	}
	ocfg := ossapi.Config{
		Bucket: bucket, Region: v.str("region"), Endpoint: endpoint, CNAME: v.bool("cname"),
		Internal: v.bool("internal"), Accelerate: v.bool("accelerate"), Insecure: v.bool("insecure"),
		PathStyle: v.bool("path_style"), ConnectTimeout: v.dur("connect_timeout"), FirstByteTimeout: v.dur("first_byte_timeout"),
		Timeout: v.dur("timeout"), StallTimeout: v.dur("stall_timeout"), RetryWindow: v.dur("retry_window"), RetryMax: v.int("retry_max"),
		RequesterPays: v.bool("requester_pays"), SignatureV1: v.bool("sigv1"), AdditionalHeaders: extra,
	}
	if ocfg.RetryWindow == 0 {
		ocfg.RetryWindow = -1 // retry_window=0: no retries (ossapi's 0 is the default)
	}
	if ocfg.Region == "" && ocfg.Endpoint == "" {
		v.fail("region", fmt.Errorf("give -o region=REGION (e.g. cn-hangzhou) or -o endpoint=URL"))
	}
	fcfg.Endpoint = storeEndpoint(ocfg)
	fsname := v.str("fsname")
	if fsname == "" {
		fsname = "ossmount:" + bucket
		if prefix != "" {
			fsname += ":/" + strings.TrimSuffix(prefix, "/")
		}
	}
	mo := fuse.MountOptions{
		FsName:            fsname,
		Name:              "ossmount",
		AllowOther:        v.bool("allow_other"),
		MaxWrite:          1 << 20,
		MaxReadAhead:      1 << 20,
		ExtraCapabilities: fuse.CAP_HANDLE_KILLPRIV_V2,
		// Not DisableSplice: with go-fuse v2.12.1 it returns short, wrong
		// reads under load (seen as truncated 1 GiB reads in make bench).
		Debug:       v.bool("fuse_debug"),
		DirectMount: os.Geteuid() == 0,
		MaxBackground: func() int {
			if n := v.int("max_background"); n > 0 {
				return n
			}
			return int(min(max(budget/(4<<20), 8), 64))
		}(),
	}
	// The kernel's background requests (read-ahead, write-back) each hold
	// a buffer of up to MaxWrite bytes, go-fuse keeps released ones in
	// pools until the next collection (half as much again, measured), and
	// synchronous requests (direct writes) a few more: that much of the
	// budget is the FUSE layer's. (go-fuse's MaxInflightRequestBytes would
	// bound them, but it also holds back the readers of /dev/fuse: 1 GiB
	// dd 30% slower.)
	fcfg.FUSEMemory = int64(mo.MaxBackground)*int64(mo.MaxWrite)*3/2 + fuseSyncBytes
	if v.bool("default_permissions") {
		mo.Options = append(mo.Options, "default_permissions")
	}
	if ro {
		mo.Options = append(mo.Options, "ro")
	}
	if v.bool("allow_root") && !mo.AllowOther {
		mo.Options = append(mo.Options, "allow_root")
	}
	return fcfg, ocfg, mo
}

// fuseSyncBytes is what synchronous FUSE requests (direct writes) are
// expected to hold at once, beyond the background ones.
const fuseSyncBytes = 16 << 20

// memorySlack is what the process may use over memory_budget: the Go
// runtime's memory limit is set there.
const memorySlack = 32 << 20

// ttl reads a cache lifetime where 0 means "disabled" (fs.Config uses <0).
func ttl(v *values, name string) time.Duration {
	d := v.dur(name)
	if d == 0 && v.c.String(name) != "" {
		return -1
	}
	return d
}

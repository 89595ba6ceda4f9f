package main

// Configuration building: option values turned into the settings of the
// file system (fs.Config), the OSS client (ossapi.Config) and the FUSE
// mount (fuse.MountOptions). The values were checked one by one when the
// command line was parsed (optvalue.go); what is checked here is how they
// go together.

import (
	"os"
	"strings"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/metrics"
	"github.com/ossmount/ossmount/ossapi"
)

// buildConfigs turns option values into the fs, client and FUSE settings.
func buildConfigs(v values, bucket, prefix string) (fs.Config, ossapi.Config, fuse.MountOptions, error) {
	ocfg, err := clientConfig(v, bucket)
	if err != nil {
		return fs.Config{}, ossapi.Config{}, fuse.MountOptions{}, err
	}
	fcfg := fsConfig(v, prefix)
	fcfg.Endpoint = storeEndpoint(ocfg)
	mo := fuseOptions(v, bucket, prefix, fcfg.MemoryBudget)
	// The kernel's background requests (read-ahead, write-back) each hold
	// a buffer of up to MaxWrite bytes, go-fuse keeps released ones in
	// pools until the next collection (half as much again, measured), and
	// synchronous requests (direct writes) a few more: that much of the
	// budget is the FUSE layer's. (go-fuse's MaxInflightRequestBytes would
	// bound them, but it also holds back the readers of /dev/fuse: 1 GiB
	// dd 30% slower.)
	fcfg.FUSEMemory = int64(mo.MaxBackground)*int64(mo.MaxWrite)*3/2 + fuseSyncBytes
	fcfg.KernelRequests = mo.MaxBackground
	return fcfg, ocfg, mo, nil
}

// fsConfig is the file system's part of the options (without the store,
// the endpoint and what the mount adds when it starts).
func fsConfig(v values, prefix string) fs.Config {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if v.given("uid") {
		uid = uint32(v.int("uid"))
	}
	if v.given("gid") {
		gid = uint32(v.int("gid"))
	}
	fileMode, dirMode := v.octal("file_mode"), v.octal("dir_mode")
	if v.given("umask") {
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
	return fs.Config{
		Prefix: prefix, UID: uid, GID: gid, FileMode: fileMode, DirMode: dirMode, ReadOnly: readOnly(v),
		StatTTL: ttl(v, "stat_cache_ttl"), StatCacheSize: v.int("stat_cache_size"),
		OpenFreshTTL: ttl(v, "open_fresh_ttl"),
		NegTTL:       ttl(v, "negative_cache_ttl"), NegCacheSize: v.int("negative_cache_size"),
		ListTTL: ttl(v, "list_cache_ttl"), ListCacheSize: v.int("list_cache_size"),
		MemoryBudget: memoryBudget(v), BlockSize: v.size("block_size"), PartSize: v.size("read_part_size"),
		MaxWindow: v.size("max_read_window"), FirstRead: v.size("first_read_size"),
		CacheDir: v.str("cache_dir"), DiskBudget: v.size("disk_budget"),
		UploadPartSize: v.size("upload_part_size"), UploadConcurrency: v.int("upload_concurrency"),
		MaxRenameObjects: v.int("max_rename_objects"), HeadConcurrency: v.int("head_concurrency"),
		CheckPermissions: !v.bool("default_permissions"),
		FastListing:      v.bool("fast_listing"),
		Passthrough:      v.on("data_cache_passthrough"),
	}
}

// clientConfig is the OSS client's part of the options (without the
// credentials): what the mount and the commands that reach OSS directly
// share.
func clientConfig(v values, bucket string) (ossapi.Config, error) {
	var extra []string
	for _, n := range strings.Split(v.str("additional_headers"), ":") {
		if n = strings.TrimSpace(n); n != "" {
			extra = append(extra, strings.ToLower(n))
		}
	}
	ocfg := ossapi.Config{
		Bucket: bucket, Region: v.str("region"), Endpoint: v.str("endpoint"), CNAME: v.bool("cname"),
		Internal: v.bool("internal"), Accelerate: v.bool("accelerate"), Insecure: v.bool("insecure"),
		PathStyle: v.bool("path_style"), ConnectTimeout: v.dur("connect_timeout"), FirstByteTimeout: v.dur("first_byte_timeout"),
		Timeout: v.dur("timeout"), StallTimeout: v.dur("stall_timeout"), RetryWindow: v.dur("retry_window"), RetryMax: v.int("retry_max"),
		RequesterPays: v.bool("requester_pays"), SignatureV1: v.bool("sigv1"), AdditionalHeaders: extra,
	}
	if ocfg.RetryWindow == 0 {
		ocfg.RetryWindow = -1 // retry_window=0: no retries (ossapi's 0 is the default)
	}
	if ocfg.Region == "" && ocfg.Endpoint == "" {
		return ocfg, usageError("option region: give -o region=REGION (e.g. cn-hangzhou) or -o endpoint=URL")
	}
	return ocfg, nil
}

// fuseOptions is the FUSE mount's part of the options.
func fuseOptions(v values, bucket, prefix string, budget int64) fuse.MountOptions {
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
		Debug:         v.bool("fuse_debug"),
		DirectMount:   os.Geteuid() == 0,
		MaxBackground: int(min(max(budget/(4<<20), 8), 64)),
	}
	if n := v.int("max_background"); n > 0 {
		mo.MaxBackground = n
	}
	if v.bool("default_permissions") {
		mo.Options = append(mo.Options, "default_permissions")
	}
	if readOnly(v) {
		mo.Options = append(mo.Options, "ro")
	}
	if v.bool("allow_root") && !mo.AllowOther {
		mo.Options = append(mo.Options, "allow_root")
	}
	return mo
}

// readOnly: ro, unless rw too.
func readOnly(v values) bool { return v.bool("ro") && !v.bool("rw") }

// memoryBudget is memory_budget, 256M when not given.
func memoryBudget(v values) int64 {
	if b := v.size("memory_budget"); b > 0 {
		return b
	}
	return 256 << 20
}

// fuseSyncBytes is what synchronous FUSE requests (direct writes) are
// expected to hold at once, beyond the background ones.
const fuseSyncBytes = 16 << 20

// memorySlack is what the process may use over memory_budget: the Go
// runtime's memory limit is set there.
const memorySlack = 32 << 20

// ttl reads a cache lifetime where 0 means "disabled" (fs.Config uses <0).
func ttl(v values, name string) time.Duration {
	d := v.dur(name)
	if d == 0 && v.given(name) {
		return -1
	}
	return d
}

// checkMetrics refuses a metrics address that is not HOST:PORT, or not on
// loopback without metrics_allow_remote.
func checkMetrics(v values) error {
	if addr := v.str("metrics"); addr != "" {
		if err := metrics.CheckAddr(addr, v.bool("metrics_allow_remote")); err != nil {
			return usageError("option metrics: %v", err)
		}
	}
	return nil
}

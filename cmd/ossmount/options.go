package main

// The mount option table: every option's name, group, type, default and
// help, from which the flags, --help, the -o handling and
// docs/CONFIGURATION.md are made.

import (
	"fmt"
	"sort"
	"strings"
)

// kind is how an option's value is parsed.
type kind int

const (
	kBool kind = iota
	kString
	kInt
	kSize     // bytes, with optional K/M/G/T suffix (powers of 1024)
	kDuration // Go duration, or plain seconds
	kOctal    // permission bits
	kOnOff    // on or off (also true/false, yes/no, 1/0)
)

// option is one mount option. Every option can be given as `-o name=value`
// (or `-o name` for booleans) and as `--name value`.
type option struct {
	name  string
	group string
	kind  kind
	def   string
	usage string
	alias []string
	// hidden options are accepted but not listed (FUSE/mount compatibility).
	hidden bool
	// check refuses a bad non-empty value (after the kind's own parsing).
	check func(string) error
}

const (
	gMount = "mount"
	gCache = "cache"
	gPerf  = "performance"
	gCred  = "credentials"
	gCli   = "client"
)

var groupOrder = []string{gMount, gCache, gPerf, gCred, gCli}

// options is the one table of mount options: the parser, --help, the -o
// handling and docs/CONFIGURATION.md follow it.
var options = []option{
	{name: "foreground", alias: []string{"f"}, group: gMount, kind: kBool, usage: "stay in the foreground (default: detach once the mount is ready)"},
	{name: "ro", group: gMount, kind: kBool, usage: "mount read-only"},
	{name: "rw", group: gMount, kind: kBool, usage: "mount read-write (the default)"},
	{name: "allow_other", group: gMount, kind: kBool, usage: "let other users access the mount (needs user_allow_other in /etc/fuse.conf for non-root)"},
	{name: "allow_root", group: gMount, kind: kBool, usage: "let root access the mount", hidden: true},
	{name: "default_permissions", group: gMount, kind: kBool, usage: "let the kernel check permissions from mode/uid/gid (without it ossmount checks them itself, the same way)"},
	{name: "uid", group: gMount, kind: kInt, def: "", usage: "owner of objects without ossfs metadata (default: the mounting user)"},
	{name: "gid", group: gMount, kind: kInt, def: "", usage: "group of objects without ossfs metadata (default: the mounting user's group)"},
	{name: "file_mode", group: gMount, kind: kOctal, def: "0644", usage: "permission bits of files without ossfs metadata"},
	{name: "dir_mode", group: gMount, kind: kOctal, def: "0755", usage: "permission bits of directories without ossfs metadata"},
	{name: "umask", group: gMount, kind: kOctal, def: "", usage: "clear these bits from file_mode and dir_mode"},
	{name: "nonempty", group: gMount, kind: kBool, usage: "allow mounting on a non-empty directory (its contents are hidden while mounted); without it such a mount is refused"},
	{name: "fsname", group: gMount, kind: kString, def: "", usage: "filesystem name shown in mount tables (default: ossmount:BUCKET)"},
	{name: "log_level", group: gMount, kind: kString, check: checkLogLevel, def: "info", usage: "debug, info, warn or error"},
	{name: "log_file", group: gMount, kind: kString, def: "", usage: "log to this file (default: stderr in the foreground, syslog as a daemon, and without syslog /var/log/ossmount/MOUNTPOINT.log, or ~/.local/state/ossmount/ for other users)"},
	{name: "debug", group: gMount, kind: kBool, usage: "log_level=debug"},
	{name: "fuse_debug", group: gMount, kind: kBool, usage: "log every FUSE request"},
	{name: "metrics", group: gMount, kind: kString, def: "", usage: "serve Prometheus metrics on http://HOST:PORT/metrics, e.g. 127.0.0.1:9464 (port 0: any free port, logged); see docs/OBSERVABILITY.md"},
	{name: "metrics_allow_remote", group: gMount, kind: kBool, usage: "let -o metrics listen on an address other than loopback"},

	{name: "stat_cache_ttl", group: gCache, kind: kDuration, def: "60s", usage: "how long object attributes are cached (also the kernel attr/entry timeout); 0 disables"},
	{name: "open_fresh_ttl", group: gCache, kind: kDuration, def: "1s", usage: "an open takes what OSS said of the file this recently (a listing, a HEAD, an upload) as its current version instead of asking again with a HEAD; 0: every open asks"},
	{name: "stat_cache_size", group: gCache, kind: kInt, def: "100000", usage: "attribute cache entries"},
	{name: "negative_cache_ttl", group: gCache, kind: kDuration, def: "5s", usage: "how long a missing name is remembered (kernel negative timeout); 0 disables"},
	{name: "negative_cache_size", group: gCache, kind: kInt, def: "10000", usage: "negative cache entries"},
	{name: "list_cache_ttl", group: gCache, kind: kDuration, def: "60s", usage: "how long a directory listing is cached; 0 disables"},
	{name: "list_cache_size", group: gCache, kind: kInt, def: "1000", usage: "directory listings cached"},
	{name: "cache_dir", group: gCache, kind: kString, def: "", usage: "directory for staged writes and for the data of failed uploads (default: one per user and bucket: /var/cache/ossmount/BUCKET-HASH for root, else ~/.cache/ossmount/BUCKET-HASH)"},
	{name: "fast_listing", group: gCache, kind: kBool, usage: "show the attributes a listing gives (file_mode, uid, gid, Last-Modified) without a HEAD per entry, and look a name up with one LIST (no HEAD): for buckets without ossfs metadata"},
	{name: "attr_cache_dir", group: gCache, kind: kString, def: "", usage: "where HEAD results are kept between mounts (default: the bucket's default cache_dir, whatever cache_dir says); none disables"},
	{name: "disk_budget", group: gCache, kind: kSize, def: "10G", usage: "most bytes of staged writes on disk (ENOSPC beyond)"},
	{name: "data_cache", group: gCache, kind: kString, check: checkAbsPath, def: "", usage: "keep object data read through the mount in this directory, across remounts (default: off); one mount per directory"},
	{name: "data_cache_size", group: gCache, kind: kSize, def: "", usage: "most bytes of data in data_cache, least recently used evicted (default: half of the file system's free space when the mount starts, data_cache_min_free kept)"},
	{name: "data_cache_min_free", group: gCache, kind: kSize, def: "", usage: "free space data_cache never takes from its file system (default: 10% of it, at most 10G)"},
	{name: "data_cache_passthrough", group: gCache, kind: kOnOff, def: "on", usage: "on: read-only opens of files wholly in data_cache are read by the kernel from the cache file (FUSE passthrough; Linux 6.9+, root); off: always read through the daemon"},

	{name: "memory_budget", group: gPerf, kind: kSize, def: "256M", usage: "memory for read-ahead, cached blocks, staged writes and FUSE requests, shared by all files: the process stays within it + 64M, plus what the cached metadata takes (about 650 bytes per entry of a listed directory the kernel holds; see SEMANTICS.md, Memory)"},
	{name: "block_size", group: gPerf, kind: kSize, def: "16K", usage: "unit of the block cache for random reads: a read fetches the blocks it lacks in one GET (small blocks keep small random reads near raw GET speed)"},
	{name: "read_part_size", group: gPerf, kind: kSize, def: "8M", usage: "largest ranged GET of a sequential read"},
	{name: "max_read_window", group: gPerf, kind: kSize, def: "64M", usage: "most bytes read ahead per open file"},
	{name: "first_read_size", group: gPerf, kind: kSize, def: "512K", usage: "size of the first GET of a sequential read"},
	{name: "upload_part_size", group: gPerf, kind: kSize, def: "8M", usage: "multipart part size (grows for very large files)"},
	{name: "upload_concurrency", group: gPerf, kind: kInt, def: "8", usage: "parts uploaded in parallel per file (8 parts of 8 MiB fill the 1 GiB/s of a mid-size instance at 100 MiB/s per connection)"},
	{name: "head_concurrency", group: gPerf, kind: kInt, check: checkHeadConcurrency, def: "64", usage: "HEADs in flight verifying the entries of a listing (exact attributes, not fast_listing): 64 verify 10,000 entries at 15 ms a request in about 3 s; more cost more requests a second against the bucket's QPS limit"},
	{name: "max_rename_objects", group: gPerf, kind: kInt, def: "100000", usage: "most objects one directory rename may move (EXDEV beyond)"},
	{name: "read_ahead_kb", group: gPerf, kind: kInt, def: "16384", usage: "kernel read-ahead of the mount in KiB when permitted (0 leaves it alone)"},
	{name: "max_background", group: gPerf, kind: kInt, def: "", usage: "FUSE requests the kernel may queue in the background (default: memory_budget/4M, from 8 to 64); read-ahead requests arriving out of order within that many reads of a sequential stream extend it"},

	{name: "passwd_file", group: gCred, kind: kString, def: "", usage: "ossfs-style credentials file (AK:SK or bucket:AK:SK lines); default ~/.passwd-ossfs, then /etc/passwd-ossfs"},
	{name: "credential_source", group: gCred, kind: kString, check: checkCredentialSource, def: "", usage: "force a source: env, sts, passwd_file, ram_role_arn, ecs_ram_role, oidc_role_arn, credentials_uri, cli_profile, credential_process (default: the first one configured)"},
	{name: "ram_role_arn", group: gCred, kind: kString, def: "", usage: "assume this RAM role (AssumeRole) with the base credentials"},
	{name: "role_session_name", group: gCred, kind: kString, def: "ossmount", usage: "session name for assumed roles"},
	{name: "role_session_duration", group: gCred, kind: kDuration, def: "1h", usage: "lifetime of assumed-role tokens"},
	{name: "role_policy", group: gCred, kind: kString, def: "", usage: "inline policy narrowing an assumed role"},
	{name: "external_id", group: gCred, kind: kString, def: "", usage: "external id for AssumeRole"},
	{name: "ecs_ram_role", group: gCred, kind: kString, def: "", usage: "ECS instance RAM role name (instance metadata); \"auto\" asks the metadata service"},
	{name: "ecs_imdsv1", group: gCred, kind: kBool, usage: "allow the ECS metadata service without a session token (default: hardened mode, IMDSv2 only)"},
	{name: "credential_process", group: gCred, kind: kString, def: "", usage: "command printing credentials as JSON (Alibaba Cloud CLI External format); run without a shell"},
	{name: "oidc_provider_arn", group: gCred, kind: kString, def: "", usage: "OIDC provider ARN (RRSA)"},
	{name: "oidc_role_arn", group: gCred, kind: kString, def: "", usage: "RAM role ARN assumed with an OIDC token"},
	{name: "oidc_token_file", group: gCred, kind: kString, def: "", usage: "file holding the OIDC token"},
	{name: "credentials_uri", group: gCred, kind: kString, def: "", usage: "URL answering temporary credentials"},
	{name: "profile", group: gCred, kind: kString, def: "", usage: "Alibaba Cloud CLI profile name (~/.aliyun/config.json)"},
	{name: "profile_file", group: gCred, kind: kString, def: "", usage: "Alibaba Cloud CLI config file"},
	{name: "sts_endpoint", group: gCred, kind: kString, check: checkSTSEndpoint, def: "", usage: "STS endpoint (default: sts.aliyuncs.com)"},
	{name: "refresh_sts_token_interval", group: gCred, kind: kDuration, def: "", usage: "renew temporary credentials at least this often"},
	{name: "refresh_margin", group: gCred, kind: kDuration, def: "5m", usage: "renew temporary credentials this long before they expire"},

	{name: "endpoint", alias: []string{"url"}, group: gCli, kind: kString, def: "", usage: "OSS endpoint, e.g. https://oss-cn-hangzhou.aliyuncs.com (default: from region)"},
	{name: "region", group: gCli, kind: kString, def: "", usage: "OSS region, e.g. cn-hangzhou"},
	{name: "cname", group: gCli, kind: kBool, usage: "the endpoint is a custom domain bound to the bucket"},
	{name: "internal", group: gCli, kind: kBool, usage: "use the region's internal (VPC) endpoint"},
	{name: "accelerate", group: gCli, kind: kBool, usage: "use the transfer acceleration endpoint"},
	{name: "insecure", group: gCli, kind: kBool, usage: "use http instead of https for endpoints given without a scheme"},
	{name: "path_style", group: gCli, kind: kBool, usage: "address the bucket in the path instead of the host name"},
	{name: "connect_timeout", group: gCli, kind: kDuration, def: "5s", usage: "longest wait to connect to the endpoint (TCP and TLS) before the attempt is retried"},
	{name: "first_byte_timeout", group: gCli, kind: kDuration, def: "10s", usage: "longest wait for OSS to start answering a request once it is sent, before the attempt is retried (see timeout)"},
	{name: "timeout", group: gCli, kind: kDuration, def: "60s", usage: "first_byte_timeout of the requests in which OSS copies or assembles data before answering (CopyObject, UploadPartCopy, CompleteMultipartUpload)"},
	{name: "stall_timeout", group: gCli, kind: kDuration, def: "10s", usage: "longest a request or response body may make no progress before the attempt is retried"},
	{name: "retry_window", group: gCli, kind: kDuration, def: "30s", usage: "how long after its first attempt a request failing with a network error, a timeout, a 5xx or throttling is retried (exponential backoff with jitter) before it fails with EIO; 0: never retried"},
	{name: "retry_max", group: gCli, kind: kInt, def: "0", usage: "most attempts per request, the first included (0: no limit but retry_window)"},
	{name: "requester_pays", group: gCli, kind: kBool, usage: "send x-oss-request-payer: requester"},
	{name: "sigv1", group: gCli, kind: kBool, usage: "sign with signature V1 (default V4)"},
	{name: "additional_headers", group: gCli, kind: kString, def: "", usage: "extra headers to sign with V4 (colon-separated names)"},
}

// lookupOption finds an option by name or alias.
func lookupOption(name string) *option {
	for i := range options {
		o := &options[i]
		if o.name == name {
			return o
		}
		for _, a := range o.alias {
			if a == name {
				return o
			}
		}
	}
	return nil
}

// optionsMarkdown renders the table for docs/CONFIGURATION.md.
func optionsMarkdown() string {
	var b strings.Builder
	for _, g := range groupOrder {
		fmt.Fprintf(&b, "\n### %s options\n\n| option | default | meaning |\n|---|---|---|\n", strings.ToUpper(g[:1])+g[1:])
		var names []string
		byName := map[string]option{}
		for _, o := range options {
			if o.group == g && !o.hidden {
				names = append(names, o.name)
				byName[o.name] = o
			}
		}
		sort.Strings(names)
		for _, n := range names {
			o := byName[n]
			def := o.def
			if o.kind == kBool {
				def = "off"
			}
			if def == "" {
				def = "-"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", n, def, o.usage)
		}
	}
	return b.String()
}

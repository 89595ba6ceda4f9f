package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/metrics"
	"github.com/ossmount/ossmount/ossapi"
)

// daemonEnv marks the detached child; its value is the fd of the pipe to
// report readiness on.
const daemonEnv = "OSSMOUNT_DAEMON_FD"

func mountAction(c *cli.Context) error {
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
	v := &values{c: c}
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
		return daemonize()
	}
	var report func(error)
	if fdStr := os.Getenv(daemonEnv); fdStr != "" {
		os.Unsetenv(daemonEnv)
		report = readyPipe(fdStr)
	}
	err = serve(c, v, bucket, prefix, mnt, foreground)
	if report != nil {
		report(err) // no-op if already reported
	}
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

// serve mounts and runs until unmounted.
func serve(c *cli.Context, v *values, bucket, prefix, mnt string, foreground bool) error {
	log, closeLog, err := setupLogging(v, mnt, foreground)
	if err != nil {
		return err
	}
	defer closeLog()
	slog.SetDefault(log)

	fcfg, ocfg, mopts := buildConfigs(v, bucket, prefix)
	if v.err != nil {
		return v.err
	}
	metricsAddr := v.str("metrics")
	if metricsAddr != "" {
		if err := metrics.CheckAddr(metricsAddr, v.bool("metrics_allow_remote")); err != nil {
			return usageError("option metrics: %v", err)
		}
	}
	met := metrics.New(metrics.Info{Version: version, Bucket: bucket, Prefix: prefix,
		EndpointHost: ocfg.EndpointHost(), Mountpoint: mnt})
	// Signals are caught from the start: one arriving while the mount is
	// set up cancels the setup; once mounted, it is handled below. (Dying
	// of a signal during the mount's own first requests could leave the
	// process hung on its own file system.)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	endSetup, interrupted := watchSetup(sigs, cancel)
	creds, closeCreds, err := credentialsFor(ctx, v, bucket, log)
	if err != nil {
		endSetup()
		return interrupted(err)
	}
	defer closeCreds()
	if cs, ok := creds.(metrics.CredentialsSource); ok {
		met.WatchCredentials(cs)
	}
	ocfg.Credentials = creds
	ocfg.Observer = met.OSS()
	ocfg.Logf = func(format string, a ...any) { log.Debug(fmt.Sprintf(format, a...)) }
	client, err := ossapi.New(ocfg)
	if err != nil {
		endSetup()
		return fmt.Errorf("client: %v", err)
	}
	err = client.Probe(ctx)
	if err != nil {
		endSetup()
		return interrupted(probeError(bucket, ocfg.EndpointURL(), err))
	}
	fcfg.Store = client
	fcfg.Logger = log
	if fcfg.CacheDir == "" {
		fcfg.CacheDir = defaultCacheDir(fcfg.Endpoint, bucket)
		if err := privateDir(fcfg.CacheDir); err != nil {
			endSetup()
			return fmt.Errorf("cache directory: %v", err)
		}
		// Left empty by a clean unmount: removed (kept data stays).
		defer os.Remove(fcfg.CacheDir)
	}
	if dir := v.str("data_cache"); dir != "" {
		dc, err := openDataCache(v, dir, log)
		if err != nil {
			endSetup()
			return err
		}
		defer dc.Close() // after the file system's last read
		fcfg.DataCache, fcfg.DataCacheDir = dc, dir
	}
	fcfg.StatsReport = met.SummaryJSON
	fcfg.AttrStore = openAttrStore(v, fcfg.Endpoint, bucket, fcfg.StatCacheSize, log)
	fsys, err := fs.New(fcfg)
	endSetup()
	if err != nil {
		return interrupted(err)
	}
	defer fsys.Close()
	if err := interrupted(nil); err != nil {
		return err
	}
	met.WatchFS(fsys)
	if metricsAddr != "" {
		bound, stopMetrics, err := met.Serve(metricsAddr, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
		log.Info("serving metrics", "url", "http://"+bound+"/metrics")
	}
	// Keep the Go heap near the budget so RSS stays bounded: what the
	// budget does not count (runtime, goroutines, HTTP buffers, garbage)
	// must fit in the 64 MiB over it, with the program itself.
	debug.SetMemoryLimit(fcfg.MemoryBudget + memorySlack)

	opts := fsys.Options()
	opts.MountOptions = mopts
	// Every FUSE request goes through the metrics' decorator.
	server, err := fuse.NewServer(met.WrapFUSE(fsys.WrapFUSE(gofs.NewNodeFS(fsys.Root(), opts))), mnt, &opts.MountOptions)
	if err != nil {
		return fmt.Errorf("mount %s: %v", mnt, err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		return fmt.Errorf("mount %s: %v", mnt, err)
	}
	// A signal that came while mounting: undo the mount and fail, rather
	// than report ready and then unmount.
	select {
	case s := <-sigs:
		if s != syscall.SIGHUP {
			if err := server.Unmount(); err != nil {
				lazyUnmount(mnt)
			}
			return fmt.Errorf("interrupted by %v before the mount was ready", s)
		}
	default:
	}
	if fcfg.DataCache != nil && fcfg.Passthrough {
		fsys.ProbePassthrough()
	}
	if kb := v.int("read_ahead_kb"); kb > 0 {
		raiseReadAhead(mnt, kb, log)
	}
	removePidFile := writePidFile(mnt, log)
	defer removePidFile()
	log.Info("mounted", "bucket", bucket, "prefix", prefix, "mountpoint", mnt, "endpoint", ocfg.EndpointURL(), "credentials", describeCreds(creds), "cache_dir", fcfg.CacheDir)
	readyNotify()

	done := make(chan struct{})
	go func() {
		server.Wait()
		close(done)
	}()
	logStatsOnSignal(met, log, done)
	for {
		select {
		case <-done:
			log.Info("unmounted", "mountpoint", mnt)
			return finish(fsys, log)
		case s := <-sigs:
			if s == syscall.SIGHUP {
				continue
			}
			log.Info("signal received: flushing open files, then unmounting (send it again to force)", "signal", s.String())
			sdNotify("STOPPING=1")
			go func() {
				fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer fcancel()
				if n := fsys.FlushAll(fctx); n > 0 {
					log.Error("some open files could not be uploaded", "count", n)
				}
				if err := server.Unmount(); err != nil {
					log.Warn("the mount is busy: detaching it now; ossmount exits once the files still open there are closed", "err", strings.TrimSpace(err.Error()))
					if err := lazyUnmount(mnt); err != nil {
						log.Error("lazy unmount failed", "err", err)
					}
				}
			}()
		wait:
			select {
			case <-done:
				log.Info("unmounted", "mountpoint", mnt)
				return finish(fsys, log)
			case s := <-sigs:
				if s == syscall.SIGHUP {
					goto wait
				}
				log.Warn("second signal: forcing unmount; uploads still pending are abandoned", "signal", s.String())
				if err := lazyUnmount(mnt); err != nil {
					log.Error("lazy unmount failed", "err", err)
				}
				return fmt.Errorf("forced unmount of %s", mnt)
			}
		}
	}
}

// watchSetup cancels the setup (through cancel) when SIGINT or SIGTERM
// arrives before the mount. endSetup stops watching, leaving later signals
// in sigs; interrupted(err) returns the interruption if there was one,
// else err.
func watchSetup(sigs chan os.Signal, cancel func()) (endSetup func(), interrupted func(error) error) {
	early := make(chan os.Signal, 1)
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGHUP {
					continue
				}
				early <- s
				cancel()
				return
			case <-stop:
				return
			}
		}
	}()
	var once bool
	endSetup = func() {
		if !once {
			once = true
			close(stop)
			<-stopped
		}
	}
	interrupted = func(err error) error {
		select {
		case s := <-early:
			return fmt.Errorf("interrupted by %v before the mount was ready", s)
		default:
			return err
		}
	}
	return endSetup, interrupted
}

func finish(fsys *fs.FS, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if n := fsys.FlushAll(ctx); n > 0 {
		return fmt.Errorf("%d open files could not be uploaded; their data is kept in the cache directory", n)
	}
	return nil
}

// lazyUnmount detaches the mount at mnt even if busy (MNT_DETACH as
// root, else fusermount3 -uz).
func lazyUnmount(mnt string) error {
	if os.Geteuid() == 0 {
		err := syscall.Unmount(mnt, syscall.MNT_DETACH)
		if err == nil || err == syscall.EINVAL { // EINVAL: no longer mounted
			return nil
		}
	}
	out, err := exec.Command("fusermount3", "-uzq", mnt).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fusermount3 -uz %s: %v %s", mnt, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// probeError turns the first request's failure into one clear line.
func probeError(bucket, endpoint string, err error) error {
	code := ossapi.CodeOf(err)
	switch ossapi.KindOf(err) {
	case ossapi.KindNotExist:
		return fmt.Errorf("bucket %q does not exist at %s (%s)", bucket, endpoint, code)
	case ossapi.KindPermission:
		return fmt.Errorf("access to bucket %q denied: check the access key id and secret (%s)", bucket, code)
	case ossapi.KindExpired:
		return fmt.Errorf("the security token has expired: renew the credentials (%s)", code)
	case ossapi.KindTransient, ossapi.KindCanceled:
		return fmt.Errorf("cannot reach endpoint %s: %s", endpoint, networkReason(err))
	}
	return fmt.Errorf("bucket %q: %v", bucket, err)
}

// networkReason is what went wrong on the network in err, without the
// layers above it ("dial tcp 10.0.0.1:443: connect: connection refused",
// "lookup oss-x.aliyuncs.com: no such host", "no response for 10s").
func networkReason(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &dns):
		return dns.Error()
	case errors.As(err, &op):
		return op.Error()
	case errors.As(err, &ne):
		return ne.Error()
	}
	return err.Error()
}

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

// logStatsOnSignal logs the mount's statistics (the summary `ossmount
// stats` prints) at each SIGUSR1, until done is closed.
func logStatsOnSignal(met *metrics.Metrics, log *slog.Logger, done <-chan struct{}) {
	usr := make(chan os.Signal, 1)
	signal.Notify(usr, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(usr)
		for {
			select {
			case <-done:
				return
			case <-usr:
				s, err := met.Summary()
				if err != nil {
					log.Warn("stats: cannot build the summary", "err", err)
					continue
				}
				for _, line := range strings.Split(s.Text(), "\n") {
					if strings.TrimSpace(line) != "" {
						log.Info("stats: " + line)
					}
				}
			}
		}
	}()
}

// raiseReadAhead sets the kernel read-ahead of the mount's backing device
// (the FUSE connection's BDI), which makes sequential reads much faster.
func raiseReadAhead(mnt string, kb int, log *slog.Logger) {
	dev := mountDev(mnt)
	if dev == "" {
		return
	}
	p := "/sys/class/bdi/" + dev + "/read_ahead_kb"
	if err := os.WriteFile(p, []byte(strconv.Itoa(kb)), 0o644); err != nil {
		log.Debug("could not raise kernel read-ahead", "path", p, "err", err)
		return
	}
	log.Debug("kernel read-ahead raised", "path", p, "kb", kb)
}

// setupLogging logs to stderr in the foreground, else to log_file, or to
// syslog, or without syslog to the default log file (see logfile.go).
func setupLogging(v *values, mnt string, foreground bool) (*slog.Logger, func(), error) {
	level := slog.LevelInfo
	switch strings.ToLower(v.str("log_level")) {
	case "debug":
		level = slog.LevelDebug
	case "info", "":
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, nil, usageError("option log_level: %q is not one of debug, info, warn, error", v.str("log_level"))
	}
	if v.bool("debug") {
		level = slog.LevelDebug
	}
	var w io.Writer = os.Stderr
	closeFn := func() {}
	p := v.str("log_file")
	if p == "" && !foreground {
		// A daemon's stderr is /dev/null: log to syslog, which journald
		// also collects.
		sw, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "ossmount")
		if err != nil {
			p = defaultLogFile(mnt) // syslog went away since the parent looked
		} else {
			w, closeFn = sw, func() { sw.Close() }
			// syslog adds its own time stamp, and the priority comes from
			// the level.
			return slog.New(&syslogHandler{w: sw, level: level}), closeFn, nil
		}
	}
	if p != "" {
		f, err := openLogFile(p, mnt)
		if err != nil {
			return nil, nil, fmt.Errorf("log_file: %v", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h), closeFn, nil
}

// syslogHandler writes records to syslog with the matching priority.
type syslogHandler struct {
	w     *syslog.Writer
	level slog.Level
	attrs string // preformatted " key=value" pairs
	group string
}

func (h *syslogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *syslogHandler) format(b *strings.Builder, a slog.Attr) {
	if a.Equal(slog.Attr{}) {
		return
	}
	k := a.Key
	if h.group != "" {
		k = h.group + "." + k
	}
	fmt.Fprintf(b, " %s=%s", k, strconv.Quote(a.Value.String()))
}

func (h *syslogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		h.format(&b, a)
		return true
	})
	msg := b.String()
	switch {
	case r.Level >= slog.LevelError:
		return h.w.Err(msg)
	case r.Level >= slog.LevelWarn:
		return h.w.Warning(msg)
	case r.Level >= slog.LevelInfo:
		return h.w.Info(msg)
	}
	return h.w.Debug(msg)
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		h.format(&b, a)
	}
	n.attrs = b.String()
	return &n
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	n := *h
	if n.group != "" {
		name = n.group + "." + name
	}
	n.group = name
	return &n
}

// openAttrStore opens the bucket's attribute store (nil when disabled, or
// when its directory is not safe to use: the mount then HEADs what a
// listing cannot tell, as on a first mount). It lives in the bucket's
// default cache directory (defaultCacheDir), or in attr_cache_dir;
// attr_cache_dir=none disables it.
func openAttrStore(v *values, endpoint, bucket string, size int, log *slog.Logger) *cache.AttrStore {
	dir, name := v.str("attr_cache_dir"), "attrs"
	switch {
	case dir == "none" || dir == "off":
		return nil
	case dir == "":
		dir = defaultCacheDir(endpoint, bucket)
	default:
		abs, err := filepath.Abs(dir)
		if err != nil {
			log.Warn("attribute store disabled", "err", err)
			return nil
		}
		dir = abs
		id := sha256.Sum256([]byte(endpoint + "\n" + bucket))
		name = "attrs-" + bucket + "-" + hex.EncodeToString(id[:6])
	}
	if err := privateDir(dir); err != nil {
		log.Warn("attribute store disabled", "err", err)
		return nil
	}
	st, err := cache.OpenAttrStore(filepath.Join(dir, name), size, func(name string) (*os.File, error) { return createPrivateFile(name, 0o600) })
	if err != nil {
		log.Warn("attribute store ignored; starting afresh", "err", err)
	}
	return st
}

// runDir holds one pid file per mount, so `ossmount unmount` can wait for
// the process serving a mount to finish its uploads. It is created with
// privateDir (a directory of another user, a symlink or one others can
// reach is refused).
func runDir() string {
	if os.Geteuid() == 0 {
		return "/run/ossmount"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "ossmount")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("ossmount-%d", os.Geteuid()))
}

// pidFilePath names the pid file of the mount on device dev (major:minor).
func pidFilePath(dev string) string {
	return filepath.Join(runDir(), strings.ReplaceAll(dev, ":", "-")+".pid")
}

// writePidFile records this process as the server of the mount at mnt
// and returns the function that removes the record.
func writePidFile(mnt string, log *slog.Logger) func() {
	dev := mountDev(mnt)
	if dev == "" {
		return func() {}
	}
	p := pidFilePath(dev)
	content := fmt.Sprintf("%d\n%s\n", os.Getpid(), mnt)
	if err := privateDir(filepath.Dir(p)); err != nil {
		log.Warn("no pid file: `ossmount unmount` will not wait for this process", "err", err)
		return func() {}
	}
	f, err := createPrivateFile(p, 0o600)
	if err == nil {
		_, err = f.WriteString(content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		log.Warn("cannot write pid file", "path", p, "err", err)
	}
	return func() {
		if b, err := os.ReadFile(p); err == nil && string(b) == content {
			os.Remove(p)
		}
	}
}

// daemonize re-runs ossmount detached and waits until the child reports
// the mount ready (exit 0) or failed (its error on stderr, exit 1).
func daemonize() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, childArgs...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start daemon: %v", err)
	}
	w.Close()
	// Until the mount is ready, Ctrl-C or SIGTERM stops the child too
	// (it is in its own session, out of reach of the terminal).
	fwd := make(chan os.Signal, 2)
	signal.Notify(fwd, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for s := range fwd {
			if s != syscall.SIGHUP {
				cmd.Process.Signal(s)
			}
		}
	}()
	msg, _ := io.ReadAll(r)
	signal.Stop(fwd)
	close(fwd)
	line := strings.TrimSpace(string(msg))
	if line == "ok" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if line == "" {
		line = "the mount process exited before the mount was ready"
	}
	code := 1
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		if c, msg, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(c); err == nil && n > 0 {
				code, line = n, msg
			}
		}
	}
	return cli.Exit(line, code)
}

// readyPipe returns the reporter of the daemon child: the first call sends
// "ok" (err == nil) or the error, and closes the pipe.
func readyPipe(fdStr string) func(error) {
	fd, err := strconv.Atoi(fdStr)
	if err != nil {
		return func(error) {}
	}
	syscall.CloseOnExec(fd) // keep it from fusermount3 and umount
	f := os.NewFile(uintptr(fd), "ready")
	reported := false
	report := func(err error) {
		if reported || f == nil {
			return
		}
		reported = true
		if err == nil {
			fmt.Fprintln(f, "ok")
		} else {
			fmt.Fprintf(f, "error %d: %s\n", exitCode(err), err.Error())
		}
		f.Close()
	}
	daemonReport = report
	return report
}

// daemonReport is set in the daemon child; readyNotify calls it.
var daemonReport func(error)

// readyNotify tells the waiting parent and systemd that the mount is up.
func readyNotify() {
	if daemonReport != nil {
		daemonReport(nil)
		// Detach stderr from the parent's terminal for good.
	}
	sdNotify("READY=1")
}

// sdNotify sends a state to systemd when run as a Type=notify service.
func sdNotify(state string) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	if strings.HasPrefix(sock, "@") {
		sock = "\x00" + sock[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Write([]byte(state))
}

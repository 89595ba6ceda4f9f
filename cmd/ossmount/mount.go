package main

import (
	"context"
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

	"github.com/ossmount/ossmount/fs"
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
	if st, err := os.Stat(mnt); err != nil || !st.IsDir() {
		return usageError("mountpoint %s is not a directory", mnt)
	}
	v := &values{c: c}
	foreground := v.bool("foreground")
	if !foreground && os.Getenv(daemonEnv) == "" {
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
		return cli.Exit(err.Error(), 1)
	}
	return nil
}

// serve mounts and runs until unmounted.
func serve(c *cli.Context, v *values, bucket, prefix, mnt string, foreground bool) error {
	log, closeLog, err := setupLogging(v, foreground)
	if err != nil {
		return err
	}
	defer closeLog()
	slog.SetDefault(log)

	fcfg, ocfg, mopts := buildConfigs(v, bucket, prefix)
	if v.err != nil {
		return v.err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	creds, closeCreds, err := credentialsFor(ctx, v, bucket, log)
	if err != nil {
		return err
	}
	defer closeCreds()
	ocfg.Credentials = creds
	ocfg.Logf = func(format string, a ...any) { log.Debug(fmt.Sprintf(format, a...)) }
	client, err := ossapi.New(ocfg)
	if err != nil {
		return fmt.Errorf("client: %v", err)
	}
	pctx, pcancel := context.WithTimeout(ctx, probeTimeout(ocfg.Timeout))
	err = client.Probe(pctx)
	pcancel()
	if err != nil {
		return probeError(bucket, ocfg.Endpoint, err)
	}
	fcfg.Store = client
	fcfg.Logger = log
	fsys, err := fs.New(fcfg)
	if err != nil {
		return err
	}
	defer fsys.Close()
	// Keep the Go heap near the data budget so RSS stays bounded.
	debug.SetMemoryLimit(fcfg.MemoryBudget + 256<<20)

	opts := fsys.Options()
	opts.MountOptions = mopts
	server, err := gofs.Mount(mnt, fsys.Root(), opts)
	if err != nil {
		return fmt.Errorf("mount %s: %v", mnt, err)
	}
	if err := server.WaitMount(); err != nil {
		return fmt.Errorf("mount %s: %v", mnt, err)
	}
	if kb := v.int("read_ahead_kb"); kb > 0 {
		raiseReadAhead(mnt, kb, log)
	}
	log.Info("mounted", "bucket", bucket, "prefix", prefix, "mountpoint", mnt, "endpoint", ocfg.Endpoint, "credentials", describeCreds(creds))
	if fd := os.Getenv("OSSMOUNT_READY_FD"); fd != "" {
		_ = fd
	}
	readyNotify()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		server.Wait()
		close(done)
	}()
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
				if err := unmountServer(server, mnt); err != nil {
					log.Error("unmount failed (busy?); retrying lazily", "err", err)
					exec.Command("umount", "-l", mnt).Run()
				}
			}()
			select {
			case <-done:
				log.Info("unmounted", "mountpoint", mnt)
				return finish(fsys, log)
			case <-sigs:
				log.Warn("second signal: forcing unmount")
				exec.Command("umount", "-l", mnt).Run()
				exec.Command("fusermount3", "-uz", mnt).Run()
				return fmt.Errorf("forced unmount of %s", mnt)
			}
		}
	}
}

func finish(fsys *fs.FS, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if n := fsys.FlushAll(ctx); n > 0 {
		return fmt.Errorf("%d open files could not be uploaded; their data is kept in the cache directory", n)
	}
	return nil
}

func unmountServer(server *fuse.Server, mnt string) error {
	var err error
	for range 5 {
		if err = server.Unmount(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

func probeTimeout(t time.Duration) time.Duration {
	if t <= 0 || t > 20*time.Second {
		return 20 * time.Second
	}
	return t
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
		return fmt.Errorf("cannot reach endpoint %s: %v", endpoint, err)
	}
	return fmt.Errorf("bucket %q: %v", bucket, err)
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
	fcfg := fs.Config{
		Prefix: prefix, UID: uid, GID: gid, FileMode: fileMode, DirMode: dirMode, ReadOnly: ro,
		StatTTL: ttl(v, "stat_cache_ttl"), StatCacheSize: v.int("stat_cache_size"),
		NegTTL: ttl(v, "negative_cache_ttl"), NegCacheSize: v.int("negative_cache_size"),
		ListTTL: ttl(v, "list_cache_ttl"), ListCacheSize: v.int("list_cache_size"),
		MemoryBudget: v.size("memory_budget"), BlockSize: v.size("block_size"), PartSize: v.size("read_part_size"),
		MaxWindow: v.size("max_read_window"), FirstRead: v.size("first_read_size"),
		CacheDir: v.str("cache_dir"), DiskBudget: v.size("disk_budget"),
		UploadPartSize: v.size("upload_part_size"), UploadConcurrency: v.int("upload_concurrency"),
		MaxRenameObjects: v.int("max_rename_objects"),
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
		PathStyle: v.bool("path_style"), Timeout: v.dur("timeout"), RetryMax: v.int("retry_max"),
		RequesterPays: v.bool("requester_pays"), SignatureV1: v.bool("sigv1"), AdditionalHeaders: extra,
	}
	if ocfg.Region == "" && ocfg.Endpoint == "" {
		v.fail("region", fmt.Errorf("give -o region=REGION (e.g. cn-hangzhou) or -o endpoint=URL"))
	}
	fsname := v.str("fsname")
	if fsname == "" {
		fsname = "ossmount:" + bucket
		if prefix != "" {
			fsname += ":/" + strings.TrimSuffix(prefix, "/")
		}
	}
	mo := fuse.MountOptions{
		FsName:       fsname,
		Name:         "ossmount",
		AllowOther:   v.bool("allow_other"),
		MaxWrite:     1 << 20,
		MaxReadAhead: 1 << 20,
		Debug:        v.bool("fuse_debug"),
		DirectMount:  os.Geteuid() == 0,
		MaxBackground: func() int {
			if n := v.int("max_background"); n > 0 {
				return n
			}
			return 64
		}(),
	}
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

// ttl reads a cache lifetime where 0 means "disabled" (fs.Config uses <0).
func ttl(v *values, name string) time.Duration {
	d := v.dur(name)
	if d == 0 && v.c.String(name) != "" {
		return -1
	}
	return d
}

// raiseReadAhead sets the kernel read-ahead of the mount's backing device
// (the FUSE connection's BDI), which makes sequential reads much faster.
func raiseReadAhead(mnt string, kb int, log *slog.Logger) {
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		return
	}
	major, minor := (st.Dev>>8)&0xfff, (st.Dev&0xff)|((st.Dev>>12)&0xfff00)
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", major, minor)
	if err := os.WriteFile(p, []byte(strconv.Itoa(kb)), 0o644); err != nil {
		log.Debug("could not raise kernel read-ahead", "path", p, "err", err)
		return
	}
	log.Debug("kernel read-ahead raised", "path", p, "kb", kb)
}

// setupLogging logs to stderr in the foreground, else to log_file or
// syslog.
func setupLogging(v *values, foreground bool) (*slog.Logger, func(), error) {
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
	if p := v.str("log_file"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("log_file: %v", err)
		}
		w, closeFn = f, func() { f.Close() }
	} else if !foreground && os.Getenv("NOTIFY_SOCKET") == "" && os.Getenv("INVOCATION_ID") == "" {
		if sw, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "ossmount"); err == nil {
			w, closeFn = sw, func() { sw.Close() }
		}
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h), closeFn, nil
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
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start daemon: %v", err)
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	line := strings.TrimSpace(string(msg))
	if line == "ok" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if line == "" {
		line = "the mount process exited before the mount was ready"
	}
	return cli.Exit(strings.TrimPrefix(line, "error: "), 1)
}

// readyPipe returns the reporter of the daemon child: the first call sends
// "ok" (err == nil) or the error, and closes the pipe.
func readyPipe(fdStr string) func(error) {
	fd, err := strconv.Atoi(fdStr)
	if err != nil {
		return func(error) {}
	}
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
			fmt.Fprintln(f, "error: "+err.Error())
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

package main

// Running a mount: from the option values to a served FUSE mount, the
// signals that end it, and the final flush.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/metrics"
	"github.com/ossmount/ossmount/ossapi"
)

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

package main

// Running a mount: from the option values to a served FUSE mount, the
// signals that end it, and the final flush.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/metrics"
	"github.com/ossmount/ossmount/ossapi"
)

// mount is a mount being set up and served: what serve builds, and the
// steps that undo it (run in reverse order when serve returns).
type mount struct {
	v                   values
	bucket, prefix, mnt string
	log                 *slog.Logger
	met                 *metrics.Metrics
	fcfg                fs.Config
	ocfg                ossapi.Config
	mopts               fuse.MountOptions
	creds               ossapi.CredentialsProvider
	fsys                *fs.FS
	server              *fuse.Server
	undo                []func()
}

// later adds f to what is undone when serve returns.
func (m *mount) later(f func()) { m.undo = append(m.undo, f) }

func (m *mount) close() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		m.undo[i]()
	}
}

// serve mounts and runs until unmounted; report(nil) tells a waiting
// parent (daemon.go) that the mount is ready.
func serve(v values, bucket, prefix, mnt string, foreground bool, report func(error)) error {
	m := &mount{v: v, bucket: bucket, prefix: prefix, mnt: mnt}
	defer m.close()
	if err := m.configure(foreground); err != nil {
		return err
	}
	// Signals are caught from the start: one arriving while the mount is
	// set up cancels the setup; once mounted, it is handled by run. (Dying
	// of a signal during the mount's own first requests could leave the
	// process hung on its own file system.)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	m.later(func() { signal.Stop(sigs) })
	ctx, cancel := context.WithCancel(context.Background())
	m.later(cancel)
	endSetup, interrupted := watchSetup(sigs, cancel)
	err := m.setup(ctx)
	endSetup()
	if err := interrupted(err); err != nil {
		return err
	}
	if err := m.start(sigs); err != nil {
		return err
	}
	m.ready(report)
	return m.run(sigs)
}

// configure sets up logging and builds the configurations and the metrics.
func (m *mount) configure(foreground bool) error {
	log, closeLog, err := setupLogging(m.v, m.mnt, foreground)
	if err != nil {
		return err
	}
	m.later(closeLog)
	slog.SetDefault(log)
	m.log = log
	if m.fcfg, m.ocfg, m.mopts, err = buildConfigs(m.v, m.bucket, m.prefix); err != nil {
		return err
	}
	if err := checkMetrics(m.v); err != nil {
		return err
	}
	m.met = metrics.New(metrics.Info{Version: version, Bucket: m.bucket, Prefix: m.prefix,
		EndpointHost: m.ocfg.EndpointHost(), Mountpoint: m.mnt})
	return nil
}

// setup connects to OSS, opens the caches and makes the file system.
func (m *mount) setup(ctx context.Context) error {
	if err := m.connect(ctx); err != nil {
		return err
	}
	if err := m.openCaches(); err != nil {
		return err
	}
	fsys, err := fs.New(m.fcfg)
	if err != nil {
		return err
	}
	m.fsys = fsys
	m.later(fsys.Close)
	return nil
}

// connect builds the client with the mount's credentials and sends the
// first request, which tells a wrong bucket, key or endpoint at once.
func (m *mount) connect(ctx context.Context) error {
	log := m.log
	m.ocfg.Observer = m.met.OSS()
	m.ocfg.Logf = func(format string, a ...any) { log.Debug(fmt.Sprintf(format, a...)) }
	client, creds, closeCreds, err := newClient(ctx, m.v, m.ocfg, log)
	if err != nil {
		return err
	}
	m.later(closeCreds)
	if cs, ok := creds.(metrics.CredentialsSource); ok {
		m.met.WatchCredentials(cs)
	}
	if err := client.Probe(ctx); err != nil {
		return probeError(m.bucket, m.ocfg.EndpointURL(), err)
	}
	m.fcfg.Store, m.fcfg.Logger, m.creds = client, log, creds
	return nil
}

// openCaches prepares the cache directory, the data cache and the
// attribute store.
func (m *mount) openCaches() error {
	if m.fcfg.CacheDir == "" {
		dir := defaultCacheDir(m.fcfg.Endpoint, m.bucket)
		if err := privateDir(dir); err != nil {
			return fmt.Errorf("cache directory: %v", err)
		}
		// Left empty by a clean unmount: removed (kept data stays).
		m.later(func() { os.Remove(dir) })
		m.fcfg.CacheDir = dir
	}
	if dir := m.v.str("data_cache"); dir != "" {
		dc, err := openDataCache(m.v, dir, m.log)
		if err != nil {
			return err
		}
		m.later(dc.Close) // after the file system's last read
		m.fcfg.DataCache, m.fcfg.DataCacheDir = dc, dir
	}
	m.fcfg.StatsReport = m.met.SummaryJSON
	m.fcfg.AttrStore = openAttrStore(m.v, m.fcfg.Endpoint, m.bucket, m.fcfg.StatCacheSize, m.log)
	// Keep the Go heap near the budget so RSS stays bounded: what the
	// budget does not count (runtime, goroutines, HTTP buffers, garbage)
	// must fit in the 64 MiB over it, with the program itself. The file
	// system adds an allowance for the metadata it holds (inodes, cached
	// listings and attributes), which memory_budget does not cover.
	m.fcfg.MemoryLimit = m.fcfg.MemoryBudget + memorySlack
	return nil
}

// start serves the metrics and mounts. A SIGINT or SIGTERM that came while
// mounting undoes the mount and fails, rather than report ready and then
// unmount.
func (m *mount) start(sigs chan os.Signal) error {
	m.met.WatchFS(m.fsys)
	if addr := m.v.str("metrics"); addr != "" {
		bound, stopMetrics, err := m.met.Serve(addr, m.log)
		if err != nil {
			return err
		}
		m.later(stopMetrics)
		m.log.Info("serving metrics", "url", "http://"+bound+"/metrics")
	}
	opts := m.fsys.Options()
	opts.MountOptions = m.mopts
	// Every FUSE request goes through the metrics' decorator.
	server, err := fuse.NewServer(m.met.WrapFUSE(m.fsys.WrapFUSE(gofs.NewNodeFS(m.fsys.Root(), opts))), m.mnt, &opts.MountOptions)
	if err != nil {
		return fmt.Errorf("mount %s: %v", m.mnt, err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		return fmt.Errorf("mount %s: %v", m.mnt, err)
	}
	select {
	case s := <-sigs:
		if s != syscall.SIGHUP {
			if err := server.Unmount(); err != nil {
				lazyUnmount(m.mnt)
			}
			return fmt.Errorf("interrupted by %v before the mount was ready", s)
		}
	default:
	}
	m.server = server
	return nil
}

// ready finishes what needs the mount in place, and tells the waiting
// parent (report) and systemd that it is ready.
func (m *mount) ready(report func(error)) {
	if m.fcfg.DataCache != nil && m.fcfg.Passthrough {
		m.fsys.ProbePassthrough()
	}
	if kb := m.v.int("read_ahead_kb"); kb > 0 {
		raiseReadAhead(m.mnt, kb, m.log)
	}
	m.later(writePidFile(m.mnt, m.log))
	m.log.Info("mounted", "bucket", m.bucket, "prefix", m.prefix, "mountpoint", m.mnt, "endpoint", m.ocfg.EndpointURL(),
		"credentials", describeCreds(m.creds), "cache_dir", m.fcfg.CacheDir)
	report(nil)
	sdNotify("READY=1")
}

// run serves until the mount goes away. The first SIGINT or SIGTERM
// flushes the open files and unmounts (lazily when busy); a second one
// detaches the mount at once, abandoning pending uploads. SIGHUP is
// ignored.
func (m *mount) run(sigs chan os.Signal) error {
	done := make(chan struct{})
	go func() {
		m.server.Wait()
		close(done)
	}()
	logStatsOnSignal(m.met, m.log, done)
	s := waitSignal(done, sigs)
	if s == nil {
		return m.unmounted()
	}
	m.log.Info("signal received: flushing open files, then unmounting (send it again to force)", "signal", s.String())
	sdNotify("STOPPING=1")
	go m.flushAndUnmount()
	if s = waitSignal(done, sigs); s == nil {
		return m.unmounted()
	}
	m.log.Warn("second signal: forcing unmount; uploads still pending are abandoned", "signal", s.String())
	if err := lazyUnmount(m.mnt); err != nil {
		m.log.Error("lazy unmount failed", "err", err)
	}
	return fmt.Errorf("forced unmount of %s", m.mnt)
}

// waitSignal waits until done is closed (nil) or SIGINT or SIGTERM
// arrives (SIGHUP is ignored).
func waitSignal(done <-chan struct{}, sigs <-chan os.Signal) os.Signal {
	for {
		select {
		case <-done:
			return nil
		case s := <-sigs:
			if s != syscall.SIGHUP {
				return s
			}
		}
	}
}

// flushAndUnmount uploads what the open files hold, then unmounts,
// lazily when the mount is busy.
func (m *mount) flushAndUnmount() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if n := m.fsys.FlushAll(ctx); n > 0 {
		m.log.Error("some open files could not be uploaded", "count", n)
	}
	if err := m.server.Unmount(); err != nil {
		m.log.Warn("the mount is busy: detaching it now; ossmount exits once the files still open there are closed", "err", strings.TrimSpace(err.Error()))
		if err := lazyUnmount(m.mnt); err != nil {
			m.log.Error("lazy unmount failed", "err", err)
		}
	}
}

// unmounted ends a mount that went away: the last flush.
func (m *mount) unmounted() error {
	m.log.Info("unmounted", "mountpoint", m.mnt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if n := m.fsys.FlushAll(ctx); n > 0 {
		return fmt.Errorf("%d open files could not be uploaded; their data is kept in the cache directory", n)
	}
	return nil
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

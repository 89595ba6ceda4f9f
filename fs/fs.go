package fs

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/ossapi"
)

// Config is what a mount is made of. Zero values get the defaults noted.
type Config struct {
	Store    ossapi.ObjectStore
	Endpoint string // where Store sends its requests: with its bucket, names the uploads this mount may recover
	Prefix   string // key prefix shown as the root, "" or ending in "/"

	UID, GID uint32 // owner of objects without ossfs metadata
	FileMode uint32 // permission bits of such files (default 0644)
	DirMode  uint32 // permission bits of such directories (default 0755)
	ReadOnly bool

	StatTTL       time.Duration // attribute cache lifetime (default 60 s; <0 disables)
	StatCacheSize int           // entries (default 100000)
	NegTTL        time.Duration // negative lookup lifetime (default 5 s; <0 disables)
	NegCacheSize  int           // entries (default 10000)
	ListTTL       time.Duration // directory listing lifetime (default 60 s; <0 disables)
	ListCacheSize int           // directories (default 1000)

	MemoryBudget int64 // bytes for prefetch, cached blocks, write buffers and FUSE requests (default 256 MiB)
	FUSEMemory   int64 // of MemoryBudget, what FUSE request buffers may hold (not given to data)
	BlockSize    int64 // random-read block (default 16 KiB)
	PartSize     int64 // sequential prefetch part (default 8 MiB)
	MaxWindow    int64 // sequential prefetch window per handle (default 64 MiB)
	FirstRead    int64 // size of the first sequential GET (default 512 KiB)

	CacheDir          string // directory for staged files (default $TMPDIR; ossmount gives each user and bucket its own)
	DiskBudget        int64  // bytes of staged files (default 10 GiB)
	UploadPartSize    int64  // first multipart part size (default 8 MiB)
	UploadConcurrency int    // parts in flight per file (default 4)
	MaxRenameObjects  int    // most objects one directory rename may move (default 100000)

	// DataCache is the persistent data cache (-o data_cache; nil: off),
	// opened by the caller in DataCacheDir and closed after the mount.
	DataCache    *cache.DataCache
	DataCacheDir string
	// Passthrough lets wholly cached files opened read-only be read by
	// the kernel from the cache file (FUSE passthrough; needs WrapFUSE
	// and ProbePassthrough).
	Passthrough bool

	// StatsReport answers the user.oss.stats attribute (stats.go) with the
	// mount's statistics; nil: the attribute does not exist.
	StatsReport func() ([]byte, error)

	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(p *int64, v int64) {
		if *p <= 0 {
			*p = v
		}
	}
	defInt := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		} else if *p < 0 {
			*p = 0
		}
	}
	if c.FileMode == 0 {
		c.FileMode = 0o644
	}
	if c.DirMode == 0 {
		c.DirMode = 0o755
	}
	defDur(&c.StatTTL, 60*time.Second)
	defDur(&c.NegTTL, 5*time.Second)
	defDur(&c.ListTTL, 60*time.Second)
	defInt(&c.StatCacheSize, 100000)
	defInt(&c.NegCacheSize, 10000)
	defInt(&c.ListCacheSize, 1000)
	def(&c.MemoryBudget, 256<<20)
	def(&c.BlockSize, 16<<10)
	def(&c.PartSize, 8<<20)
	def(&c.MaxWindow, 64<<20)
	def(&c.FirstRead, 512<<10)
	def(&c.DiskBudget, 10<<30)
	def(&c.UploadPartSize, 8<<20)
	defInt(&c.UploadConcurrency, 4)
	defInt(&c.MaxRenameObjects, 100000)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// FS is one mounted bucket.
type FS struct {
	// Dependencies and constants.
	cfg    Config
	store  ossapi.ObjectStore
	log    *slog.Logger
	budget *cache.Budget
	blocks *cache.BlockCache
	bufs   *bufPool
	stages memStages

	// Caches, each internally locked. Keys are object keys; directories
	// end in "/".
	stat  *cache.TTL[*attr]
	neg   *cache.TTL[struct{}]
	lists *cache.TTL[*listing]

	staging   *stager
	recovered chan struct{} // closed once the cleanup after killed mounts is done

	expiredLogged atomic.Int64  // unix nanoseconds of the last "expired" log line
	writerSeq     atomic.Uint64 // numbers writeStates (their lock order)
	counters      counters      // events counted for Stats (stats.go)
	pt            passthrough   // passthrough.go

	// Open write handles, to flush them at shutdown.
	mu      sync.Mutex
	writers map[*writeState]struct{} // GUARDED_BY(mu)

	root *dirNode
}

// New builds a filesystem from cfg.
func New(cfg Config) (*FS, error) {
	cfg.setDefaults()
	f := &FS{
		cfg:     cfg,
		store:   cfg.Store,
		log:     cfg.Logger,
		budget:  cache.NewBudget(max(cfg.MemoryBudget-cfg.FUSEMemory, cfg.MemoryBudget/4)),
		stat:    cache.NewTTL[*attr](cfg.StatCacheSize, cfg.StatTTL),
		neg:     cache.NewTTL[struct{}](cfg.NegCacheSize, cfg.NegTTL),
		lists:   cache.NewTTL[*listing](cfg.ListCacheSize, cfg.ListTTL),
		writers: map[*writeState]struct{}{},
	}
	f.pt.pending = map[<-chan struct{}]*fileHandle{}
	f.pt.open = map[ptKey]*fileHandle{}
	f.blocks = cache.NewBlockCache(f.budget, f.budget.Limit()/2)
	f.bufs = newBufPool(f.budget, f.budget.Limit()/8)
	f.budget.SetReclaimer(f.reclaim)
	st, err := newStager(cfg.CacheDir, cfg.DiskBudget, StoreID{Endpoint: cfg.Endpoint, Bucket: cfg.Store.Bucket()}, f.log)
	if err != nil {
		return nil, err
	}
	f.staging = st
	f.recovered = make(chan struct{})
	if !cfg.ReadOnly {
		// Abort the uploads of mounts of this cache_dir that were killed.
		go func() {
			defer close(f.recovered)
			st.recoverAbandoned(context.Background(), f.store)
		}()
	} else {
		close(f.recovered)
	}
	f.root = &dirNode{fsys: f}
	return f, nil
}

// Root is the root node for fs.Mount.
func (f *FS) Root() gofs.InodeEmbedder { return f.root }

// Budget is the shared memory budget (for tests and stats).
func (f *FS) Budget() *cache.Budget { return f.budget }

// Options returns go-fuse options with the kernel timeouts set from the caches.
func (f *FS) Options() *gofs.Options {
	entry, attrTO, negTO := f.cfg.StatTTL, f.cfg.StatTTL, f.cfg.NegTTL
	// Owners are filled in by the nodes themselves (uid 0 in ossfs
	// metadata means root, so go-fuse's UID/GID defaults are not used).
	return &gofs.Options{
		EntryTimeout:    &entry,
		AttrTimeout:     &attrTO,
		NegativeTimeout: &negTO,
	}
}

// attr is what the cache knows of one key.
type attr struct {
	dir      bool
	implicit bool // a directory with no marker object
	listed   bool // implicit only as far as a listing's common prefix tells: a marker may exist
	size     int64
	etag     string
	mtime    time.Time
	mode     uint32 // full st_mode
	uid, gid uint32
	info     *ossapi.ObjectInfo // nil for implicit directories
}

// full reports whether the attributes came from a HEAD (all metadata known).
func (a *attr) full() bool { return a.info != nil && a.info.Full }

func (a *attr) isSymlink() bool { return a.mode&syscall.S_IFMT == syscall.S_IFLNK }

// fill copies a into a FUSE attribute.
func (a *attr) fill(out *fuse.Attr) {
	out.Mode = a.mode
	out.Size = uint64(a.size)
	if a.dir {
		out.Size = 4096
		out.Nlink = 2
	} else {
		out.Nlink = 1
	}
	out.Blocks = (uint64(a.size) + 511) / 512
	out.Blksize = 1 << 20
	out.Uid, out.Gid = a.uid, a.gid
	t := a.mtime
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	out.SetTimes(&t, &t, &t)
}

// attrFromInfo builds attributes from an object's info, honouring ossfs
// metadata (x-oss-meta-mode/uid/gid/mtime) when present.
func (f *FS) attrFromInfo(info *ossapi.ObjectInfo, dir bool) *attr {
	a := &attr{dir: dir, size: info.Size, etag: info.ETag, mtime: info.LastModified, info: info,
		uid: f.cfg.UID, gid: f.cfg.GID}
	if dir {
		a.mode = syscall.S_IFDIR | f.cfg.DirMode
		a.size = 0
	} else {
		a.mode = syscall.S_IFREG | f.cfg.FileMode
	}
	if info.Meta == nil {
		return a
	}
	if v, ok := info.Meta["mode"]; ok {
		if m, err := strconv.ParseUint(v, 10, 32); err == nil && m&0o7777 != 0 {
			m32 := uint32(m)
			switch {
			case dir:
				m32 = syscall.S_IFDIR | m32&0o7777
			case m32&syscall.S_IFMT == syscall.S_IFLNK:
			default:
				m32 = syscall.S_IFREG | m32&0o7777
			}
			a.mode = m32
		}
	}
	if v, ok := info.Meta["uid"]; ok {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.uid = uint32(n)
		}
	}
	if v, ok := info.Meta["gid"]; ok {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.gid = uint32(n)
		}
	}
	if t, ok := parseMtime(info.Meta["mtime"]); ok {
		a.mtime = t
	}
	return a
}

// parseMtime reads ossfs's x-oss-meta-mtime: epoch seconds, optionally
// "sec.nnnnnnnnn".
func parseMtime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, false
		}
	}
	return time.Unix(s, ns), true
}

// formatMtime writes t the way ossfs does (seconds; nanoseconds when set).
func formatMtime(t time.Time) string {
	if t.Nanosecond() == 0 {
		return strconv.FormatInt(t.Unix(), 10)
	}
	return strconv.FormatInt(t.Unix(), 10) + "." + strconv.FormatInt(int64(t.Nanosecond())+1e9, 10)[1:]
}

func (f *FS) implicitDir() *attr {
	return &attr{dir: true, implicit: true, mode: syscall.S_IFDIR | f.cfg.DirMode, uid: f.cfg.UID, gid: f.cfg.GID}
}

// lookupKey finds what key (a file) or key+"/" (a directory) is, from the
// caches or with one HEAD and one LIST in parallel. A directory wins over a
// file of the same name. It returns ENOENT (cached) when neither exists.
func (f *FS) lookupKey(ctx context.Context, parentKey, name string) (*attr, syscall.Errno) {
	key := parentKey + name
	if a, ok := f.stat.Get(key); ok {
		return a, 0
	}
	if _, ok := f.neg.Get(key); ok {
		return nil, syscall.ENOENT
	}
	if l, ok := f.lists.Get(parentKey); ok && l.speaksFor(name) {
		// The parent's fresh listing is authoritative for existence.
		if a, ok := l.entries[name]; ok {
			f.stat.Put(key, a)
			return a, 0
		}
		f.neg.Put(key, struct{}{})
		return nil, syscall.ENOENT
	}
	var (
		wg      sync.WaitGroup
		info    *ossapi.ObjectInfo
		headErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		info, headErr = f.store.Head(ctx, key, ossapi.HeadOptions{})
	}()
	page, listErr := f.store.List(ctx, ossapi.ListRequest{Prefix: key + "/", MaxKeys: 2})
	wg.Wait()
	if listErr == nil && (len(page.Objects) > 0 || len(page.CommonPrefixes) > 0) {
		a := f.implicitDir()
		for i := range page.Objects {
			if page.Objects[i].Key == key+"/" {
				// A marker object: its metadata (ossfs mode, uid, gid,
				// mtime) gives the directory's attributes.
				a = f.attrFromInfo(&page.Objects[i], true)
				if full, err := f.store.Head(ctx, key+"/", ossapi.HeadOptions{}); err == nil {
					a = f.attrFromInfo(full, true)
				}
			}
		}
		f.stat.Put(key, a)
		return a, 0
	}
	if headErr == nil {
		if strings.HasSuffix(key, "/") {
			return nil, syscall.ENOENT
		}
		a := f.attrFromInfo(info, false)
		f.stat.Put(key, a)
		return a, 0
	}
	if listErr != nil {
		return nil, f.toErrno("lookup", listErr)
	}
	if ossapi.KindOf(headErr) != ossapi.KindNotExist {
		return nil, f.toErrno("lookup", headErr)
	}
	f.neg.Put(key, struct{}{})
	return nil, syscall.ENOENT
}

// headFile refreshes a file's attributes with a HEAD.
func (f *FS) headFile(ctx context.Context, key string) (*attr, syscall.Errno) {
	info, err := f.store.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil {
		if ossapi.KindOf(err) == ossapi.KindNotExist {
			f.stat.Remove(key)
		}
		return nil, f.toErrno("head", err)
	}
	a := f.attrFromInfo(info, false)
	f.stat.Put(key, a)
	return a, 0
}

// listing is one directory's children.
type listing struct {
	names      []string         // sorted
	entries    map[string]*attr // name -> attributes
	incomplete bool

	// changed holds names this mount changed since the listing was made:
	// the listing no longer speaks for them (lookups ask OSS, readdir
	// lists again), but it still answers for every other name, so
	// creating many files in a directory does not cost a LIST each.
	mu      sync.Mutex
	changed map[string]bool // GUARDED_BY(mu)
}

// markChanged makes l stop speaking for name.
func (l *listing) markChanged(name string) {
	l.mu.Lock()
	if l.changed == nil {
		l.changed = map[string]bool{}
	}
	l.changed[name] = true
	l.mu.Unlock()
}

// speaksFor reports whether l still knows the truth about name.
func (l *listing) speaksFor(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.incomplete && !l.changed[name]
}

// pristine reports whether nothing in l has changed since it was made.
func (l *listing) pristine() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.changed) == 0
}

// listDir lists dirKey ("" or ending in "/") completely, filling the stat
// cache from the LIST results (no HEAD per entry).
func (f *FS) listDir(ctx context.Context, dirKey string) (*listing, syscall.Errno) {
	if l, ok := f.lists.Get(dirKey); ok && l.pristine() {
		return l, 0
	}
	l := &listing{entries: map[string]*attr{}}
	token := ""
	for {
		page, err := f.store.List(ctx, ossapi.ListRequest{Prefix: dirKey, Delimiter: "/", ContinuationToken: token, MaxKeys: 1000})
		if err != nil {
			return nil, f.toErrno("readdir", err)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(cp, dirKey), "/")
			if !validName(name) {
				f.log.Warn("skipping key that cannot be a name", "prefix", cp)
				continue
			}
			if _, ok := l.entries[name]; !ok || !l.entries[name].dir {
				a := f.implicitDir()
				a.listed = true
				if old, ok := f.stat.Get(dirKey + name); ok && old.dir {
					a = old
				}
				l.entries[name] = a
			}
		}
		for i := range page.Objects {
			o := &page.Objects[i]
			rest := strings.TrimPrefix(o.Key, dirKey)
			if rest == "" {
				continue // the directory's own marker
			}
			if strings.HasSuffix(rest, "/") {
				// A "name/" marker returned as an object (no children).
				name := strings.TrimSuffix(rest, "/")
				if !validName(name) {
					f.log.Warn("skipping key that cannot be a name", "key", o.Key)
					continue
				}
				l.entries[name] = f.mergeListed(dirKey+name, o, true)
				continue
			}
			if !validName(rest) {
				f.log.Warn("skipping key that cannot be a name", "key", o.Key)
				continue
			}
			if old, ok := l.entries[rest]; ok && old.dir {
				f.log.Info("file hidden by a directory of the same name", "key", o.Key)
				continue
			}
			l.entries[rest] = f.mergeListed(dirKey+rest, o, false)
		}
		if !page.IsTruncated || page.NextContinuationToken == "" {
			break
		}
		token = page.NextContinuationToken
	}
	l.names = make([]string, 0, len(l.entries))
	for name, a := range l.entries {
		l.names = append(l.names, name)
		f.stat.Put(dirKey+name, a)
		f.neg.Remove(dirKey + name)
	}
	sortStrings(l.names)
	f.lists.Put(dirKey, l)
	return l, 0
}

// mergeListed makes attributes from a LIST entry, keeping the metadata of a
// cached HEAD of the same version (same ETag and Last-Modified: a metadata
// change by a self-copy keeps the ETag).
func (f *FS) mergeListed(key string, o *ossapi.ObjectInfo, dir bool) *attr {
	if old, _, ok := f.stat.Peek(key); ok && old.full() && old.etag == o.ETag && old.dir == dir &&
		old.info.LastModified.Unix() == o.LastModified.Unix() {
		return old
	}
	return f.attrFromInfo(o, dir)
}

// invalidate forgets cached knowledge of key; its parent's listing stops
// speaking for it.
func (f *FS) invalidate(key string) {
	f.stat.Remove(key)
	f.neg.Remove(key)
	name := strings.TrimPrefix(strings.TrimSuffix(key, "/"), parentKey(key))
	if l, ok := f.lists.Get(parentKey(key)); ok {
		l.markChanged(name)
	}
}

// noteEmptyDir records that dirKey was just created empty by this mount, so
// lookups of new names inside it need no request.
func (f *FS) noteEmptyDir(dirKey string) {
	f.lists.Put(dirKey, &listing{entries: map[string]*attr{}})
}

// parentKey is the directory key holding key ("" for top level).
func parentKey(key string) string {
	k := strings.TrimSuffix(key, "/")
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i+1]
	}
	return ""
}

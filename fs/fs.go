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
	"github.com/ossmount/ossmount/engine"
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

	StatTTL time.Duration // attribute cache lifetime (default 60 s; <0 disables)
	// OpenFreshTTL is how long what the server said of a file (a HEAD,
	// a LIST entry, this mount's own upload) stands for its version at
	// open, without a new HEAD (default 1 s; <0: every open asks).
	OpenFreshTTL  time.Duration
	StatCacheSize int           // entries (default 100000)
	NegTTL        time.Duration // negative lookup lifetime (default 5 s; <0 disables)
	NegCacheSize  int           // entries (default 10000)
	ListTTL       time.Duration // directory listing lifetime (default 60 s; <0 disables)
	ListCacheSize int           // directories (default 1000)

	MemoryBudget int64 // bytes for prefetch, cached blocks, write buffers and FUSE requests (default 256 MiB)
	// MemoryLimit is the Go memory limit for everything but metadata
	// (ossmount: memory_budget plus a margin); the file system keeps the
	// runtime's limit at this plus an allowance for the inodes and cache
	// entries it holds (upkeep.go). 0: the runtime's limit is left alone.
	MemoryLimit int64
	FUSEMemory  int64 // of MemoryBudget, what FUSE request buffers may hold (not given to data)
	BlockSize   int64 // random-read block (default 16 KiB)
	PartSize    int64 // sequential prefetch part (default 8 MiB)
	MaxWindow   int64 // sequential prefetch window per handle (default 64 MiB)
	FirstRead   int64 // size of the first sequential GET (default 512 KiB)
	// KernelRequests is how many requests the kernel keeps in flight for
	// read-ahead (FUSE max_background, default 12): how far out of order a
	// sequential reader's reads may arrive (reader.go).
	KernelRequests int

	CacheDir          string // directory for staged files (default $TMPDIR; ossmount gives each user and bucket its own)
	DiskBudget        int64  // bytes of staged files (default 10 GiB)
	UploadPartSize    int64  // first multipart part size (default 8 MiB)
	UploadConcurrency int    // parts in flight per file (default 8)
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

	// CheckPermissions makes the file system check every caller's
	// permissions itself (access.go): set when the kernel does not
	// (no default_permissions).
	CheckPermissions bool
	// FastListing shows the attributes a LIST gives (file_mode, uid,
	// gid, Last-Modified) as they are, without a HEAD: for buckets
	// without ossfs metadata. Permission decisions still use exact
	// attributes.
	FastListing bool
	// AttrStore keeps HEAD results on disk between mounts (nil: none).
	AttrStore *cache.AttrStore
	// HeadConcurrency bounds the HEADs verifying listed entries
	// (default 32).
	HeadConcurrency int

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
	defDur(&c.OpenFreshTTL, time.Second)
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
	defInt(&c.KernelRequests, 12)
	def(&c.DiskBudget, 10<<30)
	def(&c.UploadPartSize, 8<<20)
	defInt(&c.UploadConcurrency, 8)
	defInt(&c.MaxRenameObjects, 100000)
	defInt(&c.HeadConcurrency, 32)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// FS is one mounted bucket.
type FS struct {
	// Dependencies and constants.
	cfg   Config
	store ossapi.ObjectStore
	log   *slog.Logger
	// eng is the FUSE-free part: memory budget, block cache, buffer
	// pool, staging files and the cache directory (package engine).
	eng *engine.Engine

	// Caches, each internally locked. Keys are object keys; directories
	// end in "/".
	stat  *cache.TTL[*engine.Stat]
	neg   *cache.TTL[struct{}]
	lists *cache.TTL[*listing]

	mountTime time.Time     // shown as the mtime of directories without a marker
	rootAttr  *engine.Stat  // the mount root's attributes
	headSem   chan struct{} // bounds the HEADs verifying listed entries
	stopSave  chan struct{} // closed by Close: stops saving the attribute store
	stop      chan struct{} // closed by Close: stops the upkeep
	mem       memoryWatch   // upkeep.go

	expiredLogged atomic.Int64       // unix nanoseconds of the last "expired" log line
	pt            passthrough        // passthrough.go
	probes        engine.ShareProbes // share.go
	staleOpens    staleOpens         // file.go

	root *dirNode
}

// New builds a filesystem from cfg.
func New(cfg Config) (*FS, error) {
	cfg.setDefaults()
	f := &FS{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger,
		stat:  cache.NewTTL[*engine.Stat](cfg.StatCacheSize, cfg.StatTTL),
		neg:   cache.NewTTL[struct{}](cfg.NegCacheSize, cfg.NegTTL),
		// A listing holds its entries' attributes (for stat_ttl) and
		// speaks for the directory's names (for list_ttl).
		lists: cache.NewTTL[*listing](cfg.ListCacheSize, max(cfg.ListTTL, cfg.StatTTL)),

		mountTime: time.Now(),
		headSem:   make(chan struct{}, cfg.HeadConcurrency),
		stopSave:  make(chan struct{}),
		stop:      make(chan struct{}),
	}
	f.pt.pending = map[<-chan struct{}]*fileHandle{}
	f.pt.open = map[ptKey]*fileHandle{}
	eng, err := engine.New(engine.Config{
		Store:      cfg.Store,
		StoreID:    engine.StoreID{Endpoint: cfg.Endpoint, Bucket: cfg.Store.Bucket()},
		Logger:     f.log,
		Memory:     max(cfg.MemoryBudget-cfg.FUSEMemory, cfg.MemoryBudget/4),
		CacheDir:   cfg.CacheDir,
		DiskBudget: cfg.DiskBudget,
		ReadOnly:   cfg.ReadOnly,

		FileMode: cfg.FileMode, UID: cfg.UID, GID: cfg.GID,
		UploadPartSize: cfg.UploadPartSize, UploadConcurrency: cfg.UploadConcurrency,
		MaxRenameObjects: cfg.MaxRenameObjects,

		BlockSize: cfg.BlockSize, PartSize: cfg.PartSize, MaxWindow: cfg.MaxWindow, FirstRead: cfg.FirstRead,
		KernelRequests: cfg.KernelRequests,
		DataCache:      cfg.DataCache,
	})
	if err != nil {
		return nil, err
	}
	f.eng = eng
	f.rootAttr = f.implicitDir()
	f.root = &dirNode{fsys: f}
	if cfg.AttrStore != nil {
		go f.saveAttrStore()
	}
	f.setMemoryLimit()
	go f.upkeep()
	return f, nil
}

// Root is the root node for fs.Mount.
func (f *FS) Root() gofs.InodeEmbedder { return f.root }

// Options returns go-fuse options with the kernel timeouts set from the caches.
func (f *FS) Options() *gofs.Options {
	entry, attrTO, negTO := f.cfg.StatTTL, f.cfg.StatTTL, f.cfg.NegTTL
	// Owners are filled in by the nodes themselves (uid 0 in ossfs
	// metadata means root, so go-fuse's UID/GID defaults are not used).
	return &gofs.Options{
		EntryTimeout:    &entry,
		AttrTimeout:     &attrTO,
		NegativeTimeout: &negTO,
		// Mode 000 is a mode like any other (chmod 000): go-fuse must
		// not turn it into 0644.
		NullPermissions: true,
	}
}

// fill copies a into a FUSE attribute.
func fillAttr(out *fuse.Attr, a *engine.Stat) {
	out.Mode = a.Mode
	out.Size = uint64(a.Size)
	if a.Dir {
		out.Size = 4096
		out.Nlink = 2
	} else {
		out.Nlink = 1
	}
	out.Blocks = (uint64(a.Size) + 511) / 512
	out.Blksize = 1 << 20
	out.Uid, out.Gid = a.UID, a.GID
	out.Rdev = a.Rdev
	t := a.Mtime()
	out.SetTimes(&t, &t, &t)
}

// attrFromInfo builds attributes from an object's info, honouring ossfs
// metadata (x-oss-meta-mode/uid/gid/mtime/rdev) when present. They are
// known when info came from a HEAD (or a write).
func (f *FS) attrFromInfo(info *ossapi.ObjectInfo, dir bool) *engine.Stat {
	a := &engine.Stat{Dir: dir, Size: info.Size, ETag: info.ETag, Info: info,
		UID: f.cfg.UID, GID: f.cfg.GID, Known: info.Full, LastMod: engine.UnixOrZero(info.LastModified), Answered: time.Now().UnixNano()}
	if dir {
		a.Mode = syscall.S_IFDIR | f.cfg.DirMode
		a.Size = 0
	} else {
		a.Mode = syscall.S_IFREG | f.cfg.FileMode
	}
	if info.LastModified.IsZero() {
		a.SetMtime(f.mountTime)
	} else {
		a.SetMtime(info.LastModified)
	}
	f.applyOssfsMeta(a, info.Meta)
	return a
}

// applyOssfsMeta sets a's mode, owner, mtime and rdev from ossfs metadata.
// A mode with neither a file type nor permission bits ("0") says nothing
// and is ignored; a typed mode of 000 (chmod 000) is honoured.
func (f *FS) applyOssfsMeta(a *engine.Stat, meta map[string]string) {
	if meta == nil {
		return
	}
	if v, ok := meta["mode"]; ok {
		if m, err := strconv.ParseUint(v, 10, 32); err == nil && m&(syscall.S_IFMT|0o7777) != 0 {
			m32 := uint32(m)
			switch typ := m32 & syscall.S_IFMT; {
			case a.Dir:
				m32 = syscall.S_IFDIR | m32&0o7777
			case typ == syscall.S_IFLNK, typ == syscall.S_IFIFO, typ == syscall.S_IFSOCK,
				typ == syscall.S_IFCHR, typ == syscall.S_IFBLK:
			default:
				m32 = syscall.S_IFREG | m32&0o7777
			}
			a.Mode = m32
		}
	}
	if v, ok := meta["uid"]; ok {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.UID = uint32(n)
		}
	}
	if v, ok := meta["gid"]; ok {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.GID = uint32(n)
		}
	}
	if t, ok := engine.ParseMtime(meta["mtime"]); ok {
		a.SetMtime(t)
	}
	if v, ok := meta["rdev"]; ok && (a.Mode&syscall.S_IFMT == syscall.S_IFCHR || a.Mode&syscall.S_IFMT == syscall.S_IFBLK) {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.Rdev = uint32(n)
		}
	}
}

// implicitDir is a directory known to have no marker: the mount's defaults,
// with the mount time as its mtime.
func (f *FS) implicitDir() *engine.Stat {
	a := &engine.Stat{Dir: true, Implicit: true, Known: true, Mode: syscall.S_IFDIR | f.cfg.DirMode,
		UID: f.cfg.UID, GID: f.cfg.GID}
	a.SetMtime(f.mountTime)
	return a
}

// listedDir is a directory seen as a listing's common prefix: it exists,
// but whether it has a marker (and its attributes) is not known.
func (f *FS) listedDir() *engine.Stat {
	a := f.implicitDir()
	a.Listed, a.Known = true, false
	return a
}

// showable reports whether a may be shown to a program: exact attributes
// always, a listing's guess only with fast_listing.
func (f *FS) showable(a *engine.Stat) bool { return a.Known || f.cfg.FastListing }

// lookupKey finds what key (a file) or key+"/" (a directory) is, from the
// caches or with one HEAD and one LIST in parallel (with fast_listing: one
// LIST, see lookupByList). A directory wins over a file of the same name.
// It returns ENOENT (cached) when neither exists.
// The attributes it returns may be shown (see showable): a listing's guess
// is verified first unless the mount uses fast_listing.
func (f *FS) lookupKey(ctx context.Context, parentKey, name string) (*engine.Stat, syscall.Errno) {
	key := parentKey + name
	if a, ok := f.stat.Get(key); ok && f.showable(a) {
		return a, 0
	}
	if _, ok := f.neg.Get(key); ok {
		return nil, syscall.ENOENT
	}
	if l, ok := f.liveListing(parentKey); ok && l.speaksFor(name) {
		// The parent's fresh listing is authoritative for existence, and
		// holds the entry's attributes.
		a, ok := l.entry(name)
		if !ok {
			f.neg.Put(key, struct{}{})
			return nil, syscall.ENOENT
		}
		if !f.showable(a) {
			return f.verifyListed(ctx, l, parentKey, name)
		}
		return a, 0
	}
	if f.cfg.FastListing {
		return f.lookupByList(ctx, key)
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
				full, err := f.store.Head(ctx, key+"/", ossapi.HeadOptions{})
				if err != nil && ossapi.KindOf(err) != ossapi.KindNotExist {
					return nil, f.toErrno("lookup", err)
				}
				if err == nil {
					a = f.attrFromInfo(full, true)
				}
			}
		}
		f.putAttr(key, a)
		return a, 0
	}
	if headErr == nil {
		if strings.HasSuffix(key, "/") {
			return nil, syscall.ENOENT
		}
		f.remember(info)
		a := f.attrFromInfo(info, false)
		f.putAttr(key, a)
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

// lookupListMax is how many keys a lookup's LIST asks for: the key itself
// comes first, then the keys between it and key+"/" (key followed by a byte
// below '/': "name-1", "name.txt/..."), then the directory's marker and
// contents.
const lookupListMax = 16

// lookupByList is lookupKey's request with fast_listing: one LIST of the
// keys starting with key (no delimiter), and no HEAD of a file. The object
// key, if any, is the first key; the directory's keys (key+"/", its marker,
// first) follow the keys between them, and should those fill the page a
// LIST of key+"/" tells whether the directory exists. A file is shown as
// its listing's entry (see mergeListed); a directory without a marker has
// its exact attributes (the mount's defaults); one with a marker is HEADed
// for them when the mount checks permissions (a permission decision never
// takes a guess), else shown as a listing's guess.
func (f *FS) lookupByList(ctx context.Context, key string) (*engine.Stat, syscall.Errno) {
	page, err := f.store.List(ctx, ossapi.ListRequest{Prefix: key, MaxKeys: lookupListMax})
	if err != nil {
		return nil, f.toErrno("lookup", err)
	}
	dirPrefix := key + "/"
	var file, first *ossapi.ObjectInfo // the file; the directory's first key
	passed := false
	for i := range page.Objects {
		o := &page.Objects[i]
		switch {
		case o.Key == key:
			file = o
		case strings.HasPrefix(o.Key, dirPrefix):
			if first == nil {
				first = o
			}
		}
		passed = passed || o.Key >= dirPrefix
	}
	if first == nil && page.IsTruncated && !passed {
		more, err := f.store.List(ctx, ossapi.ListRequest{Prefix: dirPrefix, MaxKeys: 1})
		if err != nil {
			return nil, f.toErrno("lookup", err)
		}
		if len(more.Objects) > 0 {
			first = &more.Objects[0]
		}
	}
	var a *engine.Stat
	switch {
	case first != nil && first.Key == dirPrefix && f.enforcing():
		// A marker: its metadata (ossfs mode, uid, gid, mtime).
		return f.headDir(ctx, key)
	case first != nil && first.Key == dirPrefix:
		a = f.listedDirAttr(key)
	case first != nil:
		a = f.implicitDir()
	case file != nil:
		a = f.mergeListed(key, file, false)
	default:
		f.neg.Put(key, struct{}{})
		return nil, syscall.ENOENT
	}
	f.putAttr(key, a)
	return a, 0
}

// headFile refreshes a file's attributes with a HEAD.
func (f *FS) headFile(ctx context.Context, key string) (*engine.Stat, syscall.Errno) {
	info, err := f.store.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil {
		if ossapi.KindOf(err) == ossapi.KindNotExist {
			f.stat.Remove(key)
		}
		return nil, f.toErrno("head", err)
	}
	f.remember(info)
	a := f.attrFromInfo(info, false)
	f.stat.Put(key, a)
	return a, 0
}

// putAttr caches a for key, unless a is a guess about the same object (a
// directory, or a file of the same version) whose own attributes are known:
// a listing never replaces known attributes with less informed ones (it
// only tells that they still stand, when).
func (f *FS) putAttr(key string, a *engine.Stat) {
	if !a.Known {
		if old, _, ok := f.stat.Peek(key); ok && old.Known && old.Dir == a.Dir && (a.Dir || engine.SameVersion(old, a)) {
			if !a.Dir && a.Answered > old.Answered {
				f.stat.Put(key, old.Reanswered(a.Answered))
			}
			return
		}
	}
	f.stat.Put(key, a)
}

// freshAttr returns the cached attributes of the file at key when an
// answer of the server gave them less than OpenFreshTTL ago: an open may
// take their ETag and size as the current version without a HEAD.
func (f *FS) freshAttr(key string) (*engine.Stat, bool) {
	ttl := f.cfg.OpenFreshTTL
	if ttl <= 0 {
		return nil, false
	}
	a, ok := f.cachedAttr(key)
	if !ok || a.Dir || a.ETag == "" || a.Answered == 0 {
		return nil, false
	}
	age := time.Duration(time.Now().UnixNano() - a.Answered)
	return a, age >= 0 && age < ttl
}

// invalidate forgets cached knowledge of key; its parent's listing stops
// speaking for it.
func (f *FS) invalidate(key string) {
	f.stat.Remove(key)
	f.neg.Remove(key)
	name := strings.TrimPrefix(strings.TrimSuffix(key, "/"), parentKey(key))
	if l, _, ok := f.lists.Peek(parentKey(key)); ok {
		l.markChanged(name)
	}
}

// rewriteMeta replaces an object's user metadata and standard headers in
// place (engine.RewriteMeta) and forgets what was cached of it.
func (f *FS) rewriteMeta(ctx context.Context, key string, size int64, etag string, meta map[string]string, hdr ossapi.StdHeaders) (string, error) {
	newETag, err := f.eng.RewriteMeta(ctx, key, size, etag, meta, hdr)
	if err == nil {
		f.invalidate(key)
	}
	return newETag, err
}

// noteEmptyDir records that dirKey was just created empty by this mount, so
// lookups of new names inside it need no request.
func (f *FS) noteEmptyDir(dirKey string) {
	f.lists.Put(dirKey, newListing())
}

// parentKey is the directory key holding key ("" for top level).
func parentKey(key string) string {
	k := strings.TrimSuffix(key, "/")
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i+1]
	}
	return ""
}

// noteUploaded records what an upload of the file whose state is st
// produced at key: the caches forget what they knew of key and hold a,
// and the file has an object from then on.
func (f *FS) noteUploaded(st *fileState, key string, ea engine.Attr) {
	f.invalidate(key)
	f.eng.DropData(key)
	a := attrOf(ea)
	a.Answered = time.Now().UnixNano()
	f.stat.Put(key, a)
	if st != nil {
		st.onServer.Store(true)
	}
}

// attrOf is what stat shows of a file being written.
func attrOf(ea engine.Attr) *engine.Stat {
	a := &engine.Stat{Known: true, Size: ea.Size, ETag: ea.ETag, Mode: ea.Mode, UID: ea.UID, GID: ea.GID}
	a.SetMtime(ea.Mtime)
	return a
}

// newWriter stages key for writing, for the file whose state is st (see
// engine.NewWriter); base is the current object (nil or a directory: a
// new file).
func (f *FS) newWriter(st *fileState, key string, base *engine.Stat, truncate bool, owner *engine.Owner) (*engine.Writer, error) {
	var b *engine.Base
	if base != nil && !base.Dir {
		b = &engine.Base{Attr: engine.Attr{Size: base.Size, ETag: base.ETag, Mode: base.Mode, UID: base.UID, GID: base.GID, Mtime: base.Mtime()}, Info: base.Info}
	}
	return f.eng.NewWriter(key, b, truncate, owner, func(key string, a engine.Attr) { f.noteUploaded(st, key, a) })
}

// FlushAll uploads every open file that has changes (at unmount) and
// returns how many uploads failed.
func (f *FS) FlushAll(ctx context.Context) int { return f.eng.FlushAll(ctx) }

// Close releases the mount's local resources (after unmount).
func (f *FS) Close() {
	close(f.stop)
	if st := f.cfg.AttrStore; st != nil {
		close(f.stopSave)
		if err := st.Save(); err != nil {
			f.log.Warn("cannot save the attribute store", "path", st.Path(), "err", err)
		}
	}
	f.eng.Close()
}

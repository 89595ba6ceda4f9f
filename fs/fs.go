package fs

import (
	"context"
	"log/slog"
	"sync/atomic"
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
	// (default 64: 10,000 HEADs of 15 ms in under 3 s).
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
	defInt(&c.HeadConcurrency, 64)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// FS is one mounted bucket.
type FS struct {
	// Dependencies and constants.
	cfg Config
	log *slog.Logger
	// eng is the FUSE-free part: memory budget, block cache, buffer
	// pool, staging files and the cache directory (package engine).
	eng *engine.Engine

	// ns is the namespace: lookups, attributes, their caches and the
	// directories' listings (engine.Namespace; namespace.go maps its
	// errors).
	ns *engine.Namespace

	stop chan struct{} // closed by Close: stops the upkeep
	mem  memoryWatch   // upkeep.go

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
		cfg:  cfg,
		log:  cfg.Logger,
		stop: make(chan struct{}),
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
	f.ns = engine.NewNamespace(engine.NamespaceConfig{
		Store: cfg.Store, Logger: f.log,
		UID: cfg.UID, GID: cfg.GID, FileMode: cfg.FileMode, DirMode: cfg.DirMode,
		StatTTL: cfg.StatTTL, OpenFreshTTL: cfg.OpenFreshTTL, NegTTL: cfg.NegTTL, ListTTL: cfg.ListTTL,
		StatCacheSize: cfg.StatCacheSize, NegCacheSize: cfg.NegCacheSize, ListCacheSize: cfg.ListCacheSize,
		FastListing: cfg.FastListing, CheckPermissions: cfg.CheckPermissions,
		AttrStore: cfg.AttrStore, HeadConcurrency: cfg.HeadConcurrency,
		Listed: f.noteListed,
	})
	f.root = &dirNode{fsys: f}
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

// noteUploaded records what an upload of the file whose state is st
// produced at key: the caches forget what they knew of key and hold a,
// and the file has an object from then on.
func (f *FS) noteUploaded(st *fileState, key string, ea engine.Attr) {
	f.eng.DropData(key)
	a := attrOf(ea)
	a.Answered = time.Now().UnixNano()
	f.ns.Made(key, a)
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
		b = base.Base()
	}
	return f.eng.NewWriter(key, b, truncate, owner, func(key string, a engine.Attr) { f.noteUploaded(st, key, a) })
}

// FlushAll uploads every open file that has changes (at unmount) and
// returns how many uploads failed.
func (f *FS) FlushAll(ctx context.Context) int { return f.eng.FlushAll(ctx) }

// Close releases the mount's local resources (after unmount).
func (f *FS) Close() {
	close(f.stop)
	f.ns.Close()
	f.eng.Close()
}

package engine

// The namespace: what the mount knows of the bucket's keys, in three
// caches with their rules, and the attributes it makes of what OSS says.
//
//   - Attrs (stat_ttl): a key's Stat, from a HEAD, from a lookup, from
//     what this mount wrote. Known attributes are never replaced by a
//     listing's guess of the same version (putAttr).
//   - Neg (neg_ttl): keys known not to exist.
//   - Lists: one directory's listing (listing.go), speaking for the
//     directory's names for list_ttl and holding its entries' attributes
//     for stat_ttl; a name this mount changes since is no longer spoken
//     for (Invalidate).
//
// Keys are object keys under the mount's prefix; a directory's entry in
// Attrs and Neg is its key without the trailing '/', its listing's is with.

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/ossapi"
)

// NamespaceConfig is what a namespace is made of. Its values are used as
// given (package fs sets the defaults); a TTL of 0 disables its cache.
type NamespaceConfig struct {
	Store  ossapi.ObjectStore
	Logger *slog.Logger

	UID, GID uint32 // owner of objects without ossfs metadata
	FileMode uint32 // permission bits of such files
	DirMode  uint32 // permission bits of such directories

	StatTTL       time.Duration // Attrs' lifetime
	OpenFreshTTL  time.Duration // how long an answer of the server stands for an open (Fresh)
	NegTTL        time.Duration // Neg's lifetime
	ListTTL       time.Duration // how long a listing speaks for its directory's names
	StatCacheSize int
	NegCacheSize  int
	ListCacheSize int

	// FastListing shows a listing's guesses as they are (no HEAD).
	FastListing bool
	// CheckPermissions: the mount decides permissions itself, and a
	// permission decision never takes a guess (lookupByList HEADs a
	// directory's marker).
	CheckPermissions bool
	// AttrStore keeps HEAD results on disk between mounts (nil: none);
	// the namespace saves it once a minute while it changes, and at Close.
	AttrStore *cache.AttrStore
	// HeadConcurrency bounds the HEADs verifying listed entries (> 0).
	HeadConcurrency int
	// Listed is told how many entries the listings being read have
	// gained (after each page) and dropped (once read): they count for
	// the memory limit as they come. nil: not told.
	Listed func(delta int64)
}

// Namespace is the mount's knowledge of keys: lookups, attributes, the
// caches that keep them and directory listings. Its methods are safe for
// concurrent use (each cache is internally locked; a listing has its own
// lock).
type Namespace struct {
	cfg   NamespaceConfig
	store ossapi.ObjectStore
	log   *slog.Logger

	// Attrs holds what is known of a key (directories without their
	// trailing '/'); Neg the keys known not to exist; Lists the
	// directories' listings (keys "" or ending in '/'). Package fs
	// reaches them directly where a namespace operation it makes (create,
	// remove, rename, setattr) tells what a key now is.
	Attrs *cache.TTL[*Stat]
	Neg   *cache.TTL[struct{}]
	Lists *cache.TTL[*Listing]

	mountTime time.Time     // shown as the mtime of directories without a marker
	root      *Stat         // the mount root's attributes
	headSem   chan struct{} // bounds the HEADs verifying listed entries
	stopSave  chan struct{} // closed by Close: stops saving the attribute store
	saved     chan struct{} // closed when the saver has stopped
	swept     sweeps        // Sweep's caller only
}

// sweeps are when each cache was last swept.
type sweeps struct{ attrs, neg, lists time.Time }

// sweepMax is the longest time between two sweeps of a cache.
const sweepMax = 15 * time.Second

// Sweep drops the cache entries whose time is up (a quarter of each TTL
// after it ends at the latest, at most sweepMax), rather than leave them
// until a lookup happens to meet them; known attributes stay in Attrs,
// expired, as what later listings are checked against, within its size.
// Package fs calls it once a second (fs/upkeep.go), from one goroutine.
func (n *Namespace) Sweep(now time.Time) {
	if due(&n.swept.neg, now, n.cfg.NegTTL) {
		n.Neg.Expire(nil)
	}
	if due(&n.swept.attrs, now, n.cfg.StatTTL) {
		n.Attrs.Expire(func(a *Stat) bool { return a.Known })
	}
	if due(&n.swept.lists, now, max(n.cfg.ListTTL, n.cfg.StatTTL)) {
		n.Lists.Expire(nil)
	}
}

// due reports whether a cache with entries living ttl is due for a sweep,
// and notes the sweep.
func due(last *time.Time, now time.Time, ttl time.Duration) bool {
	if ttl <= 0 || now.Sub(*last) < min(max(ttl/4, time.Second), sweepMax) {
		return false
	}
	*last = now
	return true
}

// NewNamespace makes the namespace cfg describes (and starts saving its
// attribute store, if any, until Close).
func NewNamespace(cfg NamespaceConfig) *Namespace {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Namespace{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger,
		Attrs: cache.NewTTL[*Stat](cfg.StatCacheSize, cfg.StatTTL),
		Neg:   cache.NewTTL[struct{}](cfg.NegCacheSize, cfg.NegTTL),
		// A listing holds its entries' attributes (for stat_ttl) and
		// speaks for the directory's names (for list_ttl).
		Lists: cache.NewTTL[*Listing](cfg.ListCacheSize, max(cfg.ListTTL, cfg.StatTTL)),

		mountTime: time.Now(),
		headSem:   make(chan struct{}, max(cfg.HeadConcurrency, 1)),
		stopSave:  make(chan struct{}),
		saved:     make(chan struct{}),
	}
	n.root = n.ImplicitDir()
	if cfg.AttrStore != nil {
		go n.saveAttrStore()
	} else {
		close(n.saved)
	}
	return n
}

// Close stops saving the attribute store and saves it one last time.
func (n *Namespace) Close() {
	st := n.cfg.AttrStore
	if st == nil {
		return
	}
	close(n.stopSave)
	<-n.saved
	if err := st.Save(); err != nil {
		n.log.Warn("cannot save the attribute store", "path", st.Path(), "err", err)
	}
}

// saveAttrStore saves the attribute store once a minute while it changes,
// until Close (which saves it one last time).
func (n *Namespace) saveAttrStore() {
	defer close(n.saved)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-n.stopSave:
			return
		case <-t.C:
			if err := n.cfg.AttrStore.Save(); err != nil {
				n.log.Warn("cannot save the attribute store", "path", n.cfg.AttrStore.Path(), "err", err)
			}
		}
	}
}

// Root is the mount root's attributes.
func (n *Namespace) Root() *Stat { return n.root }

// AttrFromInfo builds attributes from an object's info, honouring ossfs
// metadata (x-oss-meta-mode/uid/gid/mtime/rdev) when present. They are
// known when info came from a HEAD (or a write).
func (n *Namespace) AttrFromInfo(info *ossapi.ObjectInfo, dir bool) *Stat {
	a := &Stat{Dir: dir, Size: info.Size, ETag: info.ETag, Info: info,
		UID: n.cfg.UID, GID: n.cfg.GID, Known: info.Full, LastMod: UnixOrZero(info.LastModified), Answered: time.Now().UnixNano()}
	if dir {
		a.Mode = syscall.S_IFDIR | n.cfg.DirMode
		a.Size = 0
	} else {
		a.Mode = syscall.S_IFREG | n.cfg.FileMode
	}
	if info.LastModified.IsZero() {
		a.SetMtime(n.mountTime)
	} else {
		a.SetMtime(info.LastModified)
	}
	applyOssfsMeta(a, info.Meta)
	return a
}

// applyOssfsMeta sets a's mode, owner, mtime and rdev from ossfs metadata.
// A mode with neither a file type nor permission bits ("0") says nothing
// and is ignored; a typed mode of 000 (chmod 000) is honoured.
func applyOssfsMeta(a *Stat, meta map[string]string) {
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
	if t, ok := ParseMtime(meta["mtime"]); ok {
		a.SetMtime(t)
	}
	if v, ok := meta["rdev"]; ok && (a.Mode&syscall.S_IFMT == syscall.S_IFCHR || a.Mode&syscall.S_IFMT == syscall.S_IFBLK) {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			a.Rdev = uint32(n)
		}
	}
}

// ImplicitDir is a directory known to have no marker: the mount's
// defaults, with the mount time as its mtime.
func (n *Namespace) ImplicitDir() *Stat {
	a := &Stat{Dir: true, Implicit: true, Known: true, Mode: syscall.S_IFDIR | n.cfg.DirMode,
		UID: n.cfg.UID, GID: n.cfg.GID}
	a.SetMtime(n.mountTime)
	return a
}

// listedDir is a directory seen as a listing's common prefix: it exists,
// but whether it has a marker (and its attributes) is not known.
func (n *Namespace) listedDir() *Stat {
	a := n.ImplicitDir()
	a.Listed, a.Known = true, false
	return a
}

// Showable reports whether a may be shown to a program: exact attributes
// always, a listing's guess only with fast_listing.
func (n *Namespace) Showable(a *Stat) bool { return a.Known || n.cfg.FastListing }

// putAttr caches a for key, unless a is a guess about the same object (a
// directory, or a file of the same version) whose own attributes are known:
// a listing never replaces known attributes with less informed ones (it
// only tells that they still stand, when).
func (n *Namespace) putAttr(key string, a *Stat) {
	if !a.Known {
		if old, _, ok := n.Attrs.Peek(key); ok && old.Known && old.Dir == a.Dir && (a.Dir || SameVersion(old, a)) {
			if !a.Dir && a.Answered > old.Answered {
				n.Attrs.Put(key, old.Reanswered(a.Answered))
			}
			return
		}
	}
	n.Attrs.Put(key, a)
}

// Fresh returns the cached attributes of the file at key when an answer
// of the server gave them less than OpenFreshTTL ago: an open may take
// their ETag and size as the current version without a HEAD.
func (n *Namespace) Fresh(key string) (*Stat, bool) {
	ttl := n.cfg.OpenFreshTTL
	if ttl <= 0 {
		return nil, false
	}
	a, ok := n.Cached(key)
	if !ok || a.Dir || a.ETag == "" || a.Answered == 0 {
		return nil, false
	}
	age := time.Duration(time.Now().UnixNano() - a.Answered)
	return a, age >= 0 && age < ttl
}

// Cached returns what the caches know of key while fresh: Attrs' entry,
// else the parent listing's.
func (n *Namespace) Cached(key string) (*Stat, bool) {
	if a, ok := n.Attrs.Get(key); ok {
		return a, true
	}
	return n.listedAttr(key)
}

// listedAttr returns the attributes the parent's listing gives key while
// they are as fresh as Attrs' would be (stat_ttl from the listing) and
// the listing still speaks for the name. A listing's entries are not
// copied into Attrs: the listing is their one home.
func (n *Namespace) listedAttr(key string) (*Stat, bool) {
	pk := ParentKey(key)
	l, _, ok := n.Lists.Peek(pk)
	if !ok || time.Since(l.made) >= n.cfg.StatTTL {
		return nil, false
	}
	name := strings.TrimSuffix(key[len(pk):], "/")
	if !l.SpeaksFor(name) {
		return nil, false
	}
	return l.Entry(name)
}

// Shown returns what may be shown of name in the directory dirKey at no
// cost (no request): the cached attributes, else the live listing's
// entry, if showable (see Showable).
func (n *Namespace) Shown(dirKey, name string) (*Stat, bool) {
	if a, ok := n.Attrs.Get(dirKey + name); ok && n.Showable(a) {
		return a, true
	}
	l, ok := n.liveListing(dirKey)
	if !ok || !l.SpeaksFor(name) {
		return nil, false
	}
	a, ok := l.Entry(name)
	if !ok || !n.Showable(a) {
		return nil, false
	}
	return a, true
}

// liveListing returns dirKey's listing while it speaks for the
// directory's names (list_ttl from when it was made).
func (n *Namespace) liveListing(dirKey string) (*Listing, bool) {
	l, ok := n.Lists.Get(dirKey)
	if !ok || time.Since(l.made) >= n.cfg.ListTTL {
		return nil, false
	}
	return l, true
}

// Invalidate forgets cached knowledge of key; its parent's listing stops
// speaking for it.
func (n *Namespace) Invalidate(key string) {
	n.Attrs.Remove(key)
	n.Neg.Remove(key)
	name := strings.TrimPrefix(strings.TrimSuffix(key, "/"), ParentKey(key))
	if l, _, ok := n.Lists.Peek(ParentKey(key)); ok {
		l.MarkChanged(name)
	}
}

// NoteEmptyDir records that dirKey was just created empty by this mount, so
// lookups of new names inside it need no request.
func (n *Namespace) NoteEmptyDir(dirKey string) {
	n.Lists.Put(dirKey, newListing())
}

// Forget drops dirKey's listing if owner made it (package fs: the
// directory inode the kernel forgot).
func (n *Namespace) Forget(dirKey string, owner any) {
	if l, _, ok := n.Lists.Peek(dirKey); ok && l.owner == owner {
		n.Lists.Remove(dirKey)
	}
}

// ListedEntries is the number of entries of the cached listings.
func (n *Namespace) ListedEntries() int64 {
	var c int64
	for _, l := range n.Lists.Values() {
		c += int64(l.Len())
	}
	return c
}

// remember records what a HEAD told of a file in the attribute store, for
// the next mount's listings.
func (n *Namespace) remember(info *ossapi.ObjectInfo) {
	if n.cfg.AttrStore == nil || !info.Full || strings.HasSuffix(info.Key, "/") {
		return
	}
	n.cfg.AttrStore.Put(info.Key, info.ETag, info.LastModified, info.Meta)
}

// Made records that this mount made key (a directory's without its '/')
// what a describes: what was known of it is forgotten, its parent's
// listing stops speaking for it, and a is cached.
func (n *Namespace) Made(key string, a *Stat) {
	n.Invalidate(key)
	n.Attrs.Put(key, a)
}

// MadeDir records that this mount made the directory at key (ending in
// '/') what a describes (Made of its name; whatever was cached under the
// key with its '/' is forgotten too).
func (n *Namespace) MadeDir(key string, a *Stat) {
	n.Invalidate(key)
	n.Made(strings.TrimSuffix(key, "/"), a)
}

// FileRenamed records that this mount renamed the file src to dst
// (Engine.RenameFile moved mv): src is removed, what was known of dst is
// forgotten, and when the copy kept the metadata (and the mtime is not
// Last-Modified, which the copy moved) dst has src's attributes at its new
// version.
func (n *Namespace) FileRenamed(src, dst string, mv FileMove) {
	n.Removed(src, false)
	n.Invalidate(dst)
	if mv.Info != nil && CarriesMtime(mv.Info) {
		n.Attrs.Put(dst, n.AttrFromInfo(mv.Info, false).MovedTo(mv.ETag))
	}
}

// MayExist forgets that key is known not to exist (a rename is about to
// look at what is there).
func (n *Namespace) MayExist(key string) { n.Neg.Remove(key) }

// Learned records a, exact attributes a request just gave of key (a
// metadata rewrite of a file being written, whose key's listing entry
// still stands).
func (n *Namespace) Learned(key string, a *Stat) { n.putAttr(key, a) }

// FullFile returns the file at key's attributes with its full description
// (all metadata): the cached ones when a HEAD gave them, else a HEAD's.
func (n *Namespace) FullFile(ctx context.Context, key string) (*Stat, error) {
	if a, ok := n.Attrs.Get(key); ok && a.Full() {
		return a, nil
	}
	return n.HeadFile(ctx, key)
}

// Removed records that this mount removed key (a directory's without its
// '/'; dir: a directory, whose listing goes too): what was known of it is
// forgotten, its parent's listing stops speaking for it, and it is known
// not to exist.
func (n *Namespace) Removed(key string, dir bool) {
	n.Invalidate(key)
	if dir {
		n.Lists.Remove(key + "/")
	}
	n.Neg.Put(key, struct{}{})
}

// TreeCaches is what the rename of the directory src to dst (both ending
// in '/') tells the namespace (see RenameDir): Forget drops what is
// cached under both; Carry also keeps what was known of the directory and
// of the files whose copies keep their metadata, for their new names.
func (n *Namespace) TreeCaches(src, dst string) TreeCaches {
	return TreeCaches{
		Forget: func() { n.forgetTree(src, dst) },
		Carry: func(objs []ossapi.ObjectInfo, hasMarker bool, newETags map[string]string) {
			n.carryTree(objs, src, dst, hasMarker, newETags)
		},
	}
}

// carryTree forgets what was cached under src and dst, keeping what was
// known of the directory and of the files under it for their new names
// (the copies keep their metadata; an mtime that was a Last-Modified
// does not follow).
func (n *Namespace) carryTree(objs []ossapi.ObjectInfo, src, dst string, hasMarker bool, newETags map[string]string) {
	carried := map[string]*Stat{}
	if a, _, ok := n.Attrs.Peek(strings.TrimSuffix(src, "/")); ok && a.Known && a.Dir && (hasMarker && CarriesMtime(a.Facts()) || a.Implicit && !hasMarker && len(objs) > 0) {
		carried[strings.TrimSuffix(dst, "/")] = a
	}
	for _, o := range objs {
		if a, _, ok := n.Attrs.Peek(o.Key); ok && a.Known && !a.Dir && newETags[o.Key] != "" && CarriesMtime(a.Facts()) {
			carried[dst+strings.TrimPrefix(o.Key, src)] = a.MovedTo(newETags[o.Key])
		}
	}
	n.forgetTree(src, dst)
	for k, a := range carried {
		n.Attrs.Put(k, a)
	}
}

// forgetTree drops what the caches know under src and dst.
func (n *Namespace) forgetTree(src, dst string) {
	n.Attrs.RemovePrefix(src)
	n.Attrs.RemovePrefix(dst)
	n.Lists.RemovePrefix(src)
	n.Lists.RemovePrefix(dst)
	n.Neg.RemovePrefix(dst)
	n.Invalidate(strings.TrimSuffix(src, "/"))
	n.Invalidate(strings.TrimSuffix(dst, "/"))
}

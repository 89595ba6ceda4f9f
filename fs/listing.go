package fs

// Directory listings, and how what they show is made exact.
//
// A LIST gives each object's key, size, ETag and Last-Modified, and each
// subdirectory as a common prefix; it carries no ossfs metadata (mode,
// owner, mtime) and does not say whether a subdirectory has a marker. An
// entry's attributes are therefore a guess (attr.known false) unless
//
//   - this mount already knows them for the same version of the object (a
//     HEAD, something it wrote; for a directory, its marker or its absence),
//     kept however old the cached entry is;
//   - the attribute store (cache.AttrStore, on disk) holds a HEAD result for
//     the same (key, ETag, Last-Modified).
//
// A guess is shown only with fast_listing. Otherwise the first lookup of a
// guessed entry verifies it (a HEAD of the object, or of a directory's
// marker), and the lookups that follow in the same directory verify the
// entries after it in the listing in parallel, in a window that doubles with
// each lookup (1, 2, 4 ... 1024 entries, at most HeadConcurrency HEADs in
// flight for the mount): `ls -l` of a listed directory costs its LISTs plus
// one HEAD per entry not already known, run in parallel, and `stat` of one
// name costs one HEAD.

import (
	"context"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

// listing is one directory's children. Its entries are as many as the
// directory's (a million and more), so each costs one slot of a sorted
// slice and the attributes the inode shares: no map, no copy of the key.
type listing struct {
	made       time.Time
	owner      *dirNode // the directory inode that listed it (nil: made otherwise)
	incomplete bool

	mu sync.Mutex
	// entries are sorted by name; the names never change, an entry's
	// attributes are replaced (GUARDED_BY(mu)) when verified.
	entries []listEntry
	// changed holds names this mount changed since the listing was made:
	// the listing no longer speaks for them (lookups ask OSS, readdir
	// lists again), but it still answers for every other name, so
	// creating many files in a directory does not cost a LIST each.
	changed map[string]bool          // GUARDED_BY(mu)
	pending map[string]*verification // GUARDED_BY(mu); entries being verified
	asked   int                      // GUARDED_BY(mu); lookups that needed a verification
}

// listEntry is one child of a listing.
type listEntry struct {
	name string
	a    *engine.Stat
}

// verification is one entry's HEAD in flight.
type verification struct {
	done  chan struct{}
	a     *engine.Stat
	errno syscall.Errno
}

func newListing() *listing { return &listing{made: time.Now()} }

// find returns the index of name in l.entries, or -1.
func (l *listing) find(name string) int {
	i, ok := slices.BinarySearchFunc(l.entries, name, func(e listEntry, name string) int { return strings.Compare(e.name, name) })
	if !ok {
		return -1
	}
	return i
}

// entry returns the attributes of name.
func (l *listing) entry(name string) (*engine.Stat, bool) {
	i := l.find(name)
	if i < 0 {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entries[i].a, true
}

// size is the number of entries.
func (l *listing) size() int { return len(l.entries) }

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

// liveListing returns dirKey's listing while it speaks for the
// directory's names (list_ttl from when it was made).
func (f *FS) liveListing(dirKey string) (*listing, bool) {
	l, ok := f.lists.Get(dirKey)
	if !ok || time.Since(l.made) >= f.cfg.ListTTL {
		return nil, false
	}
	return l, true
}

// listedAttr returns the attributes the parent's listing gives key while
// they are as fresh as the stat cache's would be (stat_ttl from the
// listing) and the listing still speaks for the name. A listing's entries
// are not copied into the stat cache: the listing is their one home.
func (f *FS) listedAttr(key string) (*engine.Stat, bool) {
	pk := parentKey(key)
	l, _, ok := f.lists.Peek(pk)
	if !ok || time.Since(l.made) >= f.cfg.StatTTL {
		return nil, false
	}
	name := strings.TrimSuffix(key[len(pk):], "/")
	if !l.speaksFor(name) {
		return nil, false
	}
	return l.entry(name)
}

// cachedAttr returns what the caches know of key while fresh: the stat
// cache's entry, else the parent listing's.
func (f *FS) cachedAttr(key string) (*engine.Stat, bool) {
	if a, ok := f.stat.Get(key); ok {
		return a, true
	}
	return f.listedAttr(key)
}

// listed is an entry being collected from LIST pages; rank orders the
// kinds of one name: a marker object ("name/") over a common prefix over
// a file.
type listed struct {
	listEntry
	rank uint8
}

// listDir lists dirKey ("" or ending in "/") completely for the directory
// inode owner. The entries' attributes stay in the listing (no HEAD per
// entry); the stat cache only loses what the listing contradicts.
func (f *FS) listDir(ctx context.Context, dirKey string, owner *dirNode) (*listing, syscall.Errno) {
	if l, ok := f.liveListing(dirKey); ok && l.pristine() {
		return l, 0
	}
	l := newListing()
	l.owner = owner
	var all []listed
	// The entries read so far count for the memory limit as they come.
	defer func() { f.mem.listing.Add(-int64(len(all))) }()
	token := ""
	for {
		counted := len(all)
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
			all = append(all, listed{listEntry{strings.Clone(name), f.listedDirAttr(strings.TrimSuffix(cp, "/"))}, 1})
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
				all = append(all, listed{listEntry{strings.Clone(name), f.mergeListed(strings.TrimSuffix(o.Key, "/"), o, true)}, 0})
				continue
			}
			if !validName(rest) {
				f.log.Warn("skipping key that cannot be a name", "key", o.Key)
				continue
			}
			all = append(all, listed{listEntry{strings.Clone(rest), f.mergeListed(o.Key, o, false)}, 2})
		}
		f.mem.listing.Add(int64(len(all) - counted))
		f.setMemoryLimit()
		if !page.IsTruncated || page.NextContinuationToken == "" {
			break
		}
		token = page.NextContinuationToken
	}
	slices.SortFunc(all, func(a, b listed) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return int(a.rank) - int(b.rank)
	})
	l.entries = make([]listEntry, 0, len(all))
	for i, e := range all {
		if i > 0 && all[i-1].name == e.name {
			if e.rank == 2 {
				f.log.Info("file hidden by a directory of the same name", "key", dirKey+e.name)
			}
			continue
		}
		l.entries = append(l.entries, e.listEntry)
	}
	// What the negative cache says of these names is wrong now.
	f.neg.RemoveIf(func(k string) bool { return parentKey(k) == dirKey })
	f.lists.Put(dirKey, l)
	return l, 0
}

// listedDirAttr is what a listing's common prefix tells of the directory
// at key: the attributes known of it, however old (a listing does not see
// markers, so it cannot have newer ones), else a guess.
func (f *FS) listedDirAttr(key string) *engine.Stat {
	if old, _, ok := f.stat.Peek(key); ok {
		if old.Dir && old.Known {
			return old
		}
		f.stat.Remove(key) // the listing speaks for it now
	}
	return f.listedDir()
}

// mergeListed makes attributes from a LIST entry: the known attributes of
// the same version when this mount or the attribute store has them, else a
// guess. The stat cache keeps what it knows of the same version; anything
// else it held of key is dropped (the listing speaks for it now).
func (f *FS) mergeListed(key string, o *ossapi.ObjectInfo, dir bool) *engine.Stat {
	a := f.attrFromListed(o, dir)
	if old, _, ok := f.stat.Peek(key); ok {
		if old.Known && old.Dir == dir && engine.SameVersion(old, a) {
			return old.Reanswered(a.Answered)
		}
		f.stat.Remove(key)
	}
	if !dir && f.cfg.AttrStore != nil {
		if meta, ok := f.cfg.AttrStore.Get(key, o.ETag, o.LastModified); ok {
			a.Known = true
			f.applyOssfsMeta(a, meta)
		}
	}
	return a
}

// attrFromListed builds a listing entry's attributes: attrFromInfo's,
// keeping of the ObjectInfo only what a LIST tells (see attr.facts).
func (f *FS) attrFromListed(o *ossapi.ObjectInfo, dir bool) *engine.Stat {
	a := f.attrFromInfo(o, dir)
	class, otype := engine.StorageClassCode(o.StorageClass), engine.ObjectTypeCode(o.ObjectType)
	if class != engine.CodeOther && otype != engine.CodeOther {
		a.Info, a.FromList, a.Class, a.OType = nil, true, class, otype
	}
	return a
}

// verifyListed returns exact attributes for name, a guessed entry of l,
// verifying it and, ahead of the lookups to come, the entries after it.
func (f *FS) verifyListed(ctx context.Context, l *listing, dirKey, name string) (*engine.Stat, syscall.Errno) {
	i := l.find(name)
	if i < 0 {
		return nil, syscall.ENOENT
	}
	l.mu.Lock()
	l.asked++
	window := 1 << min(l.asked-1, 10)
	for j := i; j < len(l.entries) && j < i+window; j++ {
		nm, a := l.entries[j].name, l.entries[j].a
		if a.Known || l.pending[nm] != nil || l.changed[nm] {
			continue
		}
		v := &verification{done: make(chan struct{})}
		if l.pending == nil {
			l.pending = map[string]*verification{}
		}
		l.pending[nm] = v
		go f.verifyEntry(l, dirKey, nm, a, v)
	}
	v := l.pending[name]
	a := l.entries[i].a
	l.mu.Unlock()
	if v == nil {
		return a, 0 // verified meanwhile
	}
	select {
	case <-v.done:
	case <-ctx.Done():
		return nil, syscall.EINTR
	}
	return v.a, v.errno
}

// verifyEntry learns the attributes of a guessed listing entry: the
// object's HEAD, or for a directory its marker's (none: an implicit
// directory).
func (f *FS) verifyEntry(l *listing, dirKey, name string, guess *engine.Stat, v *verification) {
	f.headSem <- struct{}{}
	defer func() { <-f.headSem }()
	ctx := context.Background()
	key := dirKey + name
	var a *engine.Stat
	if guess.Dir {
		info, err := f.store.Head(ctx, key+"/", ossapi.HeadOptions{})
		switch {
		case err == nil:
			a = f.attrFromInfo(info, true)
		case ossapi.KindOf(err) == ossapi.KindNotExist:
			a = f.implicitDir()
		default:
			v.errno = f.toErrno("lookup", err)
		}
	} else {
		info, err := f.store.Head(ctx, key, ossapi.HeadOptions{})
		switch {
		case err == nil:
			f.remember(info)
			a = f.attrFromInfo(info, false)
		case ossapi.KindOf(err) == ossapi.KindNotExist:
			// Gone since the listing (or replaced by a directory):
			// the listing no longer speaks for it.
			v.errno = syscall.ENOENT
			l.markChanged(name)
			f.stat.Remove(key)
		default:
			v.errno = f.toErrno("lookup", err)
		}
	}
	l.mu.Lock()
	if a != nil {
		if i := l.find(name); i >= 0 {
			l.entries[i].a = a
		}
		f.stat.Put(key, a)
	}
	delete(l.pending, name)
	l.mu.Unlock()
	v.a = a
	close(v.done)
}

// remember records what a HEAD told of a file in the attribute store, for
// the next mount's listings.
func (f *FS) remember(info *ossapi.ObjectInfo) {
	if f.cfg.AttrStore == nil || !info.Full || strings.HasSuffix(info.Key, "/") {
		return
	}
	f.cfg.AttrStore.Put(info.Key, info.ETag, info.LastModified, info.Meta)
}

// saveAttrStore saves the attribute store once a minute while it changes,
// until Close (which saves it one last time).
func (f *FS) saveAttrStore() {
	every(time.Minute, f.stopSave, func(time.Time) {
		if err := f.cfg.AttrStore.Save(); err != nil {
			f.log.Warn("cannot save the attribute store", "path", f.cfg.AttrStore.Path(), "err", err)
		}
	})
}

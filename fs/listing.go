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
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

func sortStrings(s []string) { sort.Strings(s) }

// listing is one directory's children.
type listing struct {
	names      []string // sorted
	incomplete bool

	mu      sync.Mutex
	entries map[string]*attr // GUARDED_BY(mu); name -> attributes
	// changed holds names this mount changed since the listing was made:
	// the listing no longer speaks for them (lookups ask OSS, readdir
	// lists again), but it still answers for every other name, so
	// creating many files in a directory does not cost a LIST each.
	changed map[string]bool          // GUARDED_BY(mu)
	pending map[string]*verification // GUARDED_BY(mu); entries being verified
	asked   int                      // GUARDED_BY(mu); lookups that needed a verification
}

// verification is one entry's HEAD in flight.
type verification struct {
	done  chan struct{}
	a     *attr
	errno syscall.Errno
}

func newListing() *listing { return &listing{entries: map[string]*attr{}} }

// entry returns the attributes of name.
func (l *listing) entry(name string) (*attr, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.entries[name]
	return a, ok
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
	l := newListing()
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
				l.entries[name] = f.listedDirAttr(dirKey + name)
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
		f.putAttr(dirKey+name, a)
		f.neg.Remove(dirKey + name)
	}
	sort.Strings(l.names)
	f.lists.Put(dirKey, l)
	return l, 0
}

// listedDirAttr is what a listing's common prefix tells of the directory
// at key: the attributes known of it, however old (a listing does not see
// markers, so it cannot have newer ones), else a guess.
func (f *FS) listedDirAttr(key string) *attr {
	if old, _, ok := f.stat.Peek(key); ok && old.dir && old.known {
		return old
	}
	return f.listedDir()
}

// mergeListed makes attributes from a LIST entry: the known attributes of
// the same version when this mount or the attribute store has them, else a
// guess.
func (f *FS) mergeListed(key string, o *ossapi.ObjectInfo, dir bool) *attr {
	a := f.attrFromInfo(o, dir)
	if old, _, ok := f.stat.Peek(key); ok && old.known && old.dir == dir && sameVersion(old, a) {
		return old.reanswered(a.answered)
	}
	if !dir && f.cfg.AttrStore != nil {
		if meta, ok := f.cfg.AttrStore.Get(key, o.ETag, o.LastModified); ok {
			a.known = true
			f.applyOssfsMeta(a, meta)
		}
	}
	return a
}

// verifyListed returns exact attributes for name, a guessed entry of l,
// verifying it and, ahead of the lookups to come, the entries after it.
func (f *FS) verifyListed(ctx context.Context, l *listing, dirKey, name string) (*attr, syscall.Errno) {
	i := sort.SearchStrings(l.names, name)
	l.mu.Lock()
	l.asked++
	window := 1 << min(l.asked-1, 10)
	for j := i; j < len(l.names) && j < i+window; j++ {
		nm := l.names[j]
		a := l.entries[nm]
		if a == nil || a.known || l.pending[nm] != nil || l.changed[nm] {
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
	a := l.entries[name]
	l.mu.Unlock()
	if v == nil {
		if a == nil {
			return nil, syscall.ENOENT
		}
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
func (f *FS) verifyEntry(l *listing, dirKey, name string, guess *attr, v *verification) {
	f.headSem <- struct{}{}
	defer func() { <-f.headSem }()
	ctx := context.Background()
	key := dirKey + name
	var a *attr
	if guess.dir {
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
		l.entries[name] = a
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
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-f.stopSave:
			return
		case <-t.C:
			if err := f.cfg.AttrStore.Save(); err != nil {
				f.log.Warn("cannot save the attribute store", "path", f.cfg.AttrStore.Path(), "err", err)
			}
		}
	}
}

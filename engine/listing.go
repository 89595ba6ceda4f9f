package engine

// Directory listings, and how what they show is made exact.
//
// A LIST gives each object's key, size, ETag and Last-Modified, and each
// subdirectory as a common prefix; it carries no ossfs metadata (mode,
// owner, mtime) and does not say whether a subdirectory has a marker. An
// entry's attributes are therefore a guess (Stat.Known false) unless
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
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// Listing is one directory's children. Its entries are as many as the
// directory's (a million and more), so each costs one slot of a sorted
// slice and the attributes the inode shares: no map, no copy of the key.
type Listing struct {
	made       time.Time
	owner      any // who listed it (ListDir's owner; nil: made otherwise)
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
	a    *Stat
}

// verification is one entry's HEAD in flight.
type verification struct {
	done chan struct{}
	a    *Stat
	err  error
}

func newListing() *Listing { return &Listing{made: time.Now()} }

// Find returns the index of name in the listing, or -1. It reads the
// entries' names only (they never change; their attributes are guarded by
// mu): no lock.
func (l *Listing) Find(name string) int {
	i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].name >= name })
	if i == len(l.entries) || l.entries[i].name != name {
		return -1
	}
	return i
}

// Entry returns the attributes of name.
func (l *Listing) Entry(name string) (*Stat, bool) {
	i := l.Find(name)
	if i < 0 {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entries[i].a, true
}

// At returns the name and attributes of the i-th entry (in name order).
func (l *Listing) At(i int) (string, *Stat) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entries[i].name, l.entries[i].a
}

// Len is the number of entries.
func (l *Listing) Len() int { return len(l.entries) }

// MarkChanged makes l stop speaking for name.
func (l *Listing) MarkChanged(name string) {
	l.mu.Lock()
	if l.changed == nil {
		l.changed = map[string]bool{}
	}
	l.changed[name] = true
	l.mu.Unlock()
}

// SpeaksFor reports whether l still knows the truth about name.
func (l *Listing) SpeaksFor(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.incomplete && !l.changed[name]
}

// pristine reports whether nothing in l has changed since it was made.
func (l *Listing) pristine() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.changed) == 0
}

// listed is an entry being collected from LIST pages; rank orders the
// kinds of one name: a marker object ("name/") over a common prefix over
// a file.
type listed struct {
	listEntry
	rank uint8
}

// ListDir lists dirKey ("" or ending in "/") completely for owner (an
// opaque value: Forget drops the listing only for the same owner), or
// returns the live listing while nothing in it changed. The entries'
// attributes stay in the listing (no HEAD per entry); Attrs only loses
// what the listing contradicts, Neg what it lists.
func (n *Namespace) ListDir(ctx context.Context, dirKey string, owner any) (*Listing, error) {
	if l, ok := n.liveListing(dirKey); ok && l.pristine() {
		return l, nil
	}
	l := newListing()
	l.owner = owner
	var all []listed
	// The entries read so far count for the memory limit as they come.
	defer func() { n.listed(-int64(len(all))) }()
	token := ""
	for {
		counted := len(all)
		page, err := n.store.List(ctx, ossapi.ListRequest{Prefix: dirKey, Delimiter: "/", ContinuationToken: token, MaxKeys: 1000})
		if err != nil {
			return nil, err
		}
		all = n.appendPage(all, dirKey, page)
		n.listed(int64(len(all) - counted))
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
				n.log.Info("file hidden by a directory of the same name", "key", dirKey+e.name)
			}
			continue
		}
		l.entries = append(l.entries, e.listEntry)
	}
	// What the negative cache says of these names is wrong now.
	n.Neg.RemoveIf(func(k string) bool { return ParentKey(k) == dirKey })
	n.Lists.Put(dirKey, l)
	return l, nil
}

// listed tells the configuration's Listed of a change in the entries
// being read.
func (n *Namespace) listed(delta int64) {
	if n.cfg.Listed != nil {
		n.cfg.Listed(delta)
	}
}

// appendPage appends the entries of one LIST page of dirKey to all: its
// common prefixes, its "name/" markers and its files (keys that cannot be
// names are skipped, with a log line).
func (n *Namespace) appendPage(all []listed, dirKey string, page *ossapi.ListResult) []listed {
	for _, cp := range page.CommonPrefixes {
		name := strings.TrimSuffix(strings.TrimPrefix(cp, dirKey), "/")
		if !ValidName(name) {
			n.log.Warn("skipping key that cannot be a name", "prefix", cp)
			continue
		}
		all = append(all, listed{listEntry{strings.Clone(name), n.listedDirAttr(strings.TrimSuffix(cp, "/"))}, 1})
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
			if !ValidName(name) {
				n.log.Warn("skipping key that cannot be a name", "key", o.Key)
				continue
			}
			all = append(all, listed{listEntry{strings.Clone(name), n.mergeListed(strings.TrimSuffix(o.Key, "/"), o, true)}, 0})
			continue
		}
		if !ValidName(rest) {
			n.log.Warn("skipping key that cannot be a name", "key", o.Key)
			continue
		}
		all = append(all, listed{listEntry{strings.Clone(rest), n.mergeListed(o.Key, o, false)}, 2})
	}
	return all
}

// listedDirAttr is what a listing's common prefix tells of the directory
// at key: the attributes known of it, however old (a listing does not see
// markers, so it cannot have newer ones), else a guess.
func (n *Namespace) listedDirAttr(key string) *Stat {
	if old, _, ok := n.Attrs.Peek(key); ok {
		if old.Dir && old.Known {
			return old
		}
		n.Attrs.Remove(key) // the listing speaks for it now
	}
	return n.listedDir()
}

// mergeListed makes attributes from a LIST entry: the known attributes of
// the same version when this mount or the attribute store has them, else a
// guess. Attrs keeps what it knows of the same version; anything else it
// held of key is dropped (the listing speaks for it now).
func (n *Namespace) mergeListed(key string, o *ossapi.ObjectInfo, dir bool) *Stat {
	a := n.attrFromListed(o, dir)
	if old, _, ok := n.Attrs.Peek(key); ok {
		if old.Known && old.Dir == dir && SameVersion(old, a) {
			return old.Reanswered(a.Answered)
		}
		n.Attrs.Remove(key)
	}
	if !dir && n.cfg.AttrStore != nil {
		if meta, ok := n.cfg.AttrStore.Get(key, o.ETag, o.LastModified); ok {
			a.Known = true
			applyOssfsMeta(a, meta)
		}
	}
	return a
}

// attrFromListed builds a listing entry's attributes: AttrFromInfo's,
// keeping of the ObjectInfo only what a LIST tells (see Stat.Facts).
func (n *Namespace) attrFromListed(o *ossapi.ObjectInfo, dir bool) *Stat {
	a := n.AttrFromInfo(o, dir)
	class, otype := StorageClassCode(o.StorageClass), ObjectTypeCode(o.ObjectType)
	if class != CodeOther && otype != CodeOther {
		a.Info, a.FromList, a.Class, a.OType = nil, true, class, otype
	}
	return a
}

// verifyListed returns exact attributes for name, a guessed entry of l,
// verifying it and, ahead of the lookups to come, the entries after it.
// A caller that gives up (ctx done) gets ctx's error; the verification
// goes on for the lookups to come.
func (n *Namespace) verifyListed(ctx context.Context, l *Listing, dirKey, name string) (*Stat, error) {
	i := l.Find(name)
	if i < 0 {
		return nil, notExist("lookup", dirKey+name)
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
		go n.verifyEntry(l, dirKey, nm, a, v)
	}
	v := l.pending[name]
	a := l.entries[i].a
	l.mu.Unlock()
	if v == nil {
		return a, nil // verified meanwhile
	}
	select {
	case <-v.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return v.a, v.err
}

// verifyEntry learns the attributes of a guessed listing entry: the
// object's HEAD, or for a directory its marker's (none: an implicit
// directory).
func (n *Namespace) verifyEntry(l *Listing, dirKey, name string, guess *Stat, v *verification) {
	n.headSem <- struct{}{}
	defer func() { <-n.headSem }()
	ctx := context.Background()
	key := dirKey + name
	var a *Stat
	if guess.Dir {
		info, err := n.store.Head(ctx, key+"/", ossapi.HeadOptions{})
		switch {
		case err == nil:
			a = n.AttrFromInfo(info, true)
		case ossapi.KindOf(err) == ossapi.KindNotExist:
			a = n.ImplicitDir()
		default:
			v.err = err
		}
	} else {
		info, err := n.store.Head(ctx, key, ossapi.HeadOptions{})
		switch {
		case err == nil:
			n.remember(info)
			a = n.AttrFromInfo(info, false)
		case ossapi.KindOf(err) == ossapi.KindNotExist:
			// Gone since the listing (or replaced by a directory):
			// the listing no longer speaks for it.
			v.err = err
			l.MarkChanged(name)
			n.Attrs.Remove(key)
		default:
			v.err = err
		}
	}
	l.mu.Lock()
	if a != nil {
		if i := l.Find(name); i >= 0 {
			l.entries[i].a = a
		}
		n.Attrs.Put(key, a)
	}
	delete(l.pending, name)
	l.mu.Unlock()
	v.a = a
	close(v.done)
}

package engine

import (
	"context"
	"strings"
	"sync"

	"github.com/ossmount/ossmount/ossapi"
)

// Lookup finds what key (a file) or key+"/" (a directory) is, key being
// parentKey+name, from the caches or with one HEAD and one LIST in
// parallel (with fast_listing: one LIST, see lookupByList). A directory
// wins over a file of the same name. A name that exists in neither form
// is cached as such (Neg) and its error is NotExist (errno ENOENT); other
// errors are OSS's.
// The attributes it returns may be shown (see Showable): a listing's guess
// is verified first unless the mount uses fast_listing.
func (n *Namespace) Lookup(ctx context.Context, parentKey, name string) (*Stat, error) {
	key := parentKey + name
	if a, ok := n.Attrs.Get(key); ok && n.Showable(a) {
		return a, nil
	}
	if _, ok := n.Neg.Get(key); ok {
		return nil, notExist("lookup", key)
	}
	if l, ok := n.liveListing(parentKey); ok && l.SpeaksFor(name) {
		// The parent's fresh listing is authoritative for existence, and
		// holds the entry's attributes.
		a, ok := l.Entry(name)
		if !ok {
			n.Neg.Put(key, struct{}{})
			return nil, notExist("lookup", key)
		}
		if !n.Showable(a) {
			return n.verifyListed(ctx, l, parentKey, name)
		}
		return a, nil
	}
	if n.cfg.FastListing {
		return n.lookupByList(ctx, key)
	}
	var (
		wg      sync.WaitGroup
		info    *ossapi.ObjectInfo
		headErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		info, headErr = n.store.Head(ctx, key, ossapi.HeadOptions{})
	}()
	page, listErr := n.store.List(ctx, ossapi.ListRequest{Prefix: key + "/", MaxKeys: 2})
	wg.Wait()
	if listErr == nil && (len(page.Objects) > 0 || len(page.CommonPrefixes) > 0) {
		return n.lookupDir(ctx, key, page)
	}
	if headErr == nil {
		if strings.HasSuffix(key, "/") {
			return nil, notExist("lookup", key)
		}
		n.remember(info)
		a := n.AttrFromInfo(info, false)
		n.putAttr(key, a)
		return a, nil
	}
	if listErr != nil {
		return nil, listErr
	}
	if ossapi.KindOf(headErr) != ossapi.KindNotExist {
		return nil, headErr
	}
	n.Neg.Put(key, struct{}{})
	return nil, notExist("lookup", key)
}

// lookupDir is Lookup's answer for key, a directory whose first keys page
// (key+"/" listed) shows: with a marker, its metadata (one HEAD), else the
// mount's defaults.
func (n *Namespace) lookupDir(ctx context.Context, key string, page *ossapi.ListResult) (*Stat, error) {
	a := n.ImplicitDir()
	for i := range page.Objects {
		if page.Objects[i].Key == key+"/" {
			// A marker object: its metadata (ossfs mode, uid, gid,
			// mtime) gives the directory's attributes.
			full, err := n.store.Head(ctx, key+"/", ossapi.HeadOptions{})
			if err != nil && ossapi.KindOf(err) != ossapi.KindNotExist {
				return nil, err
			}
			if err == nil {
				a = n.AttrFromInfo(full, true)
			}
		}
	}
	n.putAttr(key, a)
	return a, nil
}

// lookupListMax is how many keys a lookup's LIST asks for: the key itself
// comes first, then the keys between it and key+"/" (key followed by a byte
// below '/': "name-1", "name.txt/..."), then the directory's marker and
// contents.
const lookupListMax = 16

// lookupByList is Lookup's request with fast_listing: one LIST of the
// keys starting with key (no delimiter), and no HEAD of a file. The object
// key, if any, is the first key; the directory's keys (key+"/", its marker,
// first) follow the keys between them, and should those fill the page a
// LIST of key+"/" tells whether the directory exists. A file is shown as
// its listing's entry (see mergeListed); a directory without a marker has
// its exact attributes (the mount's defaults); one with a marker is HEADed
// for them when the mount checks permissions (a permission decision never
// takes a guess), else shown as a listing's guess.
func (n *Namespace) lookupByList(ctx context.Context, key string) (*Stat, error) {
	page, err := n.store.List(ctx, ossapi.ListRequest{Prefix: key, MaxKeys: lookupListMax})
	if err != nil {
		return nil, err
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
		more, err := n.store.List(ctx, ossapi.ListRequest{Prefix: dirPrefix, MaxKeys: 1})
		if err != nil {
			return nil, err
		}
		if len(more.Objects) > 0 {
			first = &more.Objects[0]
		}
	}
	var a *Stat
	switch {
	case first != nil && first.Key == dirPrefix && n.cfg.CheckPermissions:
		// A marker: its metadata (ossfs mode, uid, gid, mtime).
		return n.HeadDir(ctx, key)
	case first != nil && first.Key == dirPrefix:
		a = n.listedDirAttr(key)
	case first != nil:
		a = n.ImplicitDir()
	case file != nil:
		a = n.mergeListed(key, file, false)
	default:
		n.Neg.Put(key, struct{}{})
		return nil, notExist("lookup", key)
	}
	n.putAttr(key, a)
	return a, nil
}

// HeadFile refreshes a file's attributes with a HEAD (one that finds no
// object drops the cached ones).
func (n *Namespace) HeadFile(ctx context.Context, key string) (*Stat, error) {
	info, err := n.store.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil {
		if ossapi.KindOf(err) == ossapi.KindNotExist {
			n.Attrs.Remove(key)
		}
		return nil, err
	}
	n.remember(info)
	a := n.AttrFromInfo(info, false)
	n.Attrs.Put(key, a)
	return a, nil
}

// HeadDir learns a directory's attributes from its marker (name + "/"):
// its metadata, or the mount's defaults when it has none.
func (n *Namespace) HeadDir(ctx context.Context, name string) (*Stat, error) {
	info, err := n.store.Head(ctx, name+"/", ossapi.HeadOptions{})
	var a *Stat
	switch {
	case err == nil:
		a = n.AttrFromInfo(info, true)
	case ossapi.KindOf(err) == ossapi.KindNotExist:
		a = n.ImplicitDir()
		if old, _, ok := n.Attrs.Peek(name); ok && old.Dir && old.Implicit && old.Known {
			a.MtimeSec, a.MtimeNsec = old.MtimeSec, old.MtimeNsec // stable while it stays implicit
		}
	default:
		return nil, err
	}
	n.Attrs.Put(name, a)
	return a, nil
}

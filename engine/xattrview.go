package engine

// Extended attributes as the namespace serves them: the metadata view of
// a file or a directory, from the attribute cache while it holds what is
// asked and from a HEAD otherwise, and the changes of a file's or a
// directory's metadata with what they tell the caches. The names, their
// checks and the views themselves are xattr.go's.

import (
	"context"
	"strings"

	"github.com/ossmount/ossmount/ossapi"
)

// FileView returns the metadata of the file at key: the cached
// attributes' while fresh and brought by a HEAD (or, with listedFact set,
// while they hold that fact, which a LIST brings too), else a HEAD's,
// which is cached. headed is what that HEAD brought (nil: no request).
func (n *Namespace) FileView(ctx context.Context, key, listedFact string) (v *MetaView, headed *Stat, err error) {
	a, ok := n.Cached(key)
	if !ok || a.Dir || a.Facts() == nil || !(a.Full() || listedFact != "" && HasFact(a.Facts(), listedFact)) {
		if a, err = n.HeadFile(ctx, key); err != nil {
			return nil, nil, err
		}
		headed = a
	}
	return ViewOf(a.Facts()), headed, nil
}

// DirView returns the metadata of the directory at key (ending in '/')
// from its marker: the cached attributes' while fresh when a HEAD brought
// them, else a HEAD's, which is cached (root: the mount root, whose
// attributes are not cached). The bucket root ("") and an implicit
// directory (no marker) show none; a directory a lookup or an earlier
// HEAD found without a marker is not asked again while that is cached.
func (n *Namespace) DirView(ctx context.Context, key string, root bool) (*MetaView, error) {
	if key == "" {
		return EmptyView(), nil
	}
	name := strings.TrimSuffix(key, "/")
	a, cached := n.Attrs.Get(name)
	cached = cached && a.Dir && !root
	if cached {
		switch {
		case a.Implicit && !a.Listed:
			return EmptyView(), nil
		case a.Full():
			return ViewOf(a.Info), nil
		}
	}
	info, err := n.store.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil {
		if ossapi.KindOf(err) != ossapi.KindNotExist {
			return nil, err
		}
		if cached && a.Implicit {
			// A listing's directory found without a marker.
			known := *a
			known.Listed, known.Known = false, true
			n.Attrs.Put(name, &known)
		}
		return EmptyView(), nil
	}
	if !root {
		n.Attrs.Put(name, n.AttrFromInfo(info, true))
	}
	return ViewOf(info), nil
}

// ChangeFileXattr makes c on the file at key with e (ChangeObjectXattr);
// what was cached of it is forgotten once it changed, or was found gone,
// so that the next stat or getxattr asks a HEAD.
func (n *Namespace) ChangeFileXattr(ctx context.Context, e *Engine, key string, c XattrChange) error {
	_, err := e.ChangeObjectXattr(ctx, key, c)
	if err == nil || ossapi.KindOf(err) == ossapi.KindNotExist {
		n.Invalidate(key)
	}
	return err
}

// ChangeDirXattr makes c on the directory at key (ending in '/'; not the
// bucket root) with e: it rewrites the marker's metadata from a fresh
// HEAD, or, for an implicit directory, creates the marker with the
// attributes current gives (asked only then) and c. The directory's
// cached attributes become the new ones (a directory's stat is served
// from the cache alone); they are not Full, so a getxattr still asks a
// HEAD for the server's facts.
func (n *Namespace) ChangeDirXattr(ctx context.Context, e *Engine, key string, current func(context.Context) (*Stat, error), c XattrChange) error {
	info, err := n.store.Head(ctx, key, ossapi.HeadOptions{})
	switch {
	case err == nil:
		info, err = e.ChangeXattr(ctx, info, c)
	case ossapi.KindOf(err) == ossapi.KindNotExist:
		var a *Stat
		if a, err = current(ctx); err != nil {
			return err
		}
		info, err = e.CreateMarkerXattr(ctx, key, a, c)
	}
	if err != nil {
		return err
	}
	a := n.AttrFromInfo(info, true)
	a.Known = true // what was just written
	n.MadeDir(key, a)
	return nil
}

// ChangeWriterFileXattr makes c on the file w writes, with w locked
// (Engine.ChangeWriterXattr); when that changed the object now (w had
// nothing to upload), what was cached of its key is forgotten.
func (n *Namespace) ChangeWriterFileXattr(ctx context.Context, e *Engine, w *Writer, c XattrChange) error {
	rewritten, err := e.ChangeWriterXattr(ctx, w, c)
	if rewritten {
		n.Invalidate(w.keyLocked())
	}
	return err
}

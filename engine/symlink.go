package engine

import (
	"context"
	"io"
	"syscall"

	"github.com/ossmount/ossmount/ossapi"
)

// symlinkMax is the longest symlink target read (PATH_MAX).
const symlinkMax = 4096

// ReadLink reads the target of the symlink at key, whose attributes are
// a. The target is read from the version a describes (If-Match): when the
// symlink was replaced meanwhile, the version is asked again (a HEAD) and
// a new symlink is read, up to three times; anything else is EINVAL (not a
// symlink any more). fresh is the attributes a HEAD gave on the way (nil:
// none), for the caller to keep.
func (n *Namespace) ReadLink(ctx context.Context, key string, a *Stat) (target []byte, fresh *Stat, err error) {
	for attempt := 0; ; attempt++ {
		if !a.IsSymlink() {
			return nil, fresh, &Error{Op: "readlink", Key: key, Errno: syscall.EINVAL, Msg: "not a symlink"}
		}
		if a.Size > symlinkMax {
			return nil, fresh, &Error{Op: "readlink", Key: key, Errno: syscall.ENAMETOOLONG, Msg: "target longer than 4096 bytes"}
		}
		b, err := n.readTarget(ctx, key, a.ETag)
		if err == nil {
			return b, fresh, nil
		}
		if ossapi.KindOf(err) != ossapi.KindPrecondition || attempt == 2 {
			return nil, fresh, err
		}
		if a, err = n.HeadFile(ctx, key); err != nil {
			return nil, fresh, err
		}
		fresh = a
	}
}

// readTarget reads a symlink object's body (its target) at version etag.
func (n *Namespace) readTarget(ctx context.Context, key, etag string) ([]byte, error) {
	res, err := n.store.GetRange(ctx, ossapi.GetRequest{Key: key, Length: -1, IfMatch: etag})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, symlinkMax+1))
	if err != nil {
		return nil, BodyCut("GetObject", key, err)
	}
	return b, nil
}

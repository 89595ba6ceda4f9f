package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/ossapi"
)

// What presign and post-policy share: the request as the command line
// gives it (one path, --expires, --sigv1), sent to the mount holding the
// path or signed here for an oss:// path.

// shareRequest is a presign or post-policy request as its command line
// gives it.
type shareRequest struct {
	c       *cli.Context
	v       values
	path    string        // a path in a mount, or oss://BUCKET/...
	expires time.Duration // whole seconds
	v1      bool          // --sigv1
}

// sharing is the group of the sharing commands' own flags.
const sharing = "sharing"

// shareFlags are a sharing command's flags: --expires, its own, --sigv1
// and the others of the client and credential options (for oss:// paths),
// and -o.
func shareFlags(own ...option) []cli.Flag {
	expires := option{name: "expires", group: sharing, kind: kDuration, def: "1800",
		usage: "validity: seconds or a duration like 2h (at most 7 days)"}
	return append(optionFlags(append([]option{expires}, own...)), tableFlags(gCred, gCli)...)
}

// newShareRequest reads what every sharing command line has: one PATH
// (usage tells the command line otherwise), and --expires between 1 s and
// max.
func newShareRequest(c *cli.Context, usage string, max time.Duration) (*shareRequest, error) {
	if c.NArg() != 1 {
		return nil, usageError("usage: %s", usage)
	}
	v := values{c}
	d := v.dur("expires")
	if d < time.Second || d > max {
		return nil, usageError("--expires: %s is not between 1s and %s", v.str("expires"), max)
	}
	return &shareRequest{c: c, v: v, path: c.Args().First(), expires: d.Truncate(time.Second), v1: v.bool("sigv1")}, nil
}

// sharer is a sharing command's own request, answered with an A: signed
// here for an oss://BUCKET/NAME path (signHere: target checks NAME and
// gives the name to sign, sign signs it), or by the mount holding the path
// (ask); then shown.
type sharer[A any] interface {
	target(name string) (string, error)
	sign(ctx context.Context, client *ossapi.Client, name string) (A, error)
	ask() (A, error)
	show(A) error
}

// shareAction is the action of a sharing command: it reads what every
// sharing command line has (newShareRequest with usage and max), has
// parse make the command's own request of it, has that signed here or by
// the mount, and shows the answer.
func shareAction[A any](usage string, max time.Duration, parse func(*shareRequest) (sharer[A], error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		sr, err := newShareRequest(c, usage, max)
		if err != nil {
			return err
		}
		r, err := parse(sr)
		if err != nil {
			return err
		}
		var ans A
		if sr.direct() {
			ans, err = signHere(sr, r)
		} else {
			ans, err = r.ask()
		}
		if err != nil {
			return err
		}
		return r.show(ans)
	}
}

// direct reports whether the request is for an oss:// path, signed here
// rather than by a mount.
func (r *shareRequest) direct() bool { return strings.HasPrefix(r.path, "oss://") }

// askMount sends the request to the mount holding the path, as the
// virtual attribute user.oss.OP with params (the expiry and --sigv1 are
// added), and returns the answer. isDir is what the path must be.
func (r *shareRequest) askMount(op string, isDir bool, params ...[2]string) (string, error) {
	st, err := os.Stat(r.path)
	if err != nil {
		return "", cli.Exit(err.Error(), 1)
	}
	switch {
	case st.IsDir() && !isDir:
		return "", mountError(r.path, syscall.EISDIR)
	case !st.IsDir() && isDir:
		return "", mountError(r.path, syscall.ENOTDIR)
	}
	params = append([][2]string{{"exp", strconv.FormatInt(int64(r.expires/time.Second), 10)}}, params...)
	if r.v1 {
		params = append(params, [2]string{"v1", "1"})
	}
	return askMount(r.path, "user.oss."+op+shareQuery(params))
}

// signHere answers r for an oss://BUCKET/NAME path here: a usage error
// when the path or (own.target) its NAME is not one to sign, else own's
// signature with a client built from the options, within 30 s; a failure
// to sign is reported as the command's.
func signHere[A any](r *shareRequest, own sharer[A]) (A, error) {
	var zero A
	bucket, name, err := splitOSSPath(r.path)
	if err != nil {
		return zero, usageError("%v", err)
	}
	if name, err = own.target(name); err != nil {
		return zero, err
	}
	client, _, closeCreds, err := directClient(r.c, bucket)
	if err != nil {
		return zero, err
	}
	defer closeCreds()
	ctx, cancel := context.WithTimeout(r.c.Context, 30*time.Second)
	defer cancel()
	ans, err := own.sign(ctx, client, name)
	if err != nil {
		return zero, cli.Exit(fmt.Sprintf("%s %s: %v", r.c.Command.Name, r.path, err), 1)
	}
	return ans, nil
}

// boolParam reports a boolean parameter as "1" (shareQuery leaves out "").
func boolParam(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// shareQuery encodes a sharing request's parameters compactly: only '%',
// '&', '=', '+', ';', '#' and control bytes are escaped (UTF-8 stays raw,
// which url.ParseQuery in the daemon reads back unchanged).
func shareQuery(params [][2]string) string {
	var b strings.Builder
	for _, kv := range params {
		if kv[1] == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		for i := 0; i < len(kv[1]); i++ {
			c := kv[1][i]
			if c < 0x20 || c == 0x7f || strings.IndexByte("%&=+;#", c) >= 0 {
				fmt.Fprintf(&b, "%%%02X", c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "?" + b.String()
}

// splitOSSPath splits oss://BUCKET/KEY.
func splitOSSPath(p string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(p, "oss://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an oss://BUCKET/KEY path", p)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if !validBucket(bucket) {
		return "", "", fmt.Errorf("%q is not a bucket name (3-63 lower-case letters, digits and '-')", bucket)
	}
	return bucket, key, nil
}

// warnClipped tells that temporary credentials shortened a grant.
func warnClipped(what string, exp time.Time, asked time.Duration) {
	fmt.Fprintf(os.Stderr, "ossmount: warning: the %s expires at %s, when the temporary credentials that signed it do, not after the %s asked\n",
		what, exp.UTC().Format(time.RFC3339), asked)
}

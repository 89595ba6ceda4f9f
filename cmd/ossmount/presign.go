package main

// ossmount presign: a signed GET URL for a file, and the helpers the two
// sharing commands (presign, post-policy) have in common.
//
// For a path inside a mount the signing is done by the mount's daemon,
// with its own current credentials, through a virtual extended attribute
// (see fs/share.go): the request travels in the attribute's name and the
// answer comes back as its value, after the daemon checked that the caller
// may read the file. For oss://BUCKET/KEY the command builds a client from
// the same options as a mount (endpoint, region, credentials...).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/ossapi"
)

// xattrNameMax is the kernel's limit on an extended attribute's name.
const xattrNameMax = 255

func presignCommand() *cli.Command {
	own := []cli.Flag{
		&cli.StringFlag{Name: "expires", Value: "1800", Usage: "validity: seconds or a duration like 2h (at most 7 days)", Category: "sharing"},
		&cli.StringFlag{Name: "download-as", Usage: "make browsers download the file under this name (Content-Disposition: attachment)", Category: "sharing"},
		&cli.BoolFlag{Name: "inline", Usage: "ask browsers to show the file (Content-Disposition: inline)", Category: "sharing"},
		&cli.StringFlag{Name: "content-type", Usage: "Content-Type of the response", Category: "sharing"},
	}
	return &cli.Command{
		Name:      "presign",
		Usage:     "print a signed URL that downloads a file without credentials",
		ArgsUsage: "PATH (a file in a mount, or oss://BUCKET/KEY)",
		Description: "For a file in a mount, the mount signs the URL with its own current credentials, after\n" +
			"checking that you may read the file. A URL signed with temporary (STS) credentials stops\n" +
			"working when they expire: its expiry is brought forward and a warning is printed.\n" +
			"Signature V4 unless --sigv1. For oss://BUCKET/KEY give the mount's client and credential\n" +
			"options (--endpoint, --region, -o ...).",
		Flags:           append(own, shareTableFlags()...),
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			sc, args, err := parseShareArgs(c, "presign")
			if sc == nil || err != nil {
				return err
			}
			return presignAction(sc, args)
		},
	}
}

// shareTableFlags are the option-table flags that matter to the sharing
// commands: credentials and client options (for oss:// paths), and -o.
func shareTableFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range flags() {
		cf, ok := f.(cli.CategorizableFlag)
		if !ok {
			continue
		}
		switch cf.GetCategory() {
		case gCred, gCli:
			out = append(out, f)
		case gMount:
			if f.Names()[0] == "o" {
				out = append(out, f)
			}
		}
	}
	return out
}

// parseShareArgs parses a sharing command's arguments itself, so options
// may come before or after PATH (urfave/cli stops at the first argument)
// and -o lists work as for mount. It returns a nil context after --help.
func parseShareArgs(c *cli.Context, name string) (*cli.Context, []string, error) {
	var raw, tail []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			tail = args[i+1:] // positional, whatever they look like
			i = len(args)
		case a == "-o" || strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--") && len(a) > 2:
			list := strings.TrimPrefix(a, "-o")
			if a == "-o" {
				if i+1 >= len(args) {
					return nil, nil, usageError("-o needs a value")
				}
				i++
				list = args[i]
			}
			exp, err := expandArgs([]string{"-o", list})
			if err != nil {
				return nil, nil, usageError("%v", err)
			}
			raw = append(raw, exp...)
		default:
			raw = append(raw, a)
		}
	}
	set := flag.NewFlagSet(name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(set); err != nil {
			return nil, nil, err
		}
	}
	var pos []string
	for {
		if err := set.Parse(raw); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, commandHelp(c)
			}
			return nil, nil, flagError(name, err)
		}
		rest := set.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		raw = rest[1:]
	}
	pos = append(pos, tail...)
	if h := set.Lookup("help"); h != nil && h.Value.String() == "true" {
		return nil, nil, commandHelp(c)
	}
	return cli.NewContext(c.App, set, c), pos, nil
}

// commandHelp prints the running command's help.
func commandHelp(c *cli.Context) error {
	cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
	return nil
}

// shareExpiry reads --expires: seconds or a duration, 1 s to max.
func shareExpiry(c *cli.Context, max time.Duration) (time.Duration, error) {
	s := c.String("expires")
	d, err := parseDuration(s)
	if err != nil {
		return 0, usageError("--expires: %v", err)
	}
	if d < time.Second || d > max {
		return 0, usageError("--expires: %s is not between 1s and %s", s, max)
	}
	return d.Truncate(time.Second), nil
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

// askMount sends a sharing request to the mount holding path and returns
// its answer.
func askMount(path, name string) (string, error) {
	if len(name) > xattrNameMax {
		return "", cli.Exit(fmt.Sprintf("the request is %d bytes, more than the %d an extended attribute name may have: use a shorter name or fewer options",
			len(name), xattrNameMax), 2)
	}
	v, err := getControlXattr(path, name)
	if err != nil {
		return "", mountError(path, err)
	}
	return v, nil
}

// getControlXattr reads the virtual attribute name of path, a request to
// the mount's daemon, and returns its answer or the errno.
func getControlXattr(path, name string) (string, error) {
	buf := make([]byte, 64<<10) // the kernel's limit on a value
	for {
		n, err := syscall.Getxattr(path, name, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
}

// mountError explains a failed sharing request.
func mountError(path string, err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return cli.Exit(fmt.Sprintf("%s: %v", path, err), 1)
	}
	switch errno {
	case syscall.ENODATA, syscall.ENOTSUP:
		return cli.Exit(fmt.Sprintf("%s is not in an ossmount mount (or the mount is too old to share): for a bucket path use oss://BUCKET/KEY", path), 1)
	case syscall.EACCES, syscall.EPERM:
		return cli.Exit(fmt.Sprintf("%s: permission denied (the mount lets you share only what you may read, or upload into directories you may write; or its credentials have expired)", path), 1)
	case syscall.EISDIR:
		return cli.Exit(fmt.Sprintf("%s is a directory: use ossmount post-policy to let browsers upload into it", path), 2)
	case syscall.ENOTDIR:
		return cli.Exit(fmt.Sprintf("%s is not a directory", path), 2)
	case syscall.EROFS:
		return cli.Exit(fmt.Sprintf("%s: the mount is read-only", path), 1)
	case syscall.EBUSY:
		return cli.Exit(fmt.Sprintf("%s is still being written and is not in the bucket yet: close it first", path), 1)
	case syscall.EINVAL:
		return cli.Exit(fmt.Sprintf("%s: the mount refused the request as invalid (a symlink, or a bad option value)", path), 2)
	case syscall.ERANGE:
		return cli.Exit(fmt.Sprintf("%s: the request or its answer is too long", path), 1)
	case syscall.ENOENT:
		return cli.Exit(fmt.Sprintf("%s: no such file", path), 1)
	}
	return cli.Exit(fmt.Sprintf("%s: %v", path, errno), 1)
}

// directClient builds a client for bucket from the mount options (for
// oss:// paths); close releases the credentials source.
func directClient(c *cli.Context, bucket string) (*ossapi.Client, func(), error) {
	v := &values{c: c}
	_, ocfg, _ := buildConfigs(v, bucket, "")
	if v.err != nil {
		return nil, nil, usageError("%v", v.err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	creds, closeCreds, err := credentialsFor(c.Context, v, bucket, log)
	if err != nil {
		return nil, nil, err
	}
	ocfg.Credentials = creds
	client, err := ossapi.New(ocfg)
	if err != nil {
		closeCreds()
		return nil, nil, cli.Exit(fmt.Sprintf("client: %v", err), 1)
	}
	return client, closeCreds, nil
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

func presignAction(c *cli.Context, args []string) error {
	if len(args) != 1 {
		return usageError("usage: ossmount presign [--expires SECONDS] [--download-as NAME] [--inline] [--content-type TYPE] [--sigv1] PATH")
	}
	path := args[0]
	exp, err := shareExpiry(c, ossapi.MaxPresignExpiry)
	if err != nil {
		return err
	}
	dl, inline, ct, v1 := c.String("download-as"), c.Bool("inline"), c.String("content-type"), c.Bool("sigv1")
	if _, ok := fs.ContentDisposition("attachment", dl); !ok {
		return usageError("--download-as: %q is not a usable file name (control characters or invalid UTF-8)", dl)
	}
	if strings.HasPrefix(path, "oss://") {
		return presignDirect(c, path, exp, dl, inline, ct, v1)
	}
	st, err := os.Stat(path)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if st.IsDir() {
		return mountError(path, syscall.EISDIR)
	}
	params := [][2]string{{"exp", strconv.FormatInt(int64(exp/time.Second), 10)}, {"dl", dl}, {"ct", ct}}
	if inline {
		params = append(params, [2]string{"inline", "1"})
	}
	if v1 {
		params = append(params, [2]string{"v1", "1"})
	}
	answer, err := askMount(path, "user.oss.presign"+shareQuery(params))
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(answer, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "http") {
		return cli.Exit("the mount gave an answer that is not a URL", 1)
	}
	var expires time.Time
	clipped := false
	for _, l := range lines[1:] {
		k, val, _ := strings.Cut(l, "=")
		switch k {
		case "expires":
			expires, _ = time.Parse(time.RFC3339, val)
		case "clipped":
			clipped = val == "1"
		}
	}
	fmt.Println(lines[0])
	if clipped {
		warnClipped("URL", expires, exp)
	}
	return nil
}

func presignDirect(c *cli.Context, path string, exp time.Duration, dl string, inline bool, ct string, v1 bool) error {
	bucket, key, err := splitOSSPath(path)
	if err != nil {
		return usageError("%v", err)
	}
	if key == "" || strings.HasSuffix(key, "/") {
		return usageError("%s names no object (oss://BUCKET/KEY)", path)
	}
	client, closeCreds, err := directClient(c, bucket)
	if err != nil {
		return err
	}
	defer closeCreds()
	req := ossapi.PresignRequest{Key: key, Method: "GET", Expires: exp, ResponseContentType: ct, SignatureV1: v1}
	if dl != "" || inline {
		kind := "attachment"
		if inline {
			kind = "inline"
		}
		req.ResponseContentDisposition, _ = fs.ContentDisposition(kind, dl)
	}
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	defer cancel()
	start := time.Now()
	res, err := client.PresignClipped(ctx, req)
	if err != nil {
		return cli.Exit(fmt.Sprintf("presign %s: %v", path, err), 1)
	}
	fmt.Println(res.URL)
	if res.Expiration.Before(start.Add(exp).Add(-time.Second)) {
		warnClipped("URL", res.Expiration, exp)
	}
	return nil
}

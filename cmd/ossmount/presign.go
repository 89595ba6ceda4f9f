package main

// ossmount presign: a signed GET URL for a file.
//
// For a path inside a mount the signing is done by the mount's daemon,
// with its own current credentials, through a virtual extended attribute
// (control.go, fs/share.go), after the daemon checked that the caller may
// read the file. For oss://BUCKET/KEY the command builds a client from the
// same options as a mount (endpoint, region, credentials...).

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/ossapi"
)

func presignCommand() *cli.Command {
	return &cli.Command{
		Name:      "presign",
		Usage:     "print a signed URL that downloads a file without credentials",
		ArgsUsage: "PATH (a file in a mount, or oss://BUCKET/KEY)",
		Description: `For a file in a mount, the mount signs the URL with its own current credentials, after
checking that you may read the file. A URL signed with temporary (STS) credentials stops
working when they expire: its expiry is brought forward and a warning is printed.
Signature V4 unless --sigv1. For oss://BUCKET/KEY give the mount's client and credential
options (--endpoint, --region, -o ...).`,
		Flags: shareFlags(
			option{name: "download-as", group: sharing, kind: kString, usage: "make browsers download the file under this name (Content-Disposition: attachment)"},
			option{name: "inline", group: sharing, kind: kBool, usage: "ask browsers to show the file (Content-Disposition: inline)"},
			option{name: "content-type", group: sharing, kind: kString, usage: "Content-Type of the response"},
		),
		Action: shareAction("ossmount presign [--expires SECONDS] [--download-as NAME] [--inline] [--content-type TYPE] [--sigv1] PATH",
			ossapi.MaxPresignExpiry, newPresignRequest),
	}
}

// presignRequest is a presign command line.
type presignRequest struct {
	*shareRequest
	downloadAs, contentType string
	inline                  bool
}

// presignAnswer is a signed URL and when it stops working; clipped when
// temporary credentials brought that forward.
type presignAnswer struct {
	url     string
	expires time.Time
	clipped bool
}

// newPresignRequest reads presign's own options.
func newPresignRequest(sr *shareRequest) (sharer[presignAnswer], error) {
	r := presignRequest{shareRequest: sr, downloadAs: sr.v.str("download-as"), contentType: sr.v.str("content-type"), inline: sr.v.bool("inline")}
	if _, ok := fs.ContentDisposition("attachment", r.downloadAs); !ok {
		return nil, usageError("--download-as: %q is not a usable file name (control characters or invalid UTF-8)", r.downloadAs)
	}
	return r, nil
}

// show prints the URL, and warns when it expires before the time asked.
func (r presignRequest) show(a presignAnswer) error {
	fmt.Println(a.url)
	if a.clipped {
		warnClipped("URL", a.expires, r.expires)
	}
	return nil
}

// ask has the mount holding the file sign the URL.
func (r presignRequest) ask() (presignAnswer, error) {
	answer, err := r.askMount("presign", false, [2]string{"dl", r.downloadAs}, [2]string{"ct", r.contentType},
		[2]string{"inline", boolParam(r.inline)})
	if err != nil {
		return presignAnswer{}, err
	}
	lines := strings.Split(strings.TrimRight(answer, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "http") {
		return presignAnswer{}, cli.Exit("the mount gave an answer that is not a URL", 1)
	}
	a := presignAnswer{url: lines[0]}
	for _, l := range lines[1:] {
		k, val, _ := strings.Cut(l, "=")
		switch k {
		case "expires":
			a.expires, _ = time.Parse(time.RFC3339, val)
		case "clipped":
			a.clipped = val == "1"
		}
	}
	return a, nil
}

// target checks that the KEY of an oss://BUCKET/KEY path names an object.
func (r presignRequest) target(key string) (string, error) {
	if key == "" || strings.HasSuffix(key, "/") {
		return "", usageError("%s names no object (oss://BUCKET/KEY)", r.path)
	}
	return key, nil
}

// sign signs the URL of key here (signHere).
func (r presignRequest) sign(ctx context.Context, client *ossapi.Client, key string) (presignAnswer, error) {
	req := ossapi.PresignRequest{Key: key, Method: "GET", Expires: r.expires, ResponseContentType: r.contentType, SignatureV1: r.v1}
	if r.downloadAs != "" || r.inline {
		kind := "attachment"
		if r.inline {
			kind = "inline"
		}
		req.ResponseContentDisposition, _ = fs.ContentDisposition(kind, r.downloadAs)
	}
	start := time.Now()
	res, err := client.PresignClipped(ctx, req)
	if err != nil {
		return presignAnswer{}, err
	}
	return presignAnswer{res.URL, res.Expiration, res.Expiration.Before(start.Add(r.expires).Add(-time.Second))}, nil
}

package main

// ossmount post-policy: the form fields (or a ready HTML page) with which a
// browser uploads files into a directory of the bucket (OSS PostObject),
// signed by the mount's daemon for a directory in a mount (after it
// checked that the caller may write there), or from the mount options for
// oss://BUCKET/PREFIX/.

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/ossapi"
)

func postPolicyCommand() *cli.Command {
	return &cli.Command{
		Name:      "post-policy",
		Usage:     "print signed form fields (JSON) or an HTML page for browser uploads into a directory",
		ArgsUsage: "DIR (a directory in a mount, or oss://BUCKET/PREFIX/)",
		Description: `Prints {"url", "prefix", "fields", "expiration", "clipped", "policy_document"}: POST the
fields, then the file as the last field named "file", as multipart/form-data to url. Any key
under the prefix is accepted. For a directory in a mount the mount signs with its own
current credentials after checking that you may write the directory. Signature V4 unless
--sigv1. Browsers posting from a page on another origin need a CORS rule on the bucket.`,
		Flags: shareFlags(
			option{name: "max-size", group: sharing, kind: kSize, usage: "largest file accepted, e.g. 10M (content-length-range)"},
			option{name: "content-type", group: sharing, kind: kString, usage: "Content-Type required of uploads; a prefix when it ends in / (image/)"},
			option{name: "keep-name", group: sharing, kind: kBool, usage: "store files under their own names (key ${filename}) instead of random names"},
			option{name: "html", group: sharing, kind: kBool, usage: "print a ready HTML upload page instead of JSON"},
		),
		Action: shareAction("ossmount post-policy [--expires SECONDS] [--max-size SIZE] [--content-type TYPE] [--keep-name] [--sigv1] [--html] DIR",
			ossapi.MaxPostPolicyExpiry, newPostPolicyRequest),
	}
}

// postPolicyRequest is a post-policy command line.
type postPolicyRequest struct {
	*shareRequest
	maxSize     int64
	contentType string
	keepName    bool
}

// newPostPolicyRequest reads post-policy's own options.
func newPostPolicyRequest(sr *shareRequest) (sharer[*fs.PostPolicyAnswer], error) {
	r := postPolicyRequest{shareRequest: sr, maxSize: sr.v.size("max-size"), contentType: sr.v.str("content-type"), keepName: sr.v.bool("keep-name")}
	if sr.v.given("max-size") && (r.maxSize <= 0 || r.maxSize > 5<<30) {
		return nil, usageError("--max-size: %q is not a size between 1 byte and 5G", sr.v.str("max-size"))
	}
	if r.contentType != "" && !ossapi.ValidHeaderValue(r.contentType) {
		return nil, usageError("--content-type: %q is not a valid header value", r.contentType)
	}
	return r, nil
}

// show warns when the policy expires before the time asked, and prints it
// as JSON or (--html) as an upload page.
func (r postPolicyRequest) show(ans *fs.PostPolicyAnswer) error {
	if ans.Clipped {
		t, _ := time.Parse(time.RFC3339, ans.Expiration)
		warnClipped("policy", t, r.expires)
	}
	if r.v.bool("html") {
		return uploadPage(os.Stdout, ans, r.keepName)
	}
	out, err := json.MarshalIndent(ans, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// ask has the mount holding the directory sign the policy.
func (r postPolicyRequest) ask() (*fs.PostPolicyAnswer, error) {
	var max string
	if r.maxSize > 0 {
		max = strconv.FormatInt(r.maxSize, 10)
	}
	answer, err := r.askMount("post-policy", true, [2]string{"ct", r.contentType}, [2]string{"max", max},
		[2]string{"keep", boolParam(r.keepName)})
	if err != nil {
		return nil, err
	}
	var ans fs.PostPolicyAnswer
	if err := json.Unmarshal([]byte(answer), &ans); err != nil || ans.URL == "" {
		return nil, cli.Exit("the mount gave an answer that is not a POST policy", 1)
	}
	return &ans, nil
}

// target makes the PREFIX of an oss://BUCKET/PREFIX/ path a directory's
// (with one trailing slash; "" for the whole bucket).
func (r postPolicyRequest) target(prefix string) (string, error) {
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		prefix += "/"
	}
	return prefix, nil
}

// sign signs the policy of prefix here (signHere).
func (r postPolicyRequest) sign(ctx context.Context, client *ossapi.Client, prefix string) (*fs.PostPolicyAnswer, error) {
	req := ossapi.PostPolicyRequest{Prefix: prefix, Expires: r.expires, MaxSize: r.maxSize, ContentType: r.contentType, SignatureV1: r.v1}
	if r.keepName {
		req.Key = prefix + "${filename}"
	}
	p, err := client.SignPostPolicy(ctx, req)
	if err != nil {
		return nil, err
	}
	return &fs.PostPolicyAnswer{URL: p.URL, Prefix: prefix, Fields: p.Fields, Expiration: p.Expiration.UTC().Format(time.RFC3339),
		Clipped: p.Clipped, PolicyDocument: p.Policy}, nil
}

type formField struct{ Name, Value string }

var uploadTemplate = template.Must(template.New("upload").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Upload to {{.Prefix}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}#status{white-space:pre-wrap}</style>
</head>
<body>
<h1>Upload a file</h1>
<p>Files go to <code>{{.Prefix}}</code>{{if .MaxSize}} (at most {{.MaxSize}}){{end}}. This page works until {{.Expiration}}.</p>
<form id="upload" action="{{.URL}}" method="post" enctype="multipart/form-data">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<input type="file" name="file" required>
<button type="submit">Upload</button>
</form>
<p id="status"></p>
<script>
"use strict";
const form = document.getElementById("upload");
const keepName = {{.KeepName}};
const prefix = {{.Prefix}};
form.addEventListener("submit", async (ev) => {
  const status = document.getElementById("status");
  const file = form.elements["file"].files[0];
  if (!file) return;
  if (!keepName) {
    // A fresh random name per file, keeping the extension: the policy
    // accepts any key under the prefix.
    const rnd = Array.from(crypto.getRandomValues(new Uint8Array(12)), b => b.toString(16).padStart(2, "0")).join("");
    const dot = file.name.lastIndexOf(".");
    form.elements["key"].value = prefix + rnd + (dot > 0 ? file.name.slice(dot) : "");
  }
  if (!window.fetch) return; // plain form submission
  ev.preventDefault();
  status.textContent = "Uploading " + file.name + "...";
  try {
    const resp = await fetch(form.action, {method: "POST", body: new FormData(form)});
    const text = await resp.text();
    status.textContent = resp.ok ? "Uploaded as " + form.elements["key"].value.replace("${filename}", file.name) : "Upload failed (" + resp.status + "):\n" + text;
  } catch (e) {
    // Without a CORS rule allowing this page's origin the browser sends
    // the upload but hides OSS's answer.
    status.textContent = "Sent, but the browser hid the answer (" + e.message + "): a CORS rule on the bucket must allow this page's origin.";
  }
});
</script>
</body>
</html>
`))

// uploadPage writes a self-contained HTML upload form for ans.
func uploadPage(w *os.File, ans *fs.PostPolicyAnswer, keep bool) error {
	p := &ossapi.PostPolicy{Fields: ans.Fields}
	var fields []formField
	for _, k := range p.FieldOrder() {
		fields = append(fields, formField{k, ans.Fields[k]})
	}
	maxSize := ""
	var doc struct {
		Conditions []json.RawMessage `json:"conditions"`
	}
	if json.Unmarshal([]byte(ans.PolicyDocument), &doc) == nil {
		for _, c := range doc.Conditions {
			var arr []any
			if json.Unmarshal(c, &arr) == nil && len(arr) == 3 && arr[0] == "content-length-range" {
				if hi, ok := arr[2].(float64); ok {
					maxSize = humanSize(int64(hi))
				}
			}
		}
	}
	return uploadTemplate.Execute(w, map[string]any{
		"URL": ans.URL, "Prefix": ans.Prefix, "Fields": fields, "Expiration": ans.Expiration,
		"KeepName": keep, "MaxSize": maxSize,
	})
}

func humanSize(n int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + " " + u.s
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

package main

// ossmount post-policy: the form fields (or a ready HTML page) with which a
// browser uploads files into a directory of the bucket (OSS PostObject),
// signed by the mount's daemon for a directory in a mount, or from the
// mount options for oss://BUCKET/PREFIX/.

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/ossapi"
)

func postPolicyCommand() *cli.Command {
	own := []cli.Flag{
		&cli.StringFlag{Name: "expires", Value: "1800", Usage: "validity: seconds or a duration like 2h (at most 7 days)", Category: "sharing"},
		&cli.StringFlag{Name: "max-size", Usage: "largest file accepted, e.g. 10M (content-length-range)", Category: "sharing"},
		&cli.StringFlag{Name: "content-type", Usage: "Content-Type required of uploads; a prefix when it ends in / (image/)", Category: "sharing"},
		&cli.BoolFlag{Name: "keep-name", Usage: "store files under their own names (key ${filename}) instead of random names", Category: "sharing"},
		&cli.BoolFlag{Name: "html", Usage: "print a ready HTML upload page instead of JSON", Category: "sharing"},
	}
	return &cli.Command{
		Name:      "post-policy",
		Usage:     "print signed form fields (JSON) or an HTML page for browser uploads into a directory",
		ArgsUsage: "DIR (a directory in a mount, or oss://BUCKET/PREFIX/)",
		Description: "Prints {\"url\", \"prefix\", \"fields\", \"expiration\", \"clipped\", \"policy_document\"}: POST the\n" +
			"fields, then the file as the last field named \"file\", as multipart/form-data to url. Any key\n" +
			"under the prefix is accepted. For a directory in a mount the mount signs with its own\n" +
			"current credentials after checking that you may write the directory. Signature V4 unless\n" +
			"--sigv1. Browsers posting from a page on another origin need a CORS rule on the bucket.",
		Flags:           append(own, shareTableFlags()...),
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			sc, args, err := parseShareArgs(c, "post-policy")
			if sc == nil || err != nil {
				return err
			}
			return postPolicyAction(sc, args)
		},
	}
}

func postPolicyAction(c *cli.Context, args []string) error {
	if len(args) != 1 {
		return usageError("usage: ossmount post-policy [--expires SECONDS] [--max-size SIZE] [--content-type TYPE] [--keep-name] [--sigv1] [--html] DIR")
	}
	path := args[0]
	exp, err := shareExpiry(c, ossapi.MaxPostPolicyExpiry)
	if err != nil {
		return err
	}
	var maxSize int64
	if s := c.String("max-size"); s != "" {
		if maxSize, err = parseSize(s); err != nil || maxSize <= 0 || maxSize > 5<<30 {
			return usageError("--max-size: %q is not a size between 1 byte and 5G", s)
		}
	}
	ct, keep, v1 := c.String("content-type"), c.Bool("keep-name"), c.Bool("sigv1")
	if ct != "" && !ossapi.ValidHeaderValue(ct) {
		return usageError("--content-type: %q is not a valid header value", ct)
	}
	var ans *fs.PostPolicyAnswer
	if strings.HasPrefix(path, "oss://") {
		ans, err = postPolicyDirect(c, path, exp, maxSize, ct, keep, v1)
	} else {
		ans, err = postPolicyMount(path, exp, maxSize, ct, keep, v1)
	}
	if err != nil {
		return err
	}
	if ans.Clipped {
		t, _ := time.Parse(time.RFC3339, ans.Expiration)
		warnClipped("policy", t, exp)
	}
	if c.Bool("html") {
		return uploadPage(os.Stdout, ans, keep)
	}
	out, err := json.MarshalIndent(ans, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

func postPolicyMount(path string, exp time.Duration, maxSize int64, ct string, keep, v1 bool) (*fs.PostPolicyAnswer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, cli.Exit(err.Error(), 1)
	}
	if !st.IsDir() {
		return nil, mountError(path, syscall.ENOTDIR)
	}
	params := [][2]string{{"exp", strconv.FormatInt(int64(exp/time.Second), 10)}, {"ct", ct}}
	if maxSize > 0 {
		params = append(params, [2]string{"max", strconv.FormatInt(maxSize, 10)})
	}
	if keep {
		params = append(params, [2]string{"keep", "1"})
	}
	if v1 {
		params = append(params, [2]string{"v1", "1"})
	}
	answer, err := askMount(path, "user.oss.post-policy"+shareQuery(params))
	if err != nil {
		return nil, err
	}
	var ans fs.PostPolicyAnswer
	if err := json.Unmarshal([]byte(answer), &ans); err != nil || ans.URL == "" {
		return nil, cli.Exit("the mount gave an answer that is not a POST policy", 1)
	}
	return &ans, nil
}

func postPolicyDirect(c *cli.Context, path string, exp time.Duration, maxSize int64, ct string, keep, v1 bool) (*fs.PostPolicyAnswer, error) {
	bucket, prefix, err := splitOSSPath(path)
	if err != nil {
		return nil, usageError("%v", err)
	}
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		prefix += "/"
	}
	client, closeCreds, err := directClient(c, bucket)
	if err != nil {
		return nil, err
	}
	defer closeCreds()
	req := ossapi.PostPolicyRequest{Prefix: prefix, Expires: exp, MaxSize: maxSize, ContentType: ct, SignatureV1: v1}
	if keep {
		req.Key = prefix + "${filename}"
	}
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	defer cancel()
	p, err := client.SignPostPolicy(ctx, req)
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("post-policy %s: %v", path, err), 1)
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

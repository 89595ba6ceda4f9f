package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/ossapi"
)

// uploadsCommand is `ossmount uploads list|abort`: the bucket's incomplete
// multipart uploads (invisible, but they hold storage), and the data of
// failed uploads kept in the cache directory.
func uploadsCommand() *cli.Command {
	sub := func(name, usage string, abort bool) *cli.Command {
		own := []cli.Flag{
			&cli.StringFlag{Name: "older-than", Usage: "only uploads started (and kept data written) longer ago than this: seconds or a duration like 24h", Category: "uploads"},
		}
		if abort {
			own = append(own, &cli.BoolFlag{Name: "all", Usage: "also abort uploads whose parts hold kept data (only_in_upload ranges)", Category: "uploads"})
		}
		return &cli.Command{
			Name:      name,
			Usage:     usage,
			ArgsUsage: "BUCKET[:/PREFIX]",
			Description: "Give the client and credential options of the mount (--endpoint, --region, -o ...), and its\n" +
				"cache_dir when it set one. Uploads a running mount is writing are listed, never aborted.",
			Flags:           append(own, uploadsTableFlags()...),
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				sc, args, err := parseShareArgs(c, "uploads "+name)
				if sc == nil || err != nil {
					return err
				}
				return uploadsAction(sc, args, abort)
			},
		}
	}
	return &cli.Command{
		Name:  "uploads",
		Usage: "list or abort a bucket's incomplete multipart uploads; list the data of failed uploads kept locally",
		Subcommands: []*cli.Command{
			sub("list", "list incomplete multipart uploads and kept local data (key, size, reason)", false),
			sub("abort", "abort incomplete multipart uploads (kept local data is never removed)", true),
		},
	}
}

// uploadsTableFlags are the sharing commands' flags (client, credentials,
// -o) and cache_dir.
func uploadsTableFlags() []cli.Flag {
	out := shareTableFlags()
	for _, f := range flags() {
		if f.Names()[0] == "cache_dir" {
			out = append(out, f)
		}
	}
	return out
}

func uploadsAction(c *cli.Context, args []string, abort bool) error {
	if len(args) != 1 {
		return usageError("usage: ossmount uploads list|abort [--older-than D] [client options] BUCKET[:/PREFIX]")
	}
	bucket, prefix, err := parseSource(args[0])
	if err != nil {
		return usageError("%v", err)
	}
	var olderThan time.Duration
	if s := c.String("older-than"); s != "" {
		if olderThan, err = parseDuration(s); err != nil {
			return usageError("--older-than: %v", err)
		}
	}
	client, closeCreds, err := directClient(c, bucket)
	if err != nil {
		return err
	}
	defer closeCreds()
	v := &values{c: c}
	_, ocfg, _ := buildConfigs(v, bucket, prefix)
	id := fs.StoreID{Endpoint: storeEndpoint(ocfg), Bucket: bucket}
	cacheDir := v.str("cache_dir")
	if cacheDir == "" {
		cacheDir = defaultCacheDir(id.Endpoint, bucket)
	}
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Minute)
	defer cancel()
	ups, err := client.ListUploads(ctx, prefix)
	if err != nil {
		return cli.Exit(fmt.Sprintf("list multipart uploads of %s: %v", bucket, err), 1)
	}
	now := time.Now()
	old := func(t time.Time) bool { return olderThan == 0 || now.Sub(t) >= olderThan }
	live := map[string]bool{}
	for _, r := range fs.ListRecords(cacheDir, id) {
		live[r.UploadID] = r.Live
	}
	var kept []fs.KeptFile
	inKept := map[string]bool{}
	for _, k := range fs.ListKept(cacheDir, id) {
		if strings.HasPrefix(k.Key, prefix) && old(k.Time) {
			kept = append(kept, k)
		}
		if k.UploadID != "" {
			inKept[k.UploadID] = true
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "INCOMPLETE MULTIPART UPLOADS (oss://%s/%s)\n", bucket, prefix)
	fmt.Fprintln(tw, "INITIATED\tAGE\tUPLOAD ID\tKEY\tNOTE")
	failed := 0
	for _, u := range ups {
		if !old(u.Initiated) {
			continue
		}
		note := ""
		switch {
		case live[u.UploadID]:
			note = "being written by a running mount"
		case inKept[u.UploadID]:
			note = "holds kept data (only_in_upload)"
		}
		if abort && !live[u.UploadID] && (!inKept[u.UploadID] || c.Bool("all")) {
			if err := client.AbortMultipart(ctx, u.Key, u.UploadID); err != nil && ossapi.KindOf(err) != ossapi.KindNotExist {
				note = "abort failed: " + err.Error()
				failed++
			} else {
				note = "aborted"
				fs.ForgetRecords(cacheDir, u.UploadID)
			}
		} else if abort && note != "" {
			note += ": left alone"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Initiated.UTC().Format(time.RFC3339), now.Sub(u.Initiated).Round(time.Second), u.UploadID, u.Key, note)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "KEPT LOCAL DATA (%s)\n", cacheDir)
	fmt.Fprintln(tw, "TIME\tKEY\tSIZE\tNOT ON OSS\tPATH\tREASON")
	for _, k := range kept {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", k.Time.UTC().Format(time.RFC3339), k.Key, k.Size, rangesText(k), k.Path, k.Reason)
	}
	tw.Flush()
	if failed > 0 {
		return cli.Exit(fmt.Sprintf("%d uploads could not be aborted", failed), 1)
	}
	return nil
}

// rangesText says which bytes of kept data did not reach OSS.
func rangesText(k fs.KeptFile) string {
	var parts []string
	for _, r := range k.Changed {
		parts = append(parts, r.String())
	}
	s := strings.Join(parts, ",")
	if s == "" {
		s = "none"
	}
	if k.UploadID != "" {
		var in []string
		for _, r := range k.InUpload {
			in = append(in, r.String())
		}
		s += " (" + strings.Join(in, ",") + " only in upload " + k.UploadID + ")"
	}
	return s
}

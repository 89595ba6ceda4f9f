package main

// ossmount uploads: a bucket's incomplete multipart uploads, listed or
// aborted, and the kept data of failed uploads in the cache directory.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

// uploadsCommand is `ossmount uploads list|abort`: the bucket's incomplete
// multipart uploads (invisible, but they hold storage), and the data of
// failed uploads kept in the cache directory.
func uploadsCommand() *cli.Command {
	sub := func(name, usage string, abort bool) *cli.Command {
		own := []option{{name: "older-than", group: "uploads", kind: kDuration,
			usage: "only uploads started (and kept data written) longer ago than this: seconds or a duration like 24h"}}
		if abort {
			own = append(own, option{name: "all", group: "uploads", kind: kBool, usage: "also abort uploads whose parts hold kept data (only_in_upload ranges)"})
		}
		// The client and credential options, and the mount's cache_dir.
		own = append(own, *lookupOption("cache_dir"))
		return &cli.Command{
			Name:      name,
			Usage:     usage,
			ArgsUsage: "BUCKET[:/PREFIX]",
			Description: `Give the client and credential options of the mount (--endpoint, --region, -o ...), and its
cache_dir when it set one. Uploads a running mount is writing are listed, never aborted.`,
			Flags:  append(optionFlags(own), tableFlags(gCred, gCli)...),
			Action: func(c *cli.Context) error { return uploadsAction(c, abort) },
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

// uploadsList is what `ossmount uploads` looks at: the bucket's uploads
// under a prefix and the kept data of the cache directory.
type uploadsList struct {
	client   *ossapi.Client
	bucket   string
	prefix   string
	cacheDir string
	id       engine.StoreID
	now      time.Time
	// olderThan: only what is at least this old (0: everything).
	olderThan time.Duration
}

func (u *uploadsList) old(t time.Time) bool { return u.olderThan == 0 || u.now.Sub(t) >= u.olderThan }

func uploadsAction(c *cli.Context, abort bool) error {
	if c.NArg() != 1 {
		return usageError("usage: ossmount uploads list|abort [--older-than D] [client options] BUCKET[:/PREFIX]")
	}
	bucket, prefix, err := parseSource(c.Args().First())
	if err != nil {
		return usageError("%v", err)
	}
	client, ocfg, closeCreds, err := directClient(c, bucket)
	if err != nil {
		return err
	}
	defer closeCreds()
	v := values{c}
	u := &uploadsList{client: client, bucket: bucket, prefix: prefix, cacheDir: v.str("cache_dir"),
		id: engine.StoreID{Endpoint: storeEndpoint(ocfg), Bucket: bucket}, now: time.Now(), olderThan: v.dur("older-than")}
	if u.cacheDir == "" {
		u.cacheDir = defaultCacheDir(u.id.Endpoint, bucket)
	}
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Minute)
	defer cancel()
	ups, err := client.ListUploads(ctx, prefix)
	if err != nil {
		return cli.Exit(fmt.Sprintf("list multipart uploads of %s: %v", bucket, err), 1)
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', 0)
	kept, inKept := u.kept()
	failed := u.printUploads(ctx, tw, ups, inKept, abort, v.bool("all"))
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "KEPT LOCAL DATA (%s)\n", u.cacheDir)
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

// kept returns the kept files under the prefix old enough to list, and
// the uploads that any kept file's data is in.
func (u *uploadsList) kept() (kept []engine.KeptFile, inKept map[string]bool) {
	inKept = map[string]bool{}
	for _, k := range engine.ListKept(u.cacheDir, u.id) {
		if strings.HasPrefix(k.Key, u.prefix) && u.old(k.Time) {
			kept = append(kept, k)
		}
		if k.UploadID != "" {
			inKept[k.UploadID] = true
		}
	}
	return kept, inKept
}

// printUploads lists the uploads old enough, aborting them when abort
// says so, except those a running mount is writing and, unless all,
// those holding kept data. It returns how many aborts failed.
func (u *uploadsList) printUploads(ctx context.Context, tw *tabwriter.Writer, ups []ossapi.Upload, inKept map[string]bool, abort, all bool) (failed int) {
	live := map[string]bool{}
	for _, r := range engine.ListRecords(u.cacheDir, u.id) {
		live[r.UploadID] = r.Live
	}
	fmt.Fprintf(tw, "INCOMPLETE MULTIPART UPLOADS (oss://%s/%s)\n", u.bucket, u.prefix)
	fmt.Fprintln(tw, "INITIATED\tAGE\tUPLOAD ID\tKEY\tNOTE")
	for _, up := range ups {
		if !u.old(up.Initiated) {
			continue
		}
		note := ""
		switch {
		case live[up.UploadID]:
			note = "being written by a running mount"
		case inKept[up.UploadID]:
			note = "holds kept data (only_in_upload)"
		}
		if abort && !live[up.UploadID] && (!inKept[up.UploadID] || all) {
			if err := u.client.AbortMultipart(ctx, up.Key, up.UploadID); err != nil && ossapi.KindOf(err) != ossapi.KindNotExist {
				note = "abort failed: " + err.Error()
				failed++
			} else {
				note = "aborted"
				engine.ForgetRecords(u.cacheDir, up.UploadID)
			}
		} else if abort && note != "" {
			note += ": left alone"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", up.Initiated.UTC().Format(time.RFC3339), u.now.Sub(up.Initiated).Round(time.Second), up.UploadID, up.Key, note)
	}
	return failed
}

// rangesText says which bytes of kept data did not reach OSS.
func rangesText(k engine.KeptFile) string {
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

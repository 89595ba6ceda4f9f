// Command osslocal runs the OSS emulator of package ossapi/osstest as a
// standalone server on a loopback address, for manual testing and for
// clients that are not written in Go.
//
//	OSSLOCAL_ACCESS_KEY_ID=ak OSSLOCAL_ACCESS_KEY_SECRET=sk osslocal --listen 127.0.0.1:9000 --bucket test
//
// It prints "osslocal: listening on http://127.0.0.1:PORT" on stdout once it
// accepts requests and runs until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty value")
	}
	*l = append(*l, v)
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("osslocal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		buckets, payers listFlag
		listen          = fs.String("listen", "127.0.0.1:9000", "loopback address to listen on (port 0 picks a free port)")
		region          = fs.String("region", "cn-hangzhou", "region checked in V4 signatures")
		dataDir         = fs.String("data-dir", "", "directory keeping the objects across restarts (default: memory)")
		akFlag          = fs.String("access-key-id", "", "access key id accepted (prefer $OSSLOCAL_ACCESS_KEY_ID)")
		skFlag          = fs.String("access-key-secret", "", "access key secret (prefer $OSSLOCAL_ACCESS_KEY_SECRET)")
		verbose         = fs.Bool("v", false, "log one line per request to stderr")
	)
	fs.Var(&buckets, "bucket", "bucket to create at start (repeatable; default \"test\")")
	fs.Var(&payers, "requester-pays", "bucket that requires x-oss-request-payer: requester (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: osslocal [flags]\n\nRuns a local OSS-compatible server. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "osslocal: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ak, sk := os.Getenv("OSSLOCAL_ACCESS_KEY_ID"), os.Getenv("OSSLOCAL_ACCESS_KEY_SECRET")
	if *akFlag != "" {
		ak = *akFlag
	}
	if *skFlag != "" {
		sk = *skFlag
	}
	if ak == "" || sk == "" {
		fmt.Fprintln(stderr, "osslocal: no access keys: set OSSLOCAL_ACCESS_KEY_ID and OSSLOCAL_ACCESS_KEY_SECRET (or --access-key-id and --access-key-secret)")
		return 2
	}
	if len(buckets) == 0 {
		buckets = listFlag{"test"}
	}
	opt := osstest.Options{
		Region:        *region,
		Buckets:       buckets,
		Credentials:   map[string]string{ak: sk},
		DataDir:       *dataDir,
		Listen:        *listen,
		RequesterPays: payers,
	}
	if *verbose {
		logger := log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
		opt.Logf = logger.Printf
	}
	srv, err := osstest.NewServer(opt)
	if err != nil {
		fmt.Fprintln(stderr, "osslocal:", err)
		return 1
	}
	defer srv.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Fprintf(stdout, "osslocal: listening on %s\n", srv.URL())
	where := "memory"
	if *dataDir != "" {
		where = *dataDir
	}
	fmt.Fprintf(stderr, "osslocal: region %s, buckets %s, access key id %s, data in %s\n", opt.Region, strings.Join(buckets, ","), ak, where)
	s := <-sig
	fmt.Fprintf(stderr, "osslocal: %v, shutting down\n", s)
	return 0
}

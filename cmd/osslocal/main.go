// Command osslocal runs the OSS emulator of package ossapi/osstest as a
// standalone server on a loopback address, for manual testing and for
// clients that are not written in Go.
//
//	OSSLOCAL_ACCESS_KEY_ID=ak OSSLOCAL_ACCESS_KEY_SECRET=sk osslocal --listen 127.0.0.1:9000 --bucket test
//
// It prints "osslocal: listening on http://127.0.0.1:PORT" on stdout once it
// accepts requests and runs until SIGINT or SIGTERM.
//
// It can also play the credential-issuing side, for trying temporary
// credentials and their renewal without a cloud account (see credentialsHelp
// for what the fakes do and how to drive them: outages with SIGUSR1,
// counters with SIGUSR2).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/auth/authtest"
	"github.com/ossmount/ossmount/internal/units"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// rateFlag is a rate in bytes per second ("100MB", "1G/s").
type rateFlag int64

func (r *rateFlag) String() string { return strconv.FormatInt(int64(*r), 10) }

func (r *rateFlag) Set(v string) error {
	n, err := units.ParseRate(v)
	*r = rateFlag(n)
	return err
}

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
		runSTS          = fs.Bool("sts", false, "also run a fake STS over HTTPS (AssumeRole, AssumeRoleWithOIDC) issuing temporary credentials")
		ecsRole         = fs.String("ecs-role", "", "also run a fake ECS metadata service (an HTTP proxy, for HTTP_PROXY) offering this RAM role")
		ecsV2Only       = fs.Bool("ecs-imdsv2-only", false, "the fake ECS metadata service requires IMDSv2 session tokens")
		runURI          = fs.Bool("credentials-uri", false, "also run a fake credentials URI endpoint issuing temporary credentials")
		tokenTTL        = fs.Duration("token-ttl", time.Hour, "lifetime of every temporary credential issued by --sts, --ecs-role and --credentials-uri (whatever duration the client asks for)")
		outage          = fs.String("outage", "503", "what SIGUSR1 does to the credential services: \"503\" (answer 503 ServiceUnavailable) or \"refuse\" (close their ports: connection refused)")
	)
	fs.Var(&buckets, "bucket", "bucket to create at start (repeatable; default \"test\")")
	fs.Var(&payers, "requester-pays", "bucket that requires x-oss-request-payer: requester (repeatable)")
	var connBW, totalBW rateFlag
	latency := fs.Duration("latency", 0, "network model: delay before the first byte of every response (e.g. 15ms)")
	jitter := fs.Duration("latency-jitter", 0, "network model: vary each response's latency by up to ± this")
	fs.Var(&connBW, "conn-bandwidth", "network model: bytes per second per connection, each direction (e.g. 100MB; 0: unlimited)")
	fs.Var(&totalBW, "bandwidth", "network model: bytes per second for the whole server, each direction (e.g. 1G; 0: unlimited)")
	qps := fs.Int("qps", 0, "network model: requests accepted per second; beyond, 503 TotalQpsLimitExceeded (0: unlimited)")
	corsOrigin := fs.String("cors-allow-origin", "", "answer CORS for this origin ('*' for any) on buckets without CORS rules of their own, for browser uploads (PostObject) and presigned URLs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: osslocal [flags]\n\nRuns a local OSS-compatible server. Flags:")
		fs.PrintDefaults()
		fmt.Fprint(stderr, networkHelp)
		fmt.Fprint(stderr, credentialsHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
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
	if *tokenTTL < time.Second {
		fmt.Fprintf(stderr, "osslocal: --token-ttl %s is too short (at least 1s)\n", *tokenTTL)
		return 2
	}
	if *latency < 0 || *jitter < 0 || *qps < 0 {
		fmt.Fprintln(stderr, "osslocal: --latency, --latency-jitter and --qps cannot be negative")
		return 2
	}
	if *outage != "503" && *outage != "refuse" {
		fmt.Fprintf(stderr, "osslocal: --outage %q: want 503 or refuse\n", *outage)
		return 2
	}
	if *ecsV2Only && *ecsRole == "" {
		fmt.Fprintln(stderr, "osslocal: --ecs-imdsv2-only needs --ecs-role")
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
		Network: osstest.Network{Latency: *latency, LatencyJitter: *jitter, ConnBandwidth: int64(connBW),
			Bandwidth: int64(totalBW), QPS: *qps},
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
	if *corsOrigin != "" {
		if err := srv.SetDefaultCORS([]osstest.CORSRule{osstest.AllowOriginRule(*corsOrigin)}); err != nil {
			fmt.Fprintln(stderr, "osslocal: --cors-allow-origin:", err)
			return 2
		}
	}
	fakes, err := startFakes(stdout, srv.MintSTS, *tokenTTL, fakeConfig{
		sts: *runSTS, ecsRole: *ecsRole, ecsV2Only: *ecsV2Only, uri: *runURI, callerKeys: map[string]string{ak: sk},
	})
	defer fakes.close()
	if err != nil {
		fmt.Fprintln(stderr, "osslocal:", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2)
	fmt.Fprintf(stdout, "osslocal: listening on %s\n", srv.URL())
	where := "memory"
	if *dataDir != "" {
		where = *dataDir
	}
	fmt.Fprintf(stderr, "osslocal: region %s, buckets %s, access key id %s, data in %s\n", opt.Region, strings.Join(buckets, ","), ak, where)
	if opt.Network != (osstest.Network{}) {
		fmt.Fprintf(stderr, "osslocal: network model: %s\n", describeNetwork(opt.Network))
	}
	down := false
	for s := range sig {
		switch s {
		case syscall.SIGUSR1:
			down = !down
			if err := fakes.setDown(down, *outage == "refuse"); err != nil {
				fmt.Fprintf(stderr, "osslocal: credential services: %v\n", err)
			}
			state := "answering again"
			switch {
			case down && *outage == "refuse":
				state = "DOWN (refusing connections)"
			case down:
				state = "DOWN (answering 503)"
			}
			fmt.Fprintf(stderr, "osslocal: credential services %s\n", state)
		case syscall.SIGUSR2:
			fmt.Fprintf(stderr, "osslocal: credentials issued: %s\n", fakes.issued())
		default:
			fmt.Fprintf(stderr, "osslocal: %v, shutting down\n", s)
			return 0
		}
	}
	return 0
}

// describeNetwork says what a network model does, for the start-up line.
func describeNetwork(n osstest.Network) string {
	var parts []string
	if n.Latency > 0 || n.LatencyJitter > 0 {
		parts = append(parts, fmt.Sprintf("latency %s ±%s", n.Latency, n.LatencyJitter))
	}
	if n.ConnBandwidth > 0 {
		parts = append(parts, fmt.Sprintf("%.1f MiB/s per connection", float64(n.ConnBandwidth)/(1<<20)))
	}
	if n.Bandwidth > 0 {
		parts = append(parts, fmt.Sprintf("%.1f MiB/s in all", float64(n.Bandwidth)/(1<<20)))
	}
	if n.QPS > 0 {
		parts = append(parts, fmt.Sprintf("%d requests/s", n.QPS))
	}
	return strings.Join(parts, ", ")
}

// networkHelp follows the flags in the usage text: the network model.
const networkHelp = `
Network model (off by default), to see how a program behaves against a real
region rather than loopback: --latency is added before the first byte of
every response (after the request and its body have arrived), varied by
--latency-jitter; --conn-bandwidth limits each connection and --bandwidth
the whole server, each in both directions (RATE: bytes per second, 100MB or
100MB/s, powers of 1024); beyond --qps requests in any one second the server
answers as OSS does when an account's request rate is exceeded: 503 with
code TotalQpsLimitExceeded (the OSS SDKs retry it with backoff). For a
mid-size region seen from an ECS instance in it, for example:

  --latency 15ms --latency-jitter 5ms --conn-bandwidth 100MB --bandwidth 1G
`

// credentialsHelp ends the usage text: what the credential fakes do.
const credentialsHelp = `
Fake credential services, for trying temporary credentials and their renewal
(ossmount's or your own program's) without a cloud account. Each hands out
credentials that this server accepts until they expire and then answers
403 SecurityTokenExpired. Each prints one line "osslocal: KIND at URL (...)"
on stdout, with the settings a client needs, before the "listening on" line.

  --sts              a Security Token Service over HTTPS on a port of its own.
                     AssumeRole must be signed with the access key above (any
                     role ARN and session name); AssumeRoleWithOIDC accepts any
                     OIDC token and provider ARN (it only checks that they are
                     there). Its certificate is signed by a CA generated at
                     start: trust it with SSL_CERT_FILE=<the printed PEM
                     file>; give the address as -o sts_endpoint=HOST:PORT.
  --ecs-role NAME    the ECS instance metadata service (100.100.100.200),
                     played by an HTTP proxy: give its URL as HTTP_PROXY (and
                     keep 100.100.100.200 out of NO_PROXY). It offers the RAM
                     role NAME, answers IMDSv1 and IMDSv2 (only IMDSv2 with
                     --ecs-imdsv2-only) and refuses any other destination
                     with 403, so nothing leaves the machine.
  --credentials-uri  a credentials URI endpoint (-o credentials_uri=URL).

Tokens always live --token-ttl from the moment they are issued, whatever
duration the client asks for (DurationSeconds is ignored): short ones, such
as --token-ttl 20s, make renewal happen often.

Signals:
  SIGUSR1  toggles every fake between answering and an outage: 503
           ServiceUnavailable, or with --outage refuse, closed ports
           (connection refused) until the next SIGUSR1.
  SIGUSR2  prints on stderr how many credentials each fake has issued,
           e.g. "osslocal: credentials issued: sts 12, ecs 3".
`

// fakeConfig says which credential fakes to run.
type fakeConfig struct {
	sts        bool
	ecsRole    string
	ecsV2Only  bool
	uri        bool
	callerKeys map[string]string // keys AssumeRole must be signed with
}

// fakes are the running credential services.
type fakes struct {
	sts   *authtest.STS
	ecs   *authtest.ECSProxy
	uri   *authtest.CredURI
	caDir string
}

// startFakes starts the configured credential services, printing one line
// per service on stdout.
func startFakes(stdout io.Writer, mint authtest.Minter, ttl time.Duration, cfg fakeConfig) (*fakes, error) {
	f := &fakes{}
	var err error
	if cfg.sts {
		if f.sts, err = authtest.NewSTS(mint, ttl, cfg.callerKeys); err != nil {
			return f, fmt.Errorf("starting the STS: %v", err)
		}
		f.caDir = filepath.Dir(f.sts.CAFile())
		fmt.Fprintf(stdout, "osslocal: sts at https://%s (-o sts_endpoint=%s; trust its CA with SSL_CERT_FILE=%s; tokens live %s)\n",
			f.sts.Host(), f.sts.Host(), f.sts.CAFile(), ttl)
	}
	if cfg.ecsRole != "" {
		if f.ecs, err = authtest.NewECSProxy(mint, cfg.ecsRole, ttl); err != nil {
			return f, fmt.Errorf("starting the ECS metadata service: %v", err)
		}
		f.ecs.SetRequireIMDSv2(cfg.ecsV2Only)
		mode := "IMDSv1 and IMDSv2"
		if cfg.ecsV2Only {
			mode = "IMDSv2 only"
		}
		fmt.Fprintf(stdout, "osslocal: ecs metadata at %s (HTTP_PROXY=%s; role %s, %s; tokens live %s)\n",
			f.ecs.URL(), f.ecs.URL(), cfg.ecsRole, mode, ttl)
	}
	if cfg.uri {
		if f.uri, err = authtest.NewCredentialsURI(mint, ttl); err != nil {
			return f, fmt.Errorf("starting the credentials URI: %v", err)
		}
		fmt.Fprintf(stdout, "osslocal: credentials uri at %s (-o credentials_uri=%s; tokens live %s)\n", f.uri.URL(), f.uri.URL(), ttl)
	}
	return f, nil
}

// outageSwitch is what every fake offers to simulate an outage.
type outageSwitch interface {
	SetDown(bool)
	SetRefusing(bool) error
}

// setDown starts (down) or ends an outage of every fake: 503 answers, or
// with refuse closed ports.
func (f *fakes) setDown(down, refuse bool) error {
	var running []outageSwitch
	if f.sts != nil {
		running = append(running, f.sts)
	}
	if f.ecs != nil {
		running = append(running, f.ecs)
	}
	if f.uri != nil {
		running = append(running, f.uri)
	}
	var errs []error
	for _, s := range running {
		if refuse {
			errs = append(errs, s.SetRefusing(down))
		} else {
			s.SetDown(down)
		}
	}
	return errors.Join(errs...)
}

func (f *fakes) issued() string {
	var parts []string
	if f.sts != nil {
		parts = append(parts, fmt.Sprintf("sts %d", f.sts.Issued()))
	}
	if f.ecs != nil {
		parts = append(parts, fmt.Sprintf("ecs %d", f.ecs.Issued()))
	}
	if f.uri != nil {
		parts = append(parts, fmt.Sprintf("credentials uri %d", f.uri.Issued()))
	}
	if len(parts) == 0 {
		return "none (no credential services running)"
	}
	return strings.Join(parts, ", ")
}

func (f *fakes) close() {
	if f.sts != nil {
		f.sts.Close()
	}
	if f.ecs != nil {
		f.ecs.Close()
	}
	if f.uri != nil {
		f.uri.Close()
	}
	if f.caDir != "" {
		os.RemoveAll(f.caDir)
	}
}

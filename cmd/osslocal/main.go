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

// config is osslocal's command line.
type config struct {
	buckets, payers             listFlag
	listen, region, dataDir     string
	ak, sk                      string
	verbose                     bool
	sts, ecsV2Only, uri         bool
	ecsRole, outage, corsOrigin string
	tokenTTL                    time.Duration
	network                     osstest.Network
	connBW, totalBW             rateFlag
}

// flagSet defines osslocal's flags into c.
func (c *config) flagSet(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("osslocal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:9000", "loopback address to listen on (port 0 picks a free port)")
	fs.StringVar(&c.region, "region", "cn-hangzhou", "region checked in V4 signatures")
	fs.StringVar(&c.dataDir, "data-dir", "", "directory keeping the objects across restarts (default: memory)")
	fs.StringVar(&c.ak, "access-key-id", "", "access key id accepted (prefer $OSSLOCAL_ACCESS_KEY_ID)")
	fs.StringVar(&c.sk, "access-key-secret", "", "access key secret (prefer $OSSLOCAL_ACCESS_KEY_SECRET)")
	fs.BoolVar(&c.verbose, "v", false, "log one line per request to stderr")
	fs.BoolVar(&c.sts, "sts", false, "also run a fake STS over HTTPS (AssumeRole, AssumeRoleWithOIDC) issuing temporary credentials")
	fs.StringVar(&c.ecsRole, "ecs-role", "", "also run a fake ECS metadata service (an HTTP proxy, for HTTP_PROXY) offering this RAM role")
	fs.BoolVar(&c.ecsV2Only, "ecs-imdsv2-only", false, "the fake ECS metadata service requires IMDSv2 session tokens")
	fs.BoolVar(&c.uri, "credentials-uri", false, "also run a fake credentials URI endpoint issuing temporary credentials")
	fs.DurationVar(&c.tokenTTL, "token-ttl", time.Hour, "lifetime of every temporary credential issued by --sts, --ecs-role and --credentials-uri (whatever duration the client asks for)")
	fs.StringVar(&c.outage, "outage", "503", "what SIGUSR1 does to the credential services: \"503\" (answer 503 ServiceUnavailable) or \"refuse\" (close their ports: connection refused)")
	fs.Var(&c.buckets, "bucket", "bucket to create at start (repeatable; default \"test\")")
	fs.Var(&c.payers, "requester-pays", "bucket that requires x-oss-request-payer: requester (repeatable)")
	fs.DurationVar(&c.network.Latency, "latency", 0, "network model: delay before the first byte of every response (e.g. 15ms)")
	fs.DurationVar(&c.network.LatencyJitter, "latency-jitter", 0, "network model: vary each response's latency by up to ± this")
	fs.Var(&c.connBW, "conn-bandwidth", "network model: bytes per second per connection, each direction (e.g. 100MB; 0: unlimited)")
	fs.Var(&c.totalBW, "bandwidth", "network model: bytes per second for the whole server, each direction (e.g. 1G; 0: unlimited)")
	fs.IntVar(&c.network.QPS, "qps", 0, "network model: requests accepted per second; beyond, 503 TotalQpsLimitExceeded (0: unlimited)")
	fs.StringVar(&c.corsOrigin, "cors-allow-origin", "", "answer CORS for this origin ('*' for any) on buckets without CORS rules of their own, for browser uploads (PostObject) and presigned URLs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: osslocal [flags]\n\nRuns a local OSS-compatible server. Flags:")
		fs.PrintDefaults()
		fmt.Fprint(stderr, networkHelp)
		fmt.Fprint(stderr, credentialsHelp)
	}
	return fs
}

// parseArgs reads the command line; a nil config ends osslocal with code
// (0 after --help, 2 for a usage error, said on stderr).
func parseArgs(args []string, stderr io.Writer) (c *config, code int) {
	c = &config{}
	fs := c.flagSet(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "osslocal: unexpected argument %q\n", fs.Arg(0))
		return nil, 2
	}
	if c.ak == "" {
		c.ak = os.Getenv("OSSLOCAL_ACCESS_KEY_ID")
	}
	if c.sk == "" {
		c.sk = os.Getenv("OSSLOCAL_ACCESS_KEY_SECRET")
	}
	if len(c.buckets) == 0 {
		c.buckets = listFlag{"test"}
	}
	c.network.ConnBandwidth, c.network.Bandwidth = int64(c.connBW), int64(c.totalBW)
	if err := c.check(); err != "" {
		fmt.Fprintln(stderr, "osslocal: "+err)
		return nil, 2
	}
	return c, 0
}

// check says what is wrong with the command line ("" when nothing is).
func (c *config) check() string {
	switch {
	case c.ak == "" || c.sk == "":
		return "no access keys: set OSSLOCAL_ACCESS_KEY_ID and OSSLOCAL_ACCESS_KEY_SECRET (or --access-key-id and --access-key-secret)"
	case c.tokenTTL < time.Second:
		return fmt.Sprintf("--token-ttl %s is too short (at least 1s)", c.tokenTTL)
	case c.network.Latency < 0 || c.network.LatencyJitter < 0 || c.network.QPS < 0:
		return "--latency, --latency-jitter and --qps cannot be negative"
	case c.outage != "503" && c.outage != "refuse":
		return fmt.Sprintf("--outage %q: want 503 or refuse", c.outage)
	case c.ecsV2Only && c.ecsRole == "":
		return "--ecs-imdsv2-only needs --ecs-role"
	}
	return ""
}

func run(args []string, stdout, stderr io.Writer) int {
	c, code := parseArgs(args, stderr)
	if c == nil {
		return code
	}
	opt := osstest.Options{
		Region:        c.region,
		Buckets:       c.buckets,
		Credentials:   map[string]string{c.ak: c.sk},
		DataDir:       c.dataDir,
		Listen:        c.listen,
		RequesterPays: c.payers,
		Network:       c.network,
	}
	if c.verbose {
		logger := log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
		opt.Logf = logger.Printf
	}
	srv, err := osstest.NewServer(opt)
	if err != nil {
		fmt.Fprintln(stderr, "osslocal:", err)
		return 1
	}
	defer srv.Close()
	if c.corsOrigin != "" {
		if err := srv.SetDefaultCORS([]osstest.CORSRule{osstest.AllowOriginRule(c.corsOrigin)}); err != nil {
			fmt.Fprintln(stderr, "osslocal: --cors-allow-origin:", err)
			return 2
		}
	}
	fakes, err := startFakes(stdout, srv.MintSTS, c.tokenTTL, fakeConfig{
		sts: c.sts, ecsRole: c.ecsRole, ecsV2Only: c.ecsV2Only, uri: c.uri, callerKeys: map[string]string{c.ak: c.sk},
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
	if c.dataDir != "" {
		where = c.dataDir
	}
	fmt.Fprintf(stderr, "osslocal: region %s, buckets %s, access key id %s, data in %s\n", opt.Region, strings.Join(c.buckets, ","), c.ak, where)
	if opt.Network != (osstest.Network{}) {
		fmt.Fprintf(stderr, "osslocal: network model: %s\n", describeNetwork(opt.Network))
	}
	c.serveSignals(sig, fakes, stderr)
	return 0
}

// serveSignals answers signals until SIGINT or SIGTERM: SIGUSR1 takes the
// credential services down or back up, SIGUSR2 prints their counters.
func (c *config) serveSignals(sig <-chan os.Signal, f *fakes, stderr io.Writer) {
	down := false
	for s := range sig {
		switch s {
		case syscall.SIGUSR1:
			down = !down
			if err := f.setDown(down, c.outage == "refuse"); err != nil {
				fmt.Fprintf(stderr, "osslocal: credential services: %v\n", err)
			}
			state := "answering again"
			switch {
			case down && c.outage == "refuse":
				state = "DOWN (refusing connections)"
			case down:
				state = "DOWN (answering 503)"
			}
			fmt.Fprintf(stderr, "osslocal: credential services %s\n", state)
		case syscall.SIGUSR2:
			fmt.Fprintf(stderr, "osslocal: credentials issued: %s\n", f.issued())
		default:
			fmt.Fprintf(stderr, "osslocal: %v, shutting down\n", s)
			return
		}
	}
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

package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// Options selects and configures the credentials source.
type Options struct {
	// Source is "" (auto: explicit keys, then the environment, then the
	// passwd file, then the CLI profile, then the ECS role when one is
	// named) or one of "env", "static", "sts", "passwd", "ram_role_arn",
	// "ecs_ram_role", "oidc_role_arn", "credentials_uri", "profile",
	// "process".
	Source string
	// Bucket selects "bucket:AK:SK" lines in passwd files.
	Bucket string
	// AccessKeyID, AccessKeySecret and SecurityToken are explicit static
	// values; normally they come from the environment.
	AccessKeyID, AccessKeySecret, SecurityToken string
	// PasswdFile is an ossfs-compatible passwd file ("AK:SK" or
	// "bucket:AK:SK" lines). Default ~/.passwd-ossfs, then /etc/passwd-ossfs.
	PasswdFile string

	// RAM role (ram_role_arn, oidc_role_arn).
	RoleARN, RoleSessionName, ExternalID, Policy string
	DurationSeconds                              int
	// STSEndpoint is host[:port] of STS; it is always spoken to over https.
	STSEndpoint string

	// ECSRole is the ECS instance RAM role ("" = ask the metadata service).
	ECSRole string
	// ECSDisableIMDSv1 requires IMDSv2 session tokens (hardened mode).
	ECSDisableIMDSv1 bool

	OIDCProviderARN, OIDCTokenFile string
	CredentialsURI                 string
	// ProfileFile and ProfileName select an Alibaba Cloud CLI profile
	// (default ~/.aliyun/config.json and its current profile).
	ProfileFile, ProfileName string
	// Process is an external command printing credentials as JSON (the
	// Alibaba Cloud CLI "External" mode format).
	Process string

	// RefreshMargin: refresh this long before expiry (default 5 min,
	// capped at a third of the lifetime of short-lived credentials).
	RefreshMargin time.Duration
	// RefreshInterval: also refresh at least this often (0 = only by expiry).
	RefreshInterval time.Duration

	// Log receives one info line per renewal (source and new expiry) and
	// one warning per failed renewal attempt; never a secret. Nil = silent.
	Log *slog.Logger
	// Env looks up environment variables (default os.Getenv).
	Env func(string) string
}

const (
	defaultMargin      = 5 * time.Minute
	unknownExpiryEvery = 10 * time.Minute
	minBackoff         = time.Second
	maxBackoff         = time.Minute
	// expiredRetry is the mean wait between renewal attempts once the
	// credentials have expired (±50%): every request fails until one
	// succeeds, so the mount must follow the source back within seconds.
	expiredRetry = 2 * time.Second
)

// Provider is an ossapi.CredentialsProvider that answers from memory and
// keeps expiring credentials fresh in the background.
type Provider struct {
	src *source
	log *slog.Logger

	margin, interval time.Duration

	mu       sync.RWMutex
	cur      ossapi.Credentials
	lastErr  string // sanitized reason of the last failed refresh, "" if it succeeded
	failures int
	// renewals and renewalFailures count refreshes since New (Stats).
	renewals, renewalFailures int64

	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

var _ ossapi.CredentialsProvider = (*Provider)(nil)

// New resolves the credentials source described by opt, fetches the first
// credentials synchronously and, for credentials that expire or must be
// re-read, starts a background refresher. Close stops it.
func New(ctx context.Context, opt Options) (*Provider, error) {
	if opt.Env == nil {
		opt.Env = os.Getenv
	}
	src, err := resolve(opt)
	if err != nil {
		return nil, err
	}
	creds, err := src.fetchCtx(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: getting credentials from %s: %s", src.describe(), src.scrub(err))
	}
	now := time.Now()
	if !creds.Expiration.IsZero() && !now.Before(creds.Expiration) {
		return nil, fmt.Errorf("auth: %s returned credentials that already expired at %s (check the clock)",
			src.describe(), creds.Expiration.UTC().Format(time.RFC3339))
	}
	p := &Provider{
		src:      src,
		log:      opt.Log,
		margin:   opt.RefreshMargin,
		interval: opt.RefreshInterval,
		cur:      creds,
		done:     make(chan struct{}),
	}
	if p.margin <= 0 {
		p.margin = defaultMargin
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if src.refresh && (!creds.Expiration.IsZero() || creds.SecurityToken != "" || p.interval > 0) {
		go p.loop(p.next(creds, now))
	} else {
		close(p.done)
	}
	return p, nil
}

// Credentials returns the current credentials from memory. It never returns
// expired credentials: past their expiry it fails with KindExpired.
func (p *Provider) Credentials(ctx context.Context) (ossapi.Credentials, error) {
	p.mu.RLock()
	c, lastErr := p.cur, p.lastErr
	p.mu.RUnlock()
	if c.Expiration.IsZero() || time.Now().Before(c.Expiration) {
		return c, nil
	}
	reason := lastErr
	if reason == "" {
		reason = "no refresh has completed yet"
	}
	msg := fmt.Sprintf("credentials from %s expired at %s and the last refresh failed: %s",
		p.src.describe(), c.Expiration.UTC().Format(time.RFC3339), reason)
	return ossapi.Credentials{}, &ossapi.Error{Op: "Credentials", Kind: ossapi.KindExpired, Message: msg, Err: errors.New(reason)}
}

// Close stops the background refresher. Credentials keeps answering with
// what it has.
func (p *Provider) Close() {
	p.closeOnce.Do(func() {
		p.cancel()
		<-p.done
	})
}

// Describe says where the credentials come from, without secrets, e.g.
// "ram_role_arn acs:ram::123:role/x (temporary, expires 2026-01-02T15:04:05Z)".
func (p *Provider) Describe() string {
	p.mu.RLock()
	c := p.cur
	p.mu.RUnlock()
	d := p.src.describe()
	switch {
	case !c.Expiration.IsZero():
		d += " (temporary, expires " + c.Expiration.UTC().Format(time.RFC3339) + ")"
	case c.SecurityToken != "":
		d += " (temporary, expiry unknown)"
	default:
		d += " (long-term key " + maskID(c.AccessKeyID) + ")"
	}
	return d
}

// Stats describe the credentials in use and their renewals, without
// secrets (for the mount's metrics).
type Stats struct {
	Source          string    // the source's kind, e.g. "env", "ram_role_arn" (Options.Source names)
	Temporary       bool      // the credentials carry a security token
	Expiration      time.Time // zero when they do not expire, or when that is unknown
	Refreshes       int64     // renewals that succeeded since New
	RefreshFailures int64     // renewal attempts that failed since New
}

// Stats returns the current credentials' description and the renewal
// counters.
func (p *Provider) Stats() Stats {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return Stats{Source: p.src.kind, Temporary: p.cur.SecurityToken != "", Expiration: p.cur.Expiration,
		Refreshes: p.renewals, RefreshFailures: p.renewalFailures}
}

// next computes when to refresh credentials fetched at now.
func (p *Provider) next(c ossapi.Credentials, now time.Time) time.Time {
	var at time.Time
	if !c.Expiration.IsZero() {
		margin := p.margin
		if life := c.Expiration.Sub(now); margin > life/3 {
			margin = life / 3
		}
		at = c.Expiration.Add(-margin)
	} else if p.interval <= 0 {
		// Temporary credentials whose expiry we could not learn.
		at = now.Add(unknownExpiryEvery)
	}
	if p.interval > 0 && (at.IsZero() || now.Add(p.interval).Before(at)) {
		at = now.Add(p.interval)
	}
	if min := now.Add(100 * time.Millisecond); at.Before(min) {
		at = min
	}
	return at
}

// retryWait is how long to wait before the next renewal attempt after
// failures in a row, at now, for credentials expiring at exp (zero: never).
// While the credentials are valid it backs off 1 s, 2 s, 4 s ... up to a
// minute (±20%), but never sleeps past their expiry; once they have
// expired it tries every expiredRetry (±50%), so that the mount works again
// within seconds of the source coming back.
func retryWait(failures int, now, exp time.Time) time.Duration {
	if !exp.IsZero() && !now.Before(exp) {
		return time.Duration(float64(expiredRetry) * (0.5 + rand.Float64()))
	}
	d := minBackoff
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	d = min(time.Duration(float64(d)*(0.8+0.4*rand.Float64())), maxBackoff)
	if !exp.IsZero() {
		d = min(d, exp.Sub(now))
	}
	return d
}

func (p *Provider) loop(at time.Time) {
	defer close(p.done)
	timer := time.NewTimer(time.Until(at))
	defer timer.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-timer.C:
		}
		creds, err := p.src.fetchCtx(p.ctx)
		now := time.Now()
		if err == nil && !creds.Expiration.IsZero() && !now.Before(creds.Expiration) {
			err = fmt.Errorf("received credentials that already expired at %s (check the clock)",
				creds.Expiration.UTC().Format(time.RFC3339))
		}
		if p.ctx.Err() != nil {
			return
		}
		if err != nil {
			reason := p.src.scrub(err)
			p.mu.Lock()
			p.failures++
			p.renewalFailures++
			n := p.failures
			p.lastErr = reason
			exp := p.cur.Expiration
			p.mu.Unlock()
			wait := retryWait(n, now, exp)
			state := "current credentials do not expire"
			if !exp.IsZero() {
				if now.Before(exp) {
					state = "current credentials valid until " + exp.UTC().Format(time.RFC3339)
				} else {
					state = "current credentials EXPIRED at " + exp.UTC().Format(time.RFC3339)
				}
			}
			p.log.Warn(fmt.Sprintf("auth: refreshing credentials from %s failed (attempt %d; %s); retrying in %s: %s",
				p.src.describe(), n, state, wait.Round(100*time.Millisecond), reason))
			timer.Reset(wait)
			continue
		}
		p.mu.Lock()
		n := p.failures
		p.cur, p.lastErr, p.failures = creds, "", 0
		p.renewals++
		p.mu.Unlock()
		p.logRenewal(creds, now, n)
		timer.Reset(time.Until(p.next(creds, now)))
	}
}

// logRenewal logs one info line for a successful renewal: the source, the
// new expiry and, after an outage, how many attempts had failed. Never the
// key, the secret or the token.
func (p *Provider) logRenewal(c ossapi.Credentials, now time.Time, failed int) {
	attrs := []any{"source", p.src.describe()}
	switch {
	case !c.Expiration.IsZero():
		attrs = append(attrs, "expires", c.Expiration.UTC().Format(time.RFC3339),
			"valid_for", c.Expiration.Sub(now).Round(time.Second).String())
	case c.SecurityToken != "":
		attrs = append(attrs, "expires", "unknown")
	default:
		attrs = append(attrs, "expires", "never")
	}
	if failed > 0 {
		attrs = append(attrs, "failed_attempts", failed)
	}
	p.log.Info("credentials renewed", attrs...)
}

// maskID shortens an AccessKeyId for display: not a secret, but no need to
// print it whole.
func maskID(id string) string {
	if len(id) <= 8 {
		return "****"
	}
	return id[:4] + "****" + id[len(id)-3:]
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/credentials-go/credentials/providers"

	"github.com/ossmount/ossmount/ossapi"
)

// source is one resolved credentials source.
type source struct {
	kind    string // the Options.Source name, e.g. "ram_role_arn"
	detail  string // what to show after kind: role ARN, file name...
	refresh bool   // whether fetching again can give new credentials
	// fetch gets credentials; it may block on the network (bounded by the
	// client timeouts) and ignores cancellation, which fetchCtx adds.
	fetch func() (ossapi.Credentials, error)

	mu      sync.Mutex
	secrets []string // secrets to scrub from error text
}

func (s *source) describe() string {
	if s.detail == "" {
		return s.kind
	}
	return s.kind + " " + s.detail
}

// remember adds secrets that must never appear in error text.
func (s *source) remember(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range secrets {
		if len(x) < 4 {
			continue
		}
		s.secrets = append(s.secrets, x)
	}
	// Keep the base secrets (first ones) and the most recent few.
	const keep = 16
	if len(s.secrets) > keep {
		s.secrets = append(s.secrets[:4:4], s.secrets[len(s.secrets)-(keep-4):]...)
	}
}

func (s *source) scrub(err error) string {
	s.mu.Lock()
	secrets := append([]string(nil), s.secrets...)
	s.mu.Unlock()
	return scrub(err.Error(), secrets)
}

// fetchCtx runs fetch, giving up (but letting it finish in the background)
// when ctx is done.
func (s *source) fetchCtx(ctx context.Context) (ossapi.Credentials, error) {
	type result struct {
		c   ossapi.Credentials
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := s.fetch()
		if err == nil {
			if c.AccessKeyID == "" || c.AccessKeySecret == "" {
				err = errors.New("the source returned an empty AccessKeyId or AccessKeySecret")
			} else {
				s.remember(c.AccessKeySecret, c.SecurityToken)
			}
		}
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		return ossapi.Credentials{}, ctx.Err()
	}
}

func staticSource(kind, detail string, c ossapi.Credentials) *source {
	s := &source{kind: kind, detail: detail, fetch: func() (ossapi.Credentials, error) { return c, nil }}
	s.remember(c.AccessKeySecret, c.SecurityToken)
	return s
}

// Sources lists the accepted values of Options.Source.
var Sources = []string{"env", "static", "sts", "passwd", "ram_role_arn", "ecs_ram_role", "oidc_role_arn", "credentials_uri", "profile", "process"}

func resolve(opt Options) (*source, error) {
	switch opt.Source {
	case "":
		return resolveAuto(opt)
	case "env":
		c, names, err := envKeys(opt.Env)
		if err != nil {
			return nil, err
		}
		if c.AccessKeyID == "" {
			return nil, errors.New("auth: source env: neither ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET nor OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET are set")
		}
		return staticSource("env", names, c), nil
	case "static", "sts":
		c := ossapi.Credentials{AccessKeyID: opt.AccessKeyID, AccessKeySecret: opt.AccessKeySecret, SecurityToken: opt.SecurityToken}
		detail := "explicit keys"
		if c.AccessKeyID == "" && c.AccessKeySecret == "" && c.SecurityToken == "" {
			var err error
			c, detail, err = envKeys(opt.Env)
			if err != nil {
				return nil, err
			}
		}
		if c.AccessKeyID == "" || c.AccessKeySecret == "" {
			return nil, fmt.Errorf("auth: source %s needs an AccessKeyId and an AccessKeySecret", opt.Source)
		}
		if opt.Source == "sts" && c.SecurityToken == "" {
			return nil, errors.New("auth: source sts needs a security token (ALIBABA_CLOUD_SECURITY_TOKEN or OSS_SESSION_TOKEN)")
		}
		return staticSource(opt.Source, detail, c), nil
	case "passwd":
		return passwdSource(opt, true)
	case "ram_role_arn":
		return ramRoleSource(opt)
	case "ecs_ram_role":
		return ecsSource(opt)
	case "oidc_role_arn":
		return oidcSource(opt)
	case "credentials_uri":
		return uriSource(opt)
	case "profile":
		return profileSource(opt)
	case "process":
		return processSource(opt)
	}
	return nil, fmt.Errorf("auth: unknown credentials source %q (want one of %s, or empty for automatic)",
		opt.Source, strings.Join(Sources, ", "))
}

// resolveAuto picks the first configured source: explicit keys, RAM role
// settings, the environment, a credentials URI, an external process, the
// passwd file, the CLI profile, the ECS role.
func resolveAuto(opt Options) (*source, error) {
	env := opt.Env
	if firstNonEmpty(opt.OIDCProviderARN, env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")) != "" &&
		firstNonEmpty(opt.OIDCTokenFile, env("ALIBABA_CLOUD_OIDC_TOKEN_FILE")) != "" &&
		firstNonEmpty(opt.RoleARN, env("ALIBABA_CLOUD_ROLE_ARN")) != "" {
		return oidcSource(opt)
	}
	if opt.RoleARN != "" {
		return ramRoleSource(opt)
	}
	if opt.AccessKeyID != "" || opt.AccessKeySecret != "" {
		o := opt
		o.Source = "static"
		if opt.SecurityToken != "" {
			o.Source = "sts"
		}
		return resolve(o)
	}
	c, names, err := envKeys(env)
	if err != nil {
		return nil, err
	}
	if c.AccessKeyID != "" {
		return staticSource("env", names, c), nil
	}
	if firstNonEmpty(opt.CredentialsURI, env("ALIBABA_CLOUD_CREDENTIALS_URI")) != "" {
		return uriSource(opt)
	}
	if opt.Process != "" {
		return processSource(opt)
	}
	if s, err := passwdSource(opt, false); s != nil || err != nil {
		return s, err
	}
	if opt.ProfileFile != "" || opt.ProfileName != "" || env("ALIBABA_CLOUD_CONFIG_FILE") != "" || env("ALIBABA_CLOUD_PROFILE") != "" {
		return profileSource(opt)
	}
	if home := homeDir(env); home != "" {
		if _, err := os.Stat(filepath.Join(home, ".aliyun", "config.json")); err == nil {
			return profileSource(opt)
		}
	}
	if firstNonEmpty(opt.ECSRole, env("ALIBABA_CLOUD_ECS_METADATA")) != "" {
		return ecsSource(opt)
	}
	return nil, errors.New("auth: no credentials found: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET " +
		"(or OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET), create ~/.passwd-ossfs (AK:SK, chmod 600), " +
		"configure the Alibaba Cloud CLI (~/.aliyun/config.json), or name an ECS RAM role")
}

// envKeys reads static keys from the environment; names says which
// variables were used. A half-set pair is an error.
func envKeys(env func(string) string) (c ossapi.Credentials, names string, err error) {
	for _, set := range [][3]string{
		{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"},
		{"OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN"},
	} {
		id, secret := env(set[0]), env(set[1])
		switch {
		case id == "" && secret == "":
			continue
		case id == "":
			return c, "", fmt.Errorf("auth: %s is set but %s is not", set[1], set[0])
		case secret == "":
			return c, "", fmt.Errorf("auth: %s is set but %s is not", set[0], set[1])
		}
		c = ossapi.Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: env(set[2])}
		return c, set[0], nil
	}
	return c, "", nil
}

// baseKeys finds the long-term (or STS) keys a ram_role_arn assumes the
// role with: explicit, environment, then the passwd file.
func baseKeys(opt Options) (ossapi.Credentials, string, error) {
	if opt.AccessKeyID != "" || opt.AccessKeySecret != "" {
		if opt.AccessKeyID == "" || opt.AccessKeySecret == "" {
			return ossapi.Credentials{}, "", errors.New("auth: need both an AccessKeyId and an AccessKeySecret")
		}
		return ossapi.Credentials{AccessKeyID: opt.AccessKeyID, AccessKeySecret: opt.AccessKeySecret, SecurityToken: opt.SecurityToken}, "explicit keys", nil
	}
	c, names, err := envKeys(opt.Env)
	if err != nil || c.AccessKeyID != "" {
		return c, names, err
	}
	s, err := passwdSource(opt, false)
	if err != nil {
		return ossapi.Credentials{}, "", err
	}
	if s != nil {
		c, err := s.fetch()
		return c, s.detail, err
	}
	return ossapi.Credentials{}, "", errors.New("auth: ram_role_arn needs keys to assume the role with: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or use a passwd file")
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func homeDir(env func(string) string) string {
	if h := env("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// stsEndpoint returns the STS host and region options for credentials-go.
func stsSettings(opt Options) (endpoint, region string, vpc bool) {
	return opt.STSEndpoint, opt.Env("ALIBABA_CLOUD_STS_REGION"),
		strings.EqualFold(opt.Env("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"), "true")
}

// providerSource wraps a credentials-go provider. build makes a new
// provider for every fetch: credentials-go providers cache their
// credentials until 3 minutes before expiry, and a fresh one makes a
// refresh really fetch new credentials whatever our margin.
func providerSource(kind, detail string, build func() (providers.CredentialsProvider, error)) (*source, error) {
	if _, err := build(); err != nil { // validate the settings now, without network
		return nil, fmt.Errorf("auth: source %s: %v", kind, err)
	}
	s := &source{kind: kind, detail: detail, refresh: true}
	s.fetch = func() (ossapi.Credentials, error) {
		p, err := build()
		if err != nil {
			return ossapi.Credentials{}, err
		}
		cc, err := p.GetCredentials()
		if err != nil {
			return ossapi.Credentials{}, err
		}
		return ossapi.Credentials{
			AccessKeyID:     cc.AccessKeyId,
			AccessKeySecret: cc.AccessKeySecret,
			SecurityToken:   cc.SecurityToken,
			Expiration:      providerExpiration(p),
		}, nil
	}
	return s, nil
}

// providerExpiration reads the expiry a credentials-go provider recorded
// for the credentials it just returned. The providers package (v1.4.14)
// does not export it, so this reads the unexported expirationTimestamp
// field (Unix seconds) of the provider, following CLI profile providers to
// their innerProvider. It returns the zero time when there is none.
func providerExpiration(p any) time.Time {
	v := reflect.ValueOf(p)
	for depth := 0; depth < 8; depth++ {
		for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return time.Time{}
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return time.Time{}
		}
		if f := v.FieldByName("expirationTimestamp"); f.IsValid() && f.Kind() == reflect.Int64 {
			if ts := f.Int(); ts > 0 {
				return time.Unix(ts, 0)
			}
			return time.Time{}
		}
		v = v.FieldByName("innerProvider")
		if !v.IsValid() {
			return time.Time{}
		}
	}
	return time.Time{}
}

func httpOptions(connect, read time.Duration) *providers.HttpOptions {
	return &providers.HttpOptions{ConnectTimeout: int(connect / time.Millisecond), ReadTimeout: int(read / time.Millisecond)}
}

func sessionName(opt Options) string {
	if n := firstNonEmpty(opt.RoleSessionName, opt.Env("ALIBABA_CLOUD_ROLE_SESSION_NAME")); n != "" {
		return n
	}
	return "ossmount-" + strconv.FormatInt(time.Now().Unix(), 10)
}

func ramRoleSource(opt Options) (*source, error) {
	role := firstNonEmpty(opt.RoleARN, opt.Env("ALIBABA_CLOUD_ROLE_ARN"))
	if role == "" {
		return nil, errors.New("auth: source ram_role_arn needs a role ARN (ALIBABA_CLOUD_ROLE_ARN)")
	}
	base, _, err := baseKeys(opt)
	if err != nil {
		return nil, err
	}
	endpoint, region, vpc := stsSettings(opt)
	session := sessionName(opt)
	s, err := providerSource("ram_role_arn", role, func() (providers.CredentialsProvider, error) {
		b := providers.NewRAMRoleARNCredentialsProviderBuilder().
			WithAccessKeyId(base.AccessKeyID).
			WithAccessKeySecret(base.AccessKeySecret).
			WithSecurityToken(base.SecurityToken).
			WithRoleArn(role).
			WithRoleSessionName(session).
			WithDurationSeconds(opt.DurationSeconds).
			WithPolicy(opt.Policy).
			WithExternalId(opt.ExternalID).
			WithStsRegionId(region).
			WithEnableVpc(vpc).
			WithStsEndpoint(endpoint).
			WithHttpOptions(httpOptions(5*time.Second, 10*time.Second))
		return b.Build()
	})
	if err != nil {
		return nil, err
	}
	s.remember(base.AccessKeySecret, base.SecurityToken)
	return s, nil
}

func oidcSource(opt Options) (*source, error) {
	role := firstNonEmpty(opt.RoleARN, opt.Env("ALIBABA_CLOUD_ROLE_ARN"))
	provider := firstNonEmpty(opt.OIDCProviderARN, opt.Env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN"))
	tokenFile := firstNonEmpty(opt.OIDCTokenFile, opt.Env("ALIBABA_CLOUD_OIDC_TOKEN_FILE"))
	switch {
	case role == "":
		return nil, errors.New("auth: source oidc_role_arn needs a role ARN (ALIBABA_CLOUD_ROLE_ARN)")
	case provider == "":
		return nil, errors.New("auth: source oidc_role_arn needs an OIDC provider ARN (ALIBABA_CLOUD_OIDC_PROVIDER_ARN)")
	case tokenFile == "":
		return nil, errors.New("auth: source oidc_role_arn needs an OIDC token file (ALIBABA_CLOUD_OIDC_TOKEN_FILE)")
	}
	endpoint, region, vpc := stsSettings(opt)
	session := sessionName(opt)
	// The token file is re-read on every refresh (it is rotated by the
	// platform), so it is not remembered as a secret here; its content is
	// never put in error text by credentials-go.
	return providerSource("oidc_role_arn", role, func() (providers.CredentialsProvider, error) {
		return providers.NewOIDCCredentialsProviderBuilder().
			WithRoleArn(role).
			WithOIDCProviderARN(provider).
			WithOIDCTokenFilePath(tokenFile).
			WithRoleSessionName(session).
			WithDurationSeconds(opt.DurationSeconds).
			WithPolicy(opt.Policy).
			WithStsRegionId(region).
			WithEnableVpc(vpc).
			WithSTSEndpoint(endpoint).
			WithHttpOptions(httpOptions(5*time.Second, 10*time.Second)).
			Build()
	})
}

func ecsSource(opt Options) (*source, error) {
	role := firstNonEmpty(opt.ECSRole, opt.Env("ALIBABA_CLOUD_ECS_METADATA"))
	hardened := opt.ECSDisableIMDSv1 || strings.EqualFold(opt.Env("ALIBABA_CLOUD_IMDSV1_DISABLED"), "true")
	detail := role
	if detail == "" {
		detail = "(role from the metadata service)"
	}
	if hardened {
		detail += " IMDSv2-only"
	}
	return providerSource("ecs_ram_role", detail, func() (providers.CredentialsProvider, error) {
		return providers.NewECSRAMRoleCredentialsProviderBuilder().
			WithRoleName(role).
			WithDisableIMDSv1(hardened).
			WithHttpOptions(httpOptions(2*time.Second, 5*time.Second)).
			Build()
	})
}

func uriSource(opt Options) (*source, error) {
	uri := firstNonEmpty(opt.CredentialsURI, opt.Env("ALIBABA_CLOUD_CREDENTIALS_URI"))
	if uri == "" {
		return nil, errors.New("auth: source credentials_uri needs a URI (ALIBABA_CLOUD_CREDENTIALS_URI)")
	}
	return providerSource("credentials_uri", redactURL(uri), func() (providers.CredentialsProvider, error) {
		return providers.NewURLCredentialsProviderBuilder().
			WithUrl(uri).
			WithHttpOptions(httpOptions(5*time.Second, 10*time.Second)).
			Build()
	})
}

func profileSource(opt Options) (*source, error) {
	file := firstNonEmpty(opt.ProfileFile, opt.Env("ALIBABA_CLOUD_CONFIG_FILE"))
	if file == "" {
		home := homeDir(opt.Env)
		if home == "" {
			return nil, errors.New("auth: source profile: no home directory; set the profile file")
		}
		file = filepath.Join(home, ".aliyun", "config.json")
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("auth: source profile: %v (configure the Alibaba Cloud CLI with `aliyun configure`)", err)
	}
	// The profile file holds keys: like the passwd file, it must not be
	// readable by anyone else.
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("auth: profile file %s is accessible by group or others (mode %04o); run `chmod 600 %s`", file, mode, file)
	}
	name := firstNonEmpty(opt.ProfileName, opt.Env("ALIBABA_CLOUD_PROFILE"))
	detail := file
	if name != "" {
		detail = name + " in " + file
	}
	return providerSource("profile", detail, func() (providers.CredentialsProvider, error) {
		return providers.NewCLIProfileCredentialsProviderBuilder().
			WithProfileFile(file).
			WithProfileName(name).
			Build()
	})
}

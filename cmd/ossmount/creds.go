package main

// Credentials: the options naming a source, turned into the auth
// package's provider.

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/ossmount/ossmount/auth"
	"github.com/ossmount/ossmount/ossapi"
)

// sourceNames maps credential_source values to auth sources.
var sourceNames = map[string]string{
	"": "", "env": "env", "sts": "sts", "passwd_file": "passwd", "passwd": "passwd",
	"ram_role_arn": "ram_role_arn", "ecs_ram_role": "ecs_ram_role", "oidc_role_arn": "oidc_role_arn",
	"credentials_uri": "credentials_uri", "cli_profile": "profile", "profile": "profile",
	"credential_process": "process", "process": "process",
}

// sourceOptions are the options that name a credentials source: giving one
// selects that source even when the environment also holds keys.
var sourceOptions = []struct{ option, source string }{
	{"oidc_role_arn", "oidc_role_arn"},
	{"ram_role_arn", "ram_role_arn"},
	{"ecs_ram_role", "ecs_ram_role"},
	{"credentials_uri", "credentials_uri"},
	{"credential_process", "process"},
	{"profile", "profile"},
	{"profile_file", "profile"},
	{"passwd_file", "passwd"},
}

// chooseSource returns the auth source named by credential_source or, when
// that is empty, by the options given ("" when none: automatic). Options
// naming two different sources are an error, except passwd_file next to
// ram_role_arn (the passwd file then holds the keys the role is assumed
// with). ram_role_arn with oidc_token_file means oidc_role_arn.
func chooseSource(v values) (string, error) {
	src := sourceNames[v.str("credential_source")] // checked with the options
	if src != "" {
		return src, nil
	}
	var given []string // options given, one per source
	seen := map[string]string{}
	for _, so := range sourceOptions {
		if v.str(so.option) == "" {
			continue
		}
		if so.source == "passwd" && seen["ram_role_arn"] != "" {
			continue
		}
		if _, dup := seen[so.source]; dup {
			continue
		}
		seen[so.source] = so.option
		given = append(given, so.option)
		if src == "" {
			src = so.source
		}
	}
	if src == "ram_role_arn" && v.str("oidc_token_file") != "" {
		src = "oidc_role_arn" // ram_role_arn=...,oidc_token_file=...: the role is assumed with the token
	}
	if len(given) > 1 {
		return "", usageError("options %s name different credential sources; keep one (or pick one with -o credential_source=NAME)",
			strings.Join(given, " and "))
	}
	return src, nil
}

// credentialsFor builds the credential source from the options and the
// environment. The first credentials are fetched now, so a broken source
// fails the mount before anything is mounted; temporary ones are renewed in
// the background until the returned close function is called.
func credentialsFor(ctx context.Context, v values, bucket string, log *slog.Logger) (ossapi.CredentialsProvider, func(), error) {
	src, err := chooseSource(v)
	if err != nil {
		return nil, nil, err
	}
	ecsRole := v.str("ecs_ram_role")
	if ecsRole == "auto" {
		ecsRole = ""
	}
	roleARN := v.str("ram_role_arn")
	if src == "oidc_role_arn" && v.str("oidc_role_arn") != "" {
		roleARN = v.str("oidc_role_arn")
	}
	opt := auth.Options{
		Source:           src,
		Bucket:           bucket,
		PasswdFile:       v.str("passwd_file"),
		RoleARN:          roleARN,
		RoleSessionName:  v.str("role_session_name"),
		ExternalID:       v.str("external_id"),
		Policy:           v.str("role_policy"),
		DurationSeconds:  int(v.dur("role_session_duration") / time.Second),
		STSEndpoint:      v.str("sts_endpoint"),
		ECSRole:          ecsRole,
		ECSDisableIMDSv1: !v.bool("ecs_imdsv1"),
		OIDCProviderARN:  v.str("oidc_provider_arn"),
		OIDCTokenFile:    v.str("oidc_token_file"),
		CredentialsURI:   v.str("credentials_uri"),
		ProfileFile:      v.str("profile_file"),
		ProfileName:      v.str("profile"),
		Process:          v.str("credential_process"),
		RefreshMargin:    v.dur("refresh_margin"),
		RefreshInterval:  v.dur("refresh_sts_token_interval"),
		Log:              log.With("component", "credentials"),
	}
	p, err := auth.New(ctx, opt)
	if err != nil {
		return nil, nil, err
	}
	return p, p.Close, nil
}

// describeCreds names a credential source without revealing secrets.
func describeCreds(p ossapi.CredentialsProvider) string {
	if d, ok := p.(interface{ Describe() string }); ok {
		return d.Describe()
	}
	return "static keys"
}

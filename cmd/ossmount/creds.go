package main

import (
	"context"
	"fmt"
	"log/slog"
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

// credentialsFor builds the credential source from the options and the
// environment. The first credentials are fetched now, so a broken source
// fails the mount before anything is mounted; temporary ones are renewed in
// the background until the returned close function is called.
func credentialsFor(ctx context.Context, v *values, bucket string, log *slog.Logger) (ossapi.CredentialsProvider, func(), error) {
	src, ok := sourceNames[v.str("credential_source")]
	if !ok {
		return nil, nil, usageError("credential_source=%s: unknown source", v.str("credential_source"))
	}
	ecsRole := v.str("ecs_ram_role")
	if ecsRole == "auto" {
		ecsRole = ""
		if src == "" {
			src = "ecs_ram_role"
		}
	}
	opt := auth.Options{
		Source:           src,
		Bucket:           bucket,
		PasswdFile:       v.str("passwd_file"),
		RoleARN:          v.str("ram_role_arn"),
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
		Logf: func(format string, args ...any) {
			log.Warn(fmt.Sprintf(format, args...), "component", "credentials")
		},
	}
	if v.str("oidc_role_arn") != "" {
		opt.RoleARN = v.str("oidc_role_arn")
		if src == "" {
			opt.Source = "oidc_role_arn"
		}
	}
	if ecsRole != "" && src == "" {
		opt.Source = "ecs_ram_role"
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

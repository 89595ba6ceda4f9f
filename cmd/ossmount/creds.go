package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/ossmount/ossmount/ossapi"
)

// credentialsFor builds the credential source from the options and the
// environment.
func credentialsFor(ctx context.Context, v *values, bucket string, log *slog.Logger) (ossapi.CredentialsProvider, func(), error) {
	ak, sk, tok := os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"), os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), os.Getenv("ALIBABA_CLOUD_SECURITY_TOKEN")
	if ak == "" {
		ak, sk, tok = os.Getenv("OSS_ACCESS_KEY_ID"), os.Getenv("OSS_ACCESS_KEY_SECRET"), os.Getenv("OSS_SESSION_TOKEN")
	}
	if ak == "" || sk == "" {
		return nil, nil, fmt.Errorf("no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	}
	return ossapi.StaticCredentials{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: tok}, func() {}, nil
}

// describeCreds names a credential source without revealing secrets.
func describeCreds(p ossapi.CredentialsProvider) string {
	if d, ok := p.(interface{ Describe() string }); ok {
		return d.Describe()
	}
	return "environment"
}

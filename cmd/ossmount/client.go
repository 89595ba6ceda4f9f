package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/ossapi"
)

// The OSS client built from the options, for a mount and for the commands
// that reach OSS directly (presign and post-policy of oss:// paths,
// uploads), and the explanation of a first request's failure.

// probeError turns the first request's failure into one clear line.
func probeError(bucket, endpoint string, err error) error {
	code := ossapi.CodeOf(err)
	switch ossapi.KindOf(err) {
	case ossapi.KindNotExist:
		return fmt.Errorf("bucket %q does not exist at %s (%s)", bucket, endpoint, code)
	case ossapi.KindPermission:
		return fmt.Errorf("access to bucket %q denied: check the access key id and secret (%s)", bucket, code)
	case ossapi.KindExpired:
		return fmt.Errorf("the security token has expired: renew the credentials (%s)", code)
	case ossapi.KindTransient, ossapi.KindCanceled:
		return fmt.Errorf("cannot reach endpoint %s: %s", endpoint, networkReason(err))
	}
	return fmt.Errorf("bucket %q: %v", bucket, err)
}

// networkReason is what went wrong on the network in err, without the
// layers above it ("dial tcp 10.0.0.1:443: connect: connection refused",
// "lookup oss-x.aliyuncs.com: no such host", "no response for 10s").
func networkReason(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &dns):
		return dns.Error()
	case errors.As(err, &op):
		return op.Error()
	case errors.As(err, &ne):
		return ne.Error()
	}
	return err.Error()
}

// newClient builds the client of ocfg with the credentials the options
// name; closeCreds stops their renewal.
func newClient(ctx context.Context, v values, ocfg ossapi.Config, log *slog.Logger) (client *ossapi.Client,
	creds ossapi.CredentialsProvider, closeCreds func(), err error) {
	creds, closeCreds, err = credentialsFor(ctx, v, ocfg.Bucket, log)
	if err != nil {
		return nil, nil, nil, err
	}
	ocfg.Credentials = creds
	client, err = ossapi.New(ocfg)
	if err != nil {
		closeCreds()
		return nil, nil, nil, fmt.Errorf("client: %v", err)
	}
	return client, creds, closeCreds, nil
}

// directClient builds a client for bucket from the client and credential
// options of a command (for oss:// paths), logging warnings to stderr;
// closeCreds releases the credentials source.
func directClient(c *cli.Context, bucket string) (client *ossapi.Client, ocfg ossapi.Config, closeCreds func(), err error) {
	v := values{c}
	if ocfg, err = clientConfig(v, bucket); err != nil {
		return nil, ocfg, nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	client, _, closeCreds, err = newClient(c.Context, v, ocfg, log)
	return client, ocfg, closeCreds, err
}

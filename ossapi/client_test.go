package ossapi_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
	"github.com/ossmount/ossmount/ossapi/storetest"
)

const (
	testAK     = "LTAIconformance"
	testSK     = "conformance-secret"
	testRegion = "cn-hangzhou"
)

func newServer(t *testing.T) *osstest.Server {
	t.Helper()
	srv, err := osstest.NewServer(osstest.Options{Region: testRegion, Buckets: []string{"test"},
		Credentials: map[string]string{testAK: testSK}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *osstest.Server, mod func(*ossapi.Config)) *ossapi.Client {
	t.Helper()
	cfg := ossapi.Config{Bucket: "test", Region: testRegion, Endpoint: srv.URL(),
		Credentials: ossapi.StaticCredentials{AccessKeyID: testAK, AccessKeySecret: testSK}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := ossapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformanceV4(t *testing.T) {
	storetest.RunConformance(t, func(t *testing.T) ossapi.ObjectStore { return newClient(t, newServer(t), nil) })
}

func TestConformanceV1(t *testing.T) {
	storetest.RunConformance(t, func(t *testing.T) ossapi.ObjectStore {
		return newClient(t, newServer(t), func(c *ossapi.Config) { c.SignatureV1 = true })
	})
}

func TestConformanceSTS(t *testing.T) {
	storetest.RunConformance(t, func(t *testing.T) ossapi.ObjectStore {
		srv := newServer(t)
		ak, sk, tok := srv.MintSTS(time.Hour)
		return newClient(t, srv, func(c *ossapi.Config) {
			c.Credentials = ossapi.StaticCredentials{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: tok}
		})
	})
}

// TestConformanceRealBucket runs the suite on a real OSS bucket when the
// OSSMOUNT_TEST_* variables name one.
func TestConformanceRealBucket(t *testing.T) {
	env := map[string]string{}
	for _, k := range []string{"ENDPOINT", "REGION", "BUCKET", "ACCESS_KEY_ID", "ACCESS_KEY_SECRET"} {
		env[k] = os.Getenv("OSSMOUNT_TEST_" + k)
	}
	if env["BUCKET"] == "" || env["ACCESS_KEY_ID"] == "" {
		t.Skip("no real bucket: set OSSMOUNT_TEST_ENDPOINT, _REGION, _BUCKET, _ACCESS_KEY_ID and _ACCESS_KEY_SECRET to run the conformance suite against OSS")
	}
	storetest.RunConformance(t, func(t *testing.T) ossapi.ObjectStore {
		c, err := ossapi.New(ossapi.Config{Bucket: env["BUCKET"], Region: env["REGION"], Endpoint: env["ENDPOINT"],
			Credentials: ossapi.StaticCredentials{AccessKeyID: env["ACCESS_KEY_ID"], AccessKeySecret: env["ACCESS_KEY_SECRET"]}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

func TestRetriesInjected503(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(cfg *ossapi.Config) { cfg.RetryMax = 3 })
	ctx := context.Background()
	if err := srv.PutObject("test", "k", []byte("data"), nil); err != nil {
		t.Fatal(err)
	}
	srv.AddFault(osstest.Fault{Op: "GetObject", Nth: 1, Status: 503, Code: "ServiceUnavailable"})
	r, err := c.GetRange(ctx, ossapi.GetRequest{Key: "k", Length: -1})
	if err != nil {
		t.Fatalf("GET after one injected 503: %v", err)
	}
	r.Body.Close()
	if n := srv.Count("GetObject"); n != 2 {
		t.Errorf("server saw %d GetObject requests, want 2 (one failed, one retried)", n)
	}
	if st := c.Stats()["GetObject"]; st.Requests != 1 || st.Errors != 0 {
		t.Errorf("client stats %+v: want 1 call, 0 errors", st)
	}
	// Every attempt failing surfaces as Transient with the code.
	srv.AddFault(osstest.Fault{Op: "HeadObject", Status: 503, Code: "ServiceUnavailable"})
	_, err = c.Head(ctx, "k", ossapi.HeadOptions{})
	if ossapi.KindOf(err) != ossapi.KindTransient || ossapi.CodeOf(err) != "ServiceUnavailable" {
		t.Errorf("persistent 503: %v (kind %v)", err, ossapi.KindOf(err))
	}
	if n := srv.Count("HeadObject"); n != 3 {
		t.Errorf("server saw %d HEADs, want 3 attempts (RetryMax)", n)
	}
	srv.ClearFaults()
	_, err = c.Head(ctx, "missing", ossapi.HeadOptions{})
	if !ossapi.IsNotExist(err) || ossapi.CodeOf(err) != "NoSuchKey" {
		t.Errorf("missing key: %v", err)
	}
	var e *ossapi.Error
	if !asError(err, &e) || e.RequestID == "" || e.Status != 404 {
		t.Errorf("missing key error lacks status or request id: %#v", e)
	}
}

func asError(err error, target **ossapi.Error) bool {
	e, ok := err.(*ossapi.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestCredentialErrors(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	wrong := newClient(t, srv, func(c *ossapi.Config) {
		c.Credentials = ossapi.StaticCredentials{AccessKeyID: testAK, AccessKeySecret: "wrong"}
	})
	err := wrong.Probe(ctx)
	if ossapi.KindOf(err) != ossapi.KindPermission || ossapi.CodeOf(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), testSK) {
		t.Errorf("error text shows a secret: %v", err)
	}
	unknown := newClient(t, srv, func(c *ossapi.Config) {
		c.Credentials = ossapi.StaticCredentials{AccessKeyID: "LTAInobody", AccessKeySecret: "x"}
	})
	if err := unknown.Probe(ctx); ossapi.CodeOf(err) != "InvalidAccessKeyId" || ossapi.KindOf(err) != ossapi.KindPermission {
		t.Errorf("unknown key: %v", err)
	}
	ak, sk, tok := srv.MintSTS(time.Second)
	sts := newClient(t, srv, func(c *ossapi.Config) {
		c.Credentials = ossapi.StaticCredentials{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: tok}
	})
	if err := sts.Probe(ctx); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := sts.Probe(ctx); ossapi.KindOf(err) != ossapi.KindExpired {
		t.Errorf("expired token: %v (kind %v)", err, ossapi.KindOf(err))
	}
	missing := newClient(t, srv, func(c *ossapi.Config) { c.Bucket = "nosuchbucket" })
	if err := missing.Probe(ctx); !ossapi.IsNotExist(err) || ossapi.CodeOf(err) != "NoSuchBucket" {
		t.Errorf("missing bucket: %v", err)
	}
}

func TestRequesterPays(t *testing.T) {
	srv, err := osstest.NewServer(osstest.Options{Region: testRegion, Buckets: []string{"test"},
		Credentials: map[string]string{testAK: testSK}, RequesterPays: []string{"test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	if err := newClient(t, srv, nil).Probe(ctx); ossapi.KindOf(err) != ossapi.KindPermission {
		t.Errorf("requester-pays bucket without the header: %v", err)
	}
	c := newClient(t, srv, func(c *ossapi.Config) { c.RequesterPays = true })
	if err := c.Probe(ctx); err != nil {
		t.Errorf("requester-pays bucket with the header: %v", err)
	}
	if _, err := c.Put(ctx, ossapi.PutRequest{Key: "k", Body: bytes.NewReader([]byte("x")), Size: 1}); err != nil {
		t.Errorf("put with requester pays: %v", err)
	}
}

func TestStatsCountBytes(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, nil)
	ctx := context.Background()
	data := bytes.Repeat([]byte("z"), 12345)
	if _, err := c.Put(ctx, ossapi.PutRequest{Key: "s", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	r, err := c.GetRange(ctx, ossapi.GetRequest{Key: "s", Offset: 100, Length: 1000})
	if err != nil {
		t.Fatal(err)
	}
	buf := new(bytes.Buffer)
	buf.ReadFrom(r.Body)
	r.Body.Close()
	st := c.Stats()
	if st["PutObject"].BytesOut != 12345 || st["GetObject"].BytesIn != 1000 || st.Total() != 2 {
		t.Errorf("stats %+v", st)
	}
	if st["GetObject"].Latency <= 0 {
		t.Errorf("no latency recorded: %+v", st["GetObject"])
	}
}

// failingCredentials is a CredentialsProvider that always fails like
// package auth past expiry, quoting a refused connection to STS.
type failingCredentials struct{ calls atomic.Int64 }

func (f *failingCredentials) Credentials(context.Context) (ossapi.Credentials, error) {
	f.calls.Add(1)
	return ossapi.Credentials{}, &ossapi.Error{Op: "Credentials", Kind: ossapi.KindExpired,
		Message: "credentials expired and the last refresh failed: dial tcp 127.0.0.1:1: connect: connection refused"}
}

// TestCredentialsErrorNotRetried: an error of the credentials provider is
// returned at once with its kind, never retried by the SDK, even when its
// text reads like a network error.
func TestCredentialsErrorNotRetried(t *testing.T) {
	srv := newServer(t)
	creds := &failingCredentials{}
	c := newClient(t, srv, func(cfg *ossapi.Config) { cfg.Credentials, cfg.RetryMax = creds, 5 })
	_, err := c.Head(context.Background(), "k", ossapi.HeadOptions{})
	if ossapi.KindOf(err) != ossapi.KindExpired {
		t.Errorf("Head with failing credentials: %v; want KindExpired", err)
	}
	if n := creds.calls.Load(); n != 1 {
		t.Errorf("the credentials were asked %d times for one request; want 1 (no retry)", n)
	}
	if n := len(srv.Counts()); n != 0 {
		t.Errorf("the server received requests %v; want none", srv.Counts())
	}
}

// TestThrottled: OSS's answer to a request rate over the account's limit
// (503 TotalQpsLimitExceeded) is retried by the SDK, and reaches the caller
// as KindThrottled when the retries run out.
func TestThrottled(t *testing.T) {
	srv, err := osstest.NewServer(osstest.Options{Region: testRegion, Buckets: []string{"test"},
		Credentials: map[string]string{testAK: testSK}, Network: osstest.Network{QPS: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.PutObject("test", "k", []byte("v"), nil)
	// Two attempts within a second: the first request takes the second's
	// slot, so its retry is refused too unless a second has passed.
	c := newClient(t, srv, func(cfg *ossapi.Config) { cfg.RetryMax = 2 })
	start := time.Now() // before the first request: its slot is taken from here on
	if _, err := c.Head(context.Background(), "k", ossapi.HeadOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Head(context.Background(), "k", ossapi.HeadOptions{})
	attempts := srv.Count("HeadObject") - 1
	switch {
	case err == nil && time.Since(start) < time.Second:
		t.Fatalf("a second request within one second at --qps 1 succeeded")
	case err == nil:
		t.Logf("the retry came a second later and succeeded (%d attempts)", attempts)
	case ossapi.KindOf(err) != ossapi.KindThrottled || ossapi.CodeOf(err) != "TotalQpsLimitExceeded":
		t.Errorf("throttled request: %v; want KindThrottled, TotalQpsLimitExceeded", err)
	}
	if attempts != 2 {
		t.Errorf("the server saw %d attempts of the throttled request; want 2 (retried once)", attempts)
	}
}

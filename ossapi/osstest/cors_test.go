package osstest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

const (
	corsAK = "LTAIcorstest"
	corsSK = "cors-secret"
)

func corsServer(t *testing.T) (*osstest.Server, *oss.Client) {
	t.Helper()
	srv, err := osstest.NewServer(osstest.Options{Region: "cn-hangzhou", Buckets: []string{"web", "plain"},
		Credentials: map[string]string{corsAK: corsSK}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	cfg := oss.LoadDefaultConfig().WithRegion("cn-hangzhou").WithEndpoint(srv.URL()).
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(corsAK, corsSK))
	return srv, oss.NewClient(cfg)
}

func serviceCode(err error) (string, int) {
	var se *oss.ServiceError
	if errors.As(err, &se) {
		return se.Code, se.StatusCode
	}
	return "", 0
}

// preflight sends an unsigned OPTIONS like a browser.
func preflight(t *testing.T, target, origin, method, headers string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if method != "" {
		req.Header.Set("Access-Control-Request-Method", method)
	}
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestBucketCORS(t *testing.T) {
	srv, c := corsServer(t)
	ctx := context.Background()

	_, err := c.GetBucketCors(ctx, &oss.GetBucketCorsRequest{Bucket: oss.Ptr("web")})
	if code, status := serviceCode(err); code != "NoSuchCORSConfiguration" || status != 404 {
		t.Fatalf("GetBucketCors before any: %v", err)
	}
	resp, body := preflight(t, srv.URL()+"/web/a.txt", "https://app.example.com", "GET", "")
	if resp.StatusCode != 403 || !strings.Contains(body, "AccessForbidden") {
		t.Fatalf("preflight without CORS: %d %s", resp.StatusCode, body)
	}

	age := int64(300)
	_, err = c.PutBucketCors(ctx, &oss.PutBucketCorsRequest{Bucket: oss.Ptr("web"), CORSConfiguration: &oss.CORSConfiguration{
		CORSRules: []oss.CORSRule{
			{AllowedOrigins: []string{"https://*.example.com"}, AllowedMethods: []string{"GET", "POST"},
				AllowedHeaders: []string{"x-oss-*", "content-type"}, ExposeHeaders: []string{"ETag", "x-oss-request-id"}, MaxAgeSeconds: &age},
			{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"HEAD"}},
		},
		ResponseVary: oss.Ptr(true),
	}})
	if err != nil {
		t.Fatalf("PutBucketCors: %v", err)
	}
	got, err := c.GetBucketCors(ctx, &oss.GetBucketCorsRequest{Bucket: oss.Ptr("web")})
	if err != nil {
		t.Fatalf("GetBucketCors: %v", err)
	}
	rules := got.CORSConfiguration.CORSRules
	if len(rules) != 2 || rules[0].AllowedOrigins[0] != "https://*.example.com" || len(rules[0].AllowedMethods) != 2 ||
		rules[0].MaxAgeSeconds == nil || *rules[0].MaxAgeSeconds != 300 || rules[1].AllowedMethods[0] != "HEAD" ||
		got.CORSConfiguration.ResponseVary == nil || !*got.CORSConfiguration.ResponseVary {
		t.Fatalf("GetBucketCors = %+v", got.CORSConfiguration)
	}

	// A matching preflight.
	resp, body = preflight(t, srv.URL()+"/web/dir/a.txt", "https://app.example.com", "POST", "Content-Type, X-OSS-Meta-Owner")
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		h.Get("Access-Control-Allow-Methods") != "GET, POST" || h.Get("Access-Control-Max-Age") != "300" ||
		h.Get("Access-Control-Allow-Headers") != "content-type, x-oss-meta-owner" ||
		h.Get("Access-Control-Expose-Headers") != "ETag, x-oss-request-id" || h.Get("Vary") != "Origin" {
		t.Fatalf("preflight: %d %v %s", resp.StatusCode, h, body)
	}
	// On the bucket root too (where forms post).
	if resp, body := preflight(t, srv.URL()+"/web/", "https://app.example.com", "POST", ""); resp.StatusCode != 200 {
		t.Fatalf("preflight on the bucket: %d %s", resp.StatusCode, body)
	}
	// The wildcard rule answers "*".
	if resp, _ := preflight(t, srv.URL()+"/web/a", "http://elsewhere.test", "HEAD", ""); resp.StatusCode != 200 ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("wildcard origin: %d %v", resp.StatusCode, resp.Header)
	}
	// Refusals: origin, method, header not allowed; headers missing.
	for _, tc := range []struct{ origin, method, headers string }{
		{"https://evil.test", "GET", ""},
		{"https://example.com", "GET", ""}, // the rule wants a subdomain
		{"https://app.example.com", "DELETE", ""},
		{"https://app.example.com", "GET", "authorization"},
		{"", "GET", ""},
		{"https://app.example.com", "", ""},
	} {
		resp, body := preflight(t, srv.URL()+"/web/a", tc.origin, tc.method, tc.headers)
		if resp.StatusCode != 403 || !strings.Contains(body, "<Code>AccessForbidden</Code>") || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight %+v: %d %v %s, want 403 AccessForbidden", tc, resp.StatusCode, resp.Header, body)
		}
	}
	if resp, body := preflight(t, srv.URL()+"/nosuch/a", "https://app.example.com", "GET", ""); resp.StatusCode != 404 {
		t.Errorf("preflight on a missing bucket: %d %s", resp.StatusCode, body)
	}
	// The SDK's own OptionObject (signed) works too.
	or, err := c.OptionObject(ctx, &oss.OptionObjectRequest{Bucket: oss.Ptr("web"), Key: oss.Ptr("k"),
		Origin: oss.Ptr("https://a.example.com"), AccessControlRequestMethod: oss.Ptr("GET")})
	if err != nil || oss.ToString(or.AccessControlAllowOrigin) != "https://a.example.com" {
		t.Fatalf("OptionObject: %+v %v", or, err)
	}

	// Actual requests get Access-Control-Allow-Origin when a rule matches.
	if err := srv.PutObject("web", "pub.txt", []byte("hi"), nil); err != nil {
		t.Fatal(err)
	}
	pre, err := c.Presign(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("web"), Key: oss.Ptr("pub.txt")})
	if err != nil {
		t.Fatal(err)
	}
	get := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, pre.URL, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := get("https://app.example.com"); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		r.Header.Get("Access-Control-Expose-Headers") != "ETag, x-oss-request-id" {
		t.Fatalf("GET with an allowed origin: %d %v", r.StatusCode, r.Header)
	}
	if r := get("https://evil.test"); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("GET with another origin: %d %v", r.StatusCode, r.Header)
	}
	if r := get(""); r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Vary") != "Origin" {
		t.Fatalf("GET without origin: %v", r.Header)
	}

	// Invalid configurations.
	for _, cfg := range []*oss.CORSConfiguration{
		{CORSRules: []oss.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"PATCH"}}}},
		{CORSRules: []oss.CORSRule{{AllowedOrigins: []string{"*.a.*"}, AllowedMethods: []string{"GET"}}}},
		{CORSRules: []oss.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}, ExposeHeaders: []string{"x-*"}}}},
		{CORSRules: []oss.CORSRule{{AllowedMethods: []string{"GET"}}}},
	} {
		_, err := c.PutBucketCors(ctx, &oss.PutBucketCorsRequest{Bucket: oss.Ptr("plain"), CORSConfiguration: cfg})
		if _, status := serviceCode(err); status != 400 {
			t.Errorf("PutBucketCors(%+v) = %v, want 400", cfg.CORSRules, err)
		}
	}
	// Unsigned configuration changes are refused.
	req, _ := http.NewRequest(http.MethodDelete, srv.URL()+"/web/?cors", nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 403 {
		t.Fatalf("unsigned DeleteBucketCors: %v %v", r, err)
	}

	if _, err := c.DeleteBucketCors(ctx, &oss.DeleteBucketCorsRequest{Bucket: oss.Ptr("web")}); err != nil {
		t.Fatalf("DeleteBucketCors: %v", err)
	}
	if resp, _ := preflight(t, srv.URL()+"/web/a", "https://app.example.com", "GET", ""); resp.StatusCode != 403 {
		t.Fatalf("preflight after DeleteBucketCors: %d", resp.StatusCode)
	}
	if r := get("https://app.example.com"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("GET after DeleteBucketCors still has CORS headers: %v", r.Header)
	}
}

func TestDefaultCORS(t *testing.T) {
	srv, c := corsServer(t)
	if err := srv.SetDefaultCORS([]osstest.CORSRule{osstest.AllowOriginRule("*")}); err != nil {
		t.Fatal(err)
	}
	resp, body := preflight(t, srv.URL()+"/plain/", "http://localhost:8080", "POST", "content-type")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("default rule preflight: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// A bucket's own rules replace the default.
	if err := srv.SetBucketCORS("web", []osstest.CORSRule{{AllowedOrigins: []string{"https://only.test"}, AllowedMethods: []string{"GET"}}}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := preflight(t, srv.URL()+"/web/a", "http://localhost:8080", "GET", ""); resp.StatusCode != 403 {
		t.Fatalf("own rules should replace the default: %d", resp.StatusCode)
	}
	if _, err := c.GetBucketCors(context.Background(), &oss.GetBucketCorsRequest{Bucket: oss.Ptr("plain")}); err == nil {
		t.Fatalf("GetBucketCors reports the default rules as the bucket's")
	}
	if err := srv.SetDefaultCORS([]osstest.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"FETCH"}}}); err == nil {
		t.Fatalf("SetDefaultCORS accepted an invalid method")
	}
}

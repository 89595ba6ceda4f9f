// Package compat proves that osslocal answers the official OSS SDKs (Go SDK
// v2 and the Node SDK ali-oss) the way OSS does, for the operations ossmount
// and its users rely on. Each test starts the osslocal binary and talks to
// it over real HTTP with only an endpoint, a region and keys configured.
package compat

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
)

const (
	ak     = "LTAIcompatkey"
	sk     = "compat-secret-0123"
	region = "cn-hangzhou"
	bucket = "compat"
)

// startOsslocal builds and runs osslocal on a free loopback port and
// returns its endpoint URL.
func startOsslocal(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "osslocal")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/osslocal").CombinedOutput(); err != nil {
		t.Fatalf("build osslocal: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--bucket", bucket, "--region", region)
	cmd.Env = append(os.Environ(), "OSSLOCAL_ACCESS_KEY_ID="+ak, "OSSLOCAL_ACCESS_KEY_SECRET="+sk)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	found := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if _, u, ok := strings.Cut(lines.Text(), "listening on "); ok {
				found <- strings.TrimSpace(u)
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatal("osslocal exited without printing its endpoint")
		}
		return u
	case <-time.After(20 * time.Second):
		t.Fatal("osslocal did not print its endpoint in 20 s")
	}
	return ""
}

func sdkClient(endpoint, secret string, v1 bool) *oss.Client {
	cfg := oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, secret)).
		WithRegion(region).WithEndpoint(endpoint)
	if v1 {
		cfg = cfg.WithSignatureVersion(oss.SignatureVersionV1)
	}
	return oss.NewClient(cfg)
}

func serviceCode(err error) string {
	var se *oss.ServiceError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

func TestGoSDK(t *testing.T) {
	endpoint := startOsslocal(t)
	for _, v1 := range []bool{false, true} {
		t.Run(map[bool]string{false: "V4", true: "V1"}[v1], func(t *testing.T) { goSDKChecks(t, endpoint, v1) })
	}
}

func goSDKChecks(t *testing.T, endpoint string, v1 bool) {
	ctx := context.Background()
	c := sdkClient(endpoint, sk, v1)
	pfx := fmt.Sprintf("go-%v-%d/", v1, time.Now().UnixNano())
	key := pfx + "dir/hello world+.txt"
	b := oss.Ptr(bucket)
	_, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: b, Key: oss.Ptr(key), Body: strings.NewReader("hello from go"),
		Metadata: map[string]string{"Color": "blue"}, ContentType: oss.Ptr("text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: b, Key: oss.Ptr(key)})
	if err != nil || h.Metadata["color"] != "blue" || oss.ToString(h.ContentType) != "text/plain" || h.ContentLength != 13 {
		t.Fatalf("head: %+v %v", h, err)
	}
	_, err = c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: b, Key: oss.Ptr(key), SourceKey: oss.Ptr(key),
		MetadataDirective: oss.Ptr("REPLACE"), Metadata: map[string]string{"color": "green"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err = c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: b, Key: oss.Ptr(key)})
	if err != nil || h.Metadata["color"] != "green" {
		t.Errorf("self-copy did not change metadata: %v %v", h.Metadata, err)
	}
	g, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: b, Key: oss.Ptr(key), Range: oss.Ptr("bytes=6-9")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(got) != "from" || oss.ToString(g.ContentRange) != "bytes 6-9/13" {
		t.Errorf("range: %q %q", got, oss.ToString(g.ContentRange))
	}
	for i := 0; i < 5; i++ {
		c.PutObject(ctx, &oss.PutObjectRequest{Bucket: b, Key: oss.Ptr(fmt.Sprintf("%slist/f%d", pfx, i)), Body: strings.NewReader("x")})
	}
	c.PutObject(ctx, &oss.PutObjectRequest{Bucket: b, Key: oss.Ptr(pfx + "list/sub/a"), Body: strings.NewReader("x")})
	p := c.NewListObjectsV2Paginator(&oss.ListObjectsV2Request{Bucket: b, Prefix: oss.Ptr(pfx + "list/"), Delimiter: oss.Ptr("/"), MaxKeys: 2})
	var objs, dirs, pages int
	for p.HasNext() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		objs += len(page.Contents)
		dirs += len(page.CommonPrefixes)
		for _, o := range page.Contents {
			if o.Owner == nil || oss.ToString(o.ETag) == "" || o.LastModified == nil {
				t.Errorf("list entry lacks owner/etag/mtime: %+v", o)
			}
		}
	}
	if objs != 5 || dirs != 1 || pages != 3 {
		t.Errorf("paginated list: %d objects %d prefixes %d pages", objs, dirs, pages)
	}
	// 64 MiB through the SDK's multipart uploader.
	data := make([]byte, 64<<20)
	rand.Read(data)
	up := c.NewUploader(func(o *oss.UploaderOptions) { o.PartSize = 8 << 20; o.ParallelNum = 4 })
	if _, err := up.UploadFrom(ctx, &oss.PutObjectRequest{Bucket: b, Key: oss.Ptr(pfx + "big.bin")}, bytes.NewReader(data)); err != nil {
		t.Fatalf("multipart upload: %v", err)
	}
	g, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: b, Key: oss.Ptr(pfx + "big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(g.Body) // the SDK checks the CRC64 of a whole-object GET
	g.Body.Close()
	if err != nil || !bytes.Equal(got, data) || oss.ToString(g.ObjectType) != "Multipart" {
		t.Errorf("multipart object: %d bytes, type %s, %v", len(got), oss.ToString(g.ObjectType), err)
	}
	a, err := c.AppendObject(ctx, &oss.AppendObjectRequest{Bucket: b, Key: oss.Ptr(pfx + "app"), Position: oss.Ptr(int64(0)), Body: strings.NewReader("one,")})
	if err != nil {
		t.Fatal(err)
	}
	a, err = c.AppendObject(ctx, &oss.AppendObjectRequest{Bucket: b, Key: oss.Ptr(pfx + "app"), Position: oss.Ptr(a.NextPosition), Body: strings.NewReader("two")})
	if err != nil || a.NextPosition != 7 {
		t.Errorf("append: %+v %v", a, err)
	}
	// Presigned URLs with a response-content-disposition override.
	disp := `attachment; filename="r.txt"`
	pr, err := c.Presign(ctx, &oss.GetObjectRequest{Bucket: b, Key: oss.Ptr(key), ResponseContentDisposition: oss.Ptr(disp)},
		oss.PresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	status, body, hdr := fetch(t, pr.URL)
	if status != 200 || body != "hello from go" || hdr.Get("Content-Disposition") != disp {
		t.Errorf("presigned GET: %d %q %q", status, body, hdr.Get("Content-Disposition"))
	}
	tampered := strings.Replace(pr.URL, "hello%20world", "hello%20World", 1)
	if status, body, _ := fetch(t, tampered); status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("tampered URL: %d %s", status, body)
	}
	pr, err = c.Presign(ctx, &oss.GetObjectRequest{Bucket: b, Key: oss.Ptr(key)}, oss.PresignExpires(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if status, body, _ := fetch(t, pr.URL); status != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") {
		t.Errorf("expired URL: %d %s", status, body)
	}
	// Wrong secret and missing key.
	_, err = sdkClient(endpoint, "wrong-secret", v1).PutObject(ctx, &oss.PutObjectRequest{Bucket: b, Key: oss.Ptr(pfx + "x"), Body: strings.NewReader("x")})
	if serviceCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	_, err = c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: b, Key: oss.Ptr(pfx + "missing")})
	if serviceCode(err) != "NoSuchKey" {
		t.Errorf("HEAD missing key: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: b, Key: oss.Ptr(key)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: b, Key: oss.Ptr(key)}); serviceCode(err) != "NoSuchKey" {
		t.Errorf("after delete: %v", err)
	}
}

func fetch(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestNodeSDK runs compat.js with ali-oss, signing with V1 and with V4.
func TestNodeSDK(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is required for the ali-oss compatibility test (apt-get install nodejs npm)")
	}
	if _, err := os.Stat("node/node_modules/ali-oss"); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = "node"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	endpoint := startOsslocal(t)
	for _, v4 := range []string{"0", "1"} {
		t.Run("V4="+v4, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "compat.js")
			cmd.Dir = "node"
			cmd.Env = append(os.Environ(), "OSS_ENDPOINT="+endpoint, "OSS_REGION=oss-"+region, "OSS_BUCKET="+bucket,
				"OSS_AK="+ak, "OSS_SK="+sk, "OSS_V4="+v4, "OSS_TMP="+t.TempDir())
			out, err := cmd.CombinedOutput()
			oks := strings.Count(string(out), "\nok ") + map[bool]int{true: 1}[strings.HasPrefix(string(out), "ok ")]
			if err != nil || oks < 17 {
				t.Errorf("ali-oss checks failed (%d ok): %v\n%s", oks, err, out)
			} else {
				t.Logf("ali-oss: %d checks passed", oks)
			}
		})
	}
}

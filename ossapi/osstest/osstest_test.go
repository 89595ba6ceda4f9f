package osstest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/signer"
)

const (
	testAK     = "LTAItestkey"
	testSK     = "test-secret-0123456789"
	testRegion = "cn-hangzhou"
)

func newTestServer(t testing.TB, opt Options) *Server {
	t.Helper()
	if opt.Region == "" {
		opt.Region = testRegion
	}
	if opt.Buckets == nil {
		opt.Buckets = []string{"test"}
	}
	if opt.Credentials == nil {
		opt.Credentials = map[string]string{testAK: testSK}
	}
	srv, err := NewServer(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

type clientOpt struct {
	ak, sk, token string
	v1            bool
	region        string
	endpoint      string
	httpClient    *http.Client
}

func newClient(srv *Server, o clientOpt) *oss.Client {
	if o.ak == "" {
		o.ak, o.sk = testAK, testSK
	}
	if o.region == "" {
		o.region = testRegion
	}
	if o.endpoint == "" {
		o.endpoint = srv.URL()
	}
	cfg := oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.ak, o.sk, o.token)).
		WithRegion(o.region).WithEndpoint(o.endpoint)
	if o.v1 {
		cfg = cfg.WithSignatureVersion(oss.SignatureVersionV1)
	}
	if o.httpClient != nil {
		cfg = cfg.WithHttpClient(o.httpClient)
	}
	return oss.NewClient(cfg)
}

// svcErr returns the SDK service error in err, failing the test if absent.
func svcErr(t *testing.T, err error, code string, status int) {
	t.Helper()
	var se *oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want service error %s, got %v", code, err)
	}
	if se.Code != code || (status != 0 && se.StatusCode != status) {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, se.StatusCode, se.Code, se.Message)
	}
}

func md5hex(b []byte) string {
	m := md5.Sum(b)
	return strings.ToUpper(hex.EncodeToString(m[:]))
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var ctx = context.Background()

func TestCRC64(t *testing.T) {
	if got := crc64.Checksum([]byte("123456789"), crcTable); got != 11051210869376104954 {
		t.Fatalf("crc64 of 123456789 = %d", got)
	}
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	res, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("crc"), Body: strings.NewReader("123456789")})
	if err != nil {
		t.Fatal(err)
	}
	if oss.ToString(res.HashCRC64) != "11051210869376104954" {
		t.Fatalf("crc header %q", oss.ToString(res.HashCRC64))
	}
	if oss.ToString(res.ETag) != `"`+md5hex([]byte("123456789"))+`"` {
		t.Fatalf("etag %q", oss.ToString(res.ETag))
	}
}

func TestObjectBasics(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v1=%v", v1), func(t *testing.T) {
			srv := newTestServer(t, Options{})
			c := newClient(srv, clientOpt{v1: v1})
			data := randBytes(3000, 1)
			key := "dir/a file+name=1&x.bin"
			_, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key), Body: bytes.NewReader(data),
				ContentType: oss.Ptr("application/x-test"), CacheControl: oss.Ptr("no-cache"),
				Metadata: map[string]string{"Color": "blue", "mode": "33188"}})
			if err != nil {
				t.Fatal(err)
			}
			g, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key)})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(g.Body)
			g.Body.Close()
			if !bytes.Equal(got, data) || oss.ToString(g.ContentType) != "application/x-test" || g.Metadata["color"] != "blue" ||
				oss.ToString(g.ObjectType) != "Normal" || oss.ToString(g.ETag) != `"`+md5hex(data)+`"` {
				t.Fatalf("get: %d bytes, type %q meta %v otype %q etag %q", len(got), oss.ToString(g.ContentType), g.Metadata, oss.ToString(g.ObjectType), oss.ToString(g.ETag))
			}
			// Seeded view.
			b, h, err := srv.GetObject("test", key)
			if err != nil || !bytes.Equal(b, data) || h.Get("X-Oss-Meta-Color") != "blue" || h.Get("Cache-Control") != "no-cache" {
				t.Fatalf("server view: %v %v", err, h)
			}
			// Head.
			hd, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key)})
			if err != nil || hd.ContentLength != 3000 || hd.Metadata["mode"] != "33188" {
				t.Fatalf("head: %v %+v", err, hd)
			}
			meta, err := c.GetObjectMeta(ctx, &oss.GetObjectMetaRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key)})
			if err != nil || meta.ContentLength != 3000 || oss.ToString(meta.ETag) != `"`+md5hex(data)+`"` {
				t.Fatalf("object meta: %v %+v", err, meta)
			}
			g, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key), ResponseContentType: oss.Ptr("text/override")})
			if err != nil || oss.ToString(g.ContentType) != "text/override" {
				t.Fatalf("response-content-type: %v", err)
			}
			g.Body.Close()
			// Ranges.
			g, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key), Range: oss.Ptr("bytes=10-19")})
			if err != nil {
				t.Fatal(err)
			}
			got, _ = io.ReadAll(g.Body)
			g.Body.Close()
			if !bytes.Equal(got, data[10:20]) || oss.ToString(g.ContentRange) != "bytes 10-19/3000" || g.HashCRC64 != nil {
				t.Fatalf("range: %d bytes %q crc %v", len(got), oss.ToString(g.ContentRange), g.HashCRC64)
			}
			// Past the end: whole object without standard behaviour, clipped with it, 416 at the end.
			g, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key), Range: oss.Ptr("bytes=2990-5000")})
			if err != nil || g.ContentLength != 3000 || g.StatusCode != 200 {
				t.Fatalf("compat range: %v", err)
			}
			g.Body.Close()
			g, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key), Range: oss.Ptr("bytes=2990-5000"), RangeBehavior: oss.Ptr("standard")})
			if err != nil || g.ContentLength != 10 || g.StatusCode != 206 {
				t.Fatalf("standard range: %v", err)
			}
			g.Body.Close()
			_, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key), Range: oss.Ptr("bytes=3000-"), RangeBehavior: oss.Ptr("standard")})
			svcErr(t, err, "InvalidRange", 416)
			// Conditionals.
			_, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key), IfMatch: oss.Ptr(`"0000"`)})
			svcErr(t, err, "PreconditionFailed", 412)
			// Missing key via HEAD: the code comes from x-oss-err.
			_, err = c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("missing")})
			svcErr(t, err, "NoSuchKey", 404)
			_, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("nobucket"), Key: oss.Ptr("x")})
			svcErr(t, err, "NoSuchBucket", 404)
			// Forbid overwrite.
			_, err = c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key), Body: strings.NewReader("x"), ForbidOverwrite: oss.Ptr("true")})
			svcErr(t, err, "FileAlreadyExists", 409)
			// Bad Content-MD5.
			_, err = c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("md5"), Body: strings.NewReader("x"), ContentMD5: oss.Ptr("1B2M2Y8AsgTpgAmY7PhCfg==")})
			svcErr(t, err, "InvalidDigest", 400)
			// Delete.
			if _, err := c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key)}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key)}); err != nil {
				t.Fatal(err)
			}
			if keys := srv.Keys("test"); len(keys) != 0 {
				t.Fatalf("keys left: %v", keys)
			}
		})
	}
}

func TestListObjectsV2(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	seed := []string{"a/1", "a/2", "a/b/3", "b/1", "c", "d+e f", "d/x", "e"}
	for _, k := range seed {
		if err := srv.PutObject("test", k, []byte(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.ListObjectsV2(ctx, &oss.ListObjectsV2Request{Bucket: oss.Ptr("test"), Delimiter: oss.Ptr("/")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range res.Contents {
		got = append(got, oss.ToString(o.Key))
		if o.Owner == nil || oss.ToString(o.Owner.ID) == "" || o.Size != int64(len(*o.Key)) || oss.ToString(o.StorageClass) != "Standard" {
			t.Errorf("entry %+v", o)
		}
	}
	for _, p := range res.CommonPrefixes {
		got = append(got, oss.ToString(p.Prefix))
	}
	if want := "c,d+e f,e,a/,b/,d/"; strings.Join(got, ",") != want || res.KeyCount != 6 {
		t.Fatalf("delimiter listing: %q (KeyCount %d)", strings.Join(got, ","), res.KeyCount)
	}
	// Pagination with the paginator, two at a time, with a delimiter.
	var all []string
	pages := 0
	p := c.NewListObjectsV2Paginator(&oss.ListObjectsV2Request{Bucket: oss.Ptr("test"), Delimiter: oss.Ptr("/"), MaxKeys: 2})
	for p.HasNext() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range page.Contents {
			all = append(all, oss.ToString(o.Key))
		}
		for _, cp := range page.CommonPrefixes {
			all = append(all, oss.ToString(cp.Prefix))
		}
	}
	sort.Strings(all)
	if strings.Join(all, ",") != "a/,b/,c,d+e f,d/,e" || pages != 3 {
		t.Fatalf("paginated: %v in %d pages", all, pages)
	}
	// Prefix and start-after, no delimiter.
	res, err = c.ListObjectsV2(ctx, &oss.ListObjectsV2Request{Bucket: oss.Ptr("test"), Prefix: oss.Ptr("a/"), StartAfter: oss.Ptr("a/1")})
	if err != nil || len(res.Contents) != 2 || oss.ToString(res.Contents[0].Key) != "a/2" {
		t.Fatalf("prefix listing: %v %+v", err, res)
	}
	_, err = c.ListObjectsV2(ctx, &oss.ListObjectsV2Request{Bucket: oss.Ptr("test"), MaxKeys: 1001})
	svcErr(t, err, "InvalidArgument", 400)
	// V1 listing with marker.
	r1, err := c.ListObjects(ctx, &oss.ListObjectsRequest{Bucket: oss.Ptr("test"), MaxKeys: 3, Marker: oss.Ptr("a/2")})
	if err != nil || len(r1.Contents) != 3 || !r1.IsTruncated || oss.ToString(r1.NextMarker) != "c" {
		t.Fatalf("v1 listing: %v %+v", err, r1)
	}
}

func TestListLarge(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	const n = 20000
	perm := rand.Perm(n)
	for _, i := range perm {
		srv.PutObject("test", fmt.Sprintf("many/%02d/f%06d", i%50, i), nil, nil)
	}
	start := time.Now()
	count := 0
	p := c.NewListObjectsV2Paginator(&oss.ListObjectsV2Request{Bucket: oss.Ptr("test"), Prefix: oss.Ptr("many/"), MaxKeys: 1000})
	prev := ""
	for p.HasNext() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if k := oss.ToString(o.Key); k <= prev {
				t.Fatalf("out of order: %q after %q", k, prev)
			} else {
				prev = k
			}
			count++
		}
	}
	if count != n {
		t.Fatalf("listed %d of %d", count, n)
	}
	res, err := c.ListObjectsV2(ctx, &oss.ListObjectsV2Request{Bucket: oss.Ptr("test"), Prefix: oss.Ptr("many/"), Delimiter: oss.Ptr("/"), MaxKeys: 1000})
	if err != nil || len(res.CommonPrefixes) != 50 || res.IsTruncated {
		t.Fatalf("dirs: %v %d", err, len(res.CommonPrefixes))
	}
	// A bound on pathological slowness (a listing that sorts or scans the
	// whole bucket per key), wide enough for -race on a loaded machine; the
	// emulator's speed is not measured here.
	if d := time.Since(start); d > time.Minute {
		t.Errorf("listing %d keys took %v", n, d)
	}
}

func TestCopyObject(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	srv.PutObject("test", "src/a b", []byte("hello"), http.Header{"X-Oss-Meta-Color": {"red"}, "Content-Type": {"text/x-src"}})
	res, err := c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("dst"), SourceKey: oss.Ptr("src/a b")})
	if err != nil || oss.ToString(res.ETag) != `"`+md5hex([]byte("hello"))+`"` {
		t.Fatalf("copy: %v %+v", err, res)
	}
	b, h, _ := srv.GetObject("test", "dst")
	if string(b) != "hello" || h.Get("X-Oss-Meta-Color") != "red" || h.Get("Content-Type") != "text/x-src" {
		t.Fatalf("copied: %q %v", b, h)
	}
	_, err = c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("dst"), SourceKey: oss.Ptr("src/a b"),
		MetadataDirective: oss.Ptr("REPLACE"), Metadata: map[string]string{"shape": "round"}, ContentType: oss.Ptr("text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	_, h, _ = srv.GetObject("test", "dst")
	if h.Get("X-Oss-Meta-Color") != "" || h.Get("X-Oss-Meta-Shape") != "round" || h.Get("Content-Type") != "text/plain" {
		t.Fatalf("replaced: %v", h)
	}
	_, err = c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("dst"), SourceKey: oss.Ptr("src/a b"), IfMatch: oss.Ptr(`"nope"`)})
	svcErr(t, err, "PreconditionFailed", 412)
	_, err = c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("dst"), SourceKey: oss.Ptr("missing")})
	svcErr(t, err, "NoSuchKey", 404)
	_, err = c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("dst"), SourceKey: oss.Ptr("src/a b"), ForbidOverwrite: oss.Ptr("true")})
	svcErr(t, err, "FileAlreadyExists", 409)
}

func TestMultipart(t *testing.T) {
	for _, dir := range []bool{false, true} {
		t.Run(fmt.Sprintf("disk=%v", dir), func(t *testing.T) {
			opt := Options{}
			if dir {
				opt.DataDir = t.TempDir()
			}
			srv := newTestServer(t, opt)
			c := newClient(srv, clientOpt{})
			src := randBytes(300<<10, 2)
			srv.PutObject("test", "source", src, nil)
			p1 := randBytes(150<<10, 3)
			tail := []byte("the end")
			init, err := c.InitiateMultipartUpload(ctx, &oss.InitiateMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("big"),
				Metadata: map[string]string{"mode": "644"}, ContentType: oss.Ptr("application/x-big")})
			if err != nil {
				t.Fatal(err)
			}
			id := init.UploadId
			if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 1 || ids[0] != oss.ToString(id) {
				t.Fatalf("upload ids %v", ids)
			}
			r1, err := c.UploadPart(ctx, &oss.UploadPartRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("big"), UploadId: id, PartNumber: 1, Body: bytes.NewReader(p1)})
			if err != nil {
				t.Fatal(err)
			}
			r2, err := c.UploadPartCopy(ctx, &oss.UploadPartCopyRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("big"), UploadId: id, PartNumber: 2,
				SourceKey: oss.Ptr("source"), Range: oss.Ptr("bytes=1000-201999")})
			if err != nil {
				t.Fatal(err)
			}
			r3, err := c.UploadPart(ctx, &oss.UploadPartRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("big"), UploadId: id, PartNumber: 3, Body: bytes.NewReader(tail)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.UploadPart(ctx, &oss.UploadPartRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("big"), UploadId: oss.Ptr("nope"), PartNumber: 1, Body: bytes.NewReader(tail)})
			svcErr(t, err, "NoSuchUpload", 404)
			lp, err := c.ListParts(ctx, &oss.ListPartsRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("big"), UploadId: id})
			if err != nil || len(lp.Parts) != 3 || lp.Parts[1].Size != 201000 {
				t.Fatalf("list parts: %v %+v", err, lp)
			}
			// Out of order.
			// (The SDK sorts parts, so send this one by hand.)
			xmlBody := "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>" + oss.ToString(r2.ETag) +
				"</ETag></Part><Part><PartNumber>1</PartNumber><ETag>" + oss.ToString(r1.ETag) + "</ETag></Part></CompleteMultipartUpload>"
			status, body := rawRequest(t, srv, "POST", "test", "big", "uploadId="+oss.ToString(id), xmlBody, nil)
			if status != 400 || !strings.Contains(body, "InvalidPartOrder") {
				t.Fatalf("parts out of order: %d %s", status, body)
			}
			// Small middle part.
			_, err = c.CompleteMultipartUpload(ctx, &oss.CompleteMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("big"), UploadId: id,
				CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: []oss.UploadPart{{PartNumber: 1, ETag: r1.ETag}, {PartNumber: 3, ETag: r3.ETag}, {PartNumber: 4, ETag: r3.ETag}}}})
			svcErr(t, err, "InvalidPart", 400)
			cr, err := c.CompleteMultipartUpload(ctx, &oss.CompleteMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("big"), UploadId: id,
				CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: []oss.UploadPart{{PartNumber: 1, ETag: r1.ETag}, {PartNumber: 2, ETag: r2.ETag}, {PartNumber: 3, ETag: r3.ETag}}}})
			if err != nil {
				t.Fatal(err)
			}
			want := append(append(append([]byte{}, p1...), src[1000:202000]...), tail...)
			m1, m2, m3 := md5.Sum(p1), md5.Sum(src[1000:202000]), md5.Sum(tail)
			all := md5.Sum(append(append(m1[:], m2[:]...), m3[:]...))
			wantETag := `"` + strings.ToUpper(hex.EncodeToString(all[:])) + `-3"`
			if oss.ToString(cr.ETag) != wantETag || oss.ToString(cr.HashCRC64) != strconv.FormatUint(crc64.Checksum(want, crcTable), 10) {
				t.Fatalf("complete: etag %s want %s, crc %s", oss.ToString(cr.ETag), wantETag, oss.ToString(cr.HashCRC64))
			}
			b, h, err := srv.GetObject("test", "big")
			if err != nil || !bytes.Equal(b, want) || h.Get("X-Oss-Object-Type") != "Multipart" || h.Get("X-Oss-Meta-Mode") != "644" || h.Get("Content-Type") != "application/x-big" {
				t.Fatalf("assembled: %v len %d %v", err, len(b), h)
			}
			if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
				t.Fatalf("upload left: %v", ids)
			}
			// EntityTooSmall, complete-all, abort.
			init, _ = c.InitiateMultipartUpload(ctx, &oss.InitiateMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("small")})
			for i := int32(1); i <= 2; i++ {
				if _, err := c.UploadPart(ctx, &oss.UploadPartRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("small"), UploadId: init.UploadId, PartNumber: i, Body: strings.NewReader("tiny")}); err != nil {
					t.Fatal(err)
				}
			}
			_, err = c.CompleteMultipartUpload(ctx, &oss.CompleteMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("small"), UploadId: init.UploadId, CompleteAll: oss.Ptr("yes")})
			svcErr(t, err, "EntityTooSmall", 400)
			lu, err := c.ListMultipartUploads(ctx, &oss.ListMultipartUploadsRequest{Bucket: oss.Ptr("test")})
			if err != nil || len(lu.Uploads) != 1 || oss.ToString(lu.Uploads[0].Key) != "small" {
				t.Fatalf("list uploads: %v %+v", err, lu)
			}
			if _, err := c.AbortMultipartUpload(ctx, &oss.AbortMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("small"), UploadId: init.UploadId}); err != nil {
				t.Fatal(err)
			}
			_, err = c.AbortMultipartUpload(ctx, &oss.AbortMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("small"), UploadId: init.UploadId})
			svcErr(t, err, "NoSuchUpload", 404)
			_, err = c.UploadPart(ctx, &oss.UploadPartRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("small"), UploadId: init.UploadId, PartNumber: 10001, Body: strings.NewReader("x")})
			if err == nil {
				t.Fatal("part 10001 accepted")
			}
		})
	}
}

func TestUploaderManager(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	data := randBytes(1<<20+12345, 4)
	u := c.NewUploader(func(o *oss.UploaderOptions) { o.PartSize = 200 << 10; o.ParallelNum = 4 })
	if _, err := u.UploadFrom(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("up")}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	b, _, _ := srv.GetObject("test", "up")
	if !bytes.Equal(b, data) {
		t.Fatal("uploaded data differs")
	}
}

func TestAppendObject(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	r, err := c.AppendObject(ctx, &oss.AppendObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("log"), Position: oss.Ptr(int64(0)), Body: strings.NewReader("12345"),
		Metadata: map[string]string{"kind": "log"}})
	if err != nil || r.NextPosition != 5 {
		t.Fatalf("append 1: %v %+v", err, r)
	}
	r, err = c.AppendObject(ctx, &oss.AppendObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("log"), Position: oss.Ptr(int64(5)), Body: strings.NewReader("6789"),
		InitHashCRC64: r.HashCRC64})
	if err != nil || r.NextPosition != 9 || oss.ToString(r.HashCRC64) != "11051210869376104954" {
		t.Fatalf("append 2: %v %+v", err, r)
	}
	_, err = c.AppendObject(ctx, &oss.AppendObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("log"), Position: oss.Ptr(int64(3)), Body: strings.NewReader("x")})
	svcErr(t, err, "PositionNotEqualToLength", 409)
	var se *oss.ServiceError
	errors.As(err, &se)
	if se.Headers.Get("x-oss-next-append-position") != "9" {
		t.Fatalf("next position header %q", se.Headers.Get("x-oss-next-append-position"))
	}
	b, h, _ := srv.GetObject("test", "log")
	if string(b) != "123456789" || h.Get("X-Oss-Object-Type") != "Appendable" || h.Get("X-Oss-Meta-Kind") != "log" {
		t.Fatalf("appended: %q %v", b, h)
	}
	srv.PutObject("test", "normal", []byte("x"), nil)
	_, err = c.AppendObject(ctx, &oss.AppendObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("normal"), Position: oss.Ptr(int64(1)), Body: strings.NewReader("x")})
	svcErr(t, err, "ObjectNotAppendable", 409)
}

func TestDeleteMultiple(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	for _, k := range []string{"a", "b+c", "d e", "keep"} {
		srv.PutObject("test", k, []byte(k), nil)
	}
	res, err := c.DeleteMultipleObjects(ctx, &oss.DeleteMultipleObjectsRequest{Bucket: oss.Ptr("test"),
		Objects: []oss.DeleteObject{{Key: oss.Ptr("a")}, {Key: oss.Ptr("b+c")}, {Key: oss.Ptr("d e")}, {Key: oss.Ptr("never")}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range res.DeletedObjects {
		got = append(got, oss.ToString(d.Key))
	}
	if strings.Join(got, ",") != "a,b+c,d e,never" {
		t.Fatalf("deleted %q", got)
	}
	if keys := srv.Keys("test"); strings.Join(keys, ",") != "keep" {
		t.Fatalf("left %v", keys)
	}
}

func presignGet(t *testing.T, c *oss.Client, key string, exp time.Duration) string {
	t.Helper()
	res, err := c.Presign(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key), ResponseContentDisposition: oss.Ptr("attachment; filename=x.txt")}, oss.PresignExpires(exp))
	if err != nil {
		t.Fatal(err)
	}
	return res.URL
}

// httpCode fetches u and returns the status and the OSS error code.
func httpCode(t *testing.T, u string) (int, string, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e struct{ Code string }
	if resp.StatusCode >= 300 {
		if err := xmlUnmarshal(body, &e); err != nil {
			t.Fatalf("error body %q: %v", body, err)
		}
	}
	return resp.StatusCode, e.Code, resp.Header, body
}

func TestPresign(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.PutObject("test", "dir/pre signed+.txt", []byte("presigned body"), nil)
	for _, v1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v1=%v", v1), func(t *testing.T) {
			t.Parallel()
			c := newClient(srv, clientOpt{v1: v1})
			u := presignGet(t, c, "dir/pre signed+.txt", time.Hour)
			status, code, h, body := httpCode(t, u)
			if status != 200 || string(body) != "presigned body" || h.Get("Content-Disposition") != "attachment; filename=x.txt" {
				t.Fatalf("presigned get: %d %s %q %v", status, code, body, h)
			}
			// Tamper with the key and with the response override.
			tampered := strings.Replace(u, "pre%20signed", "pre%20signee", 1)
			if status, code, _, _ := httpCode(t, tampered); status != 403 || code != "SignatureDoesNotMatch" {
				t.Fatalf("tampered key: %d %s", status, code)
			}
			tampered = strings.Replace(u, "x.txt", "y.txt", 1)
			if status, code, _, _ := httpCode(t, tampered); status != 403 || code != "SignatureDoesNotMatch" {
				t.Fatalf("tampered override: %d %s", status, code)
			}
			// Expired.
			u = presignGet(t, c, "dir/pre signed+.txt", time.Second)
			time.Sleep(2100 * time.Millisecond)
			if status, code, _, _ := httpCode(t, u); status != 403 || code != "AccessDenied" {
				t.Fatalf("expired: %d %s", status, code)
			}
		})
	}
}

func TestAuthErrors(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.PutObject("test", "k", []byte("x"), nil)
	for _, v1 := range []bool{false, true} {
		c := newClient(srv, clientOpt{v1: v1, ak: testAK, sk: "wrong"})
		_, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")})
		svcErr(t, err, "SignatureDoesNotMatch", 403)
		c = newClient(srv, clientOpt{v1: v1, ak: "LTAIunknown", sk: "x"})
		_, err = c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")})
		svcErr(t, err, "InvalidAccessKeyId", 403)
	}
	// V4 with additional signed headers.
	cfg := oss.LoadDefaultConfig().WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testAK, testSK)).
		WithRegion(testRegion).WithEndpoint(srv.URL()).WithAdditionalHeaders([]string{"User-Agent", "host"})
	if _, err := oss.NewClient(cfg).HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")}); err != nil {
		t.Fatalf("additional headers: %v", err)
	}
	c := newClient(srv, clientOpt{region: "cn-beijing"})
	_, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")})
	if err == nil {
		t.Fatal("wrong region accepted")
	}
	if status, code, _, _ := httpCode(t, srv.URL()+"/test/k"); status != 403 || code != "AccessDenied" {
		t.Fatalf("anonymous: %d %s", status, code)
	}
	// A skewed clock.
	req, _ := http.NewRequest("GET", srv.URL()+"/test/k", nil)
	day := time.Now().Add(-time.Hour).UTC()
	req.Header.Set("x-oss-date", day.Format(v4DateFormat))
	req.Header.Set("Authorization", "OSS4-HMAC-SHA256 Credential="+testAK+"/"+day.Format("20060102")+"/cn-hangzhou/oss/aliyun_v4_request,Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "RequestTimeTooSkewed") {
		t.Fatalf("skew: %d %s", resp.StatusCode, body)
	}
	if id := resp.Header.Get("x-oss-request-id"); len(id) != 24 || strings.ToUpper(id) != id {
		t.Fatalf("request id %q", id)
	}
}

func TestSTS(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, Options{})
	srv.PutObject("test", "k", []byte("x"), nil)
	ak, sk, token := srv.MintSTS(time.Second)
	for _, v1 := range []bool{false, true} {
		c := newClient(srv, clientOpt{ak: ak, sk: sk, token: token, v1: v1})
		if _, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")}); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(srv, clientOpt{ak: ak, sk: sk})
	_, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")})
	svcErr(t, err, "InvalidAccessKeyId", 403)
	c = newClient(srv, clientOpt{ak: ak, sk: sk, token: "bogus"})
	_, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")})
	svcErr(t, err, "InvalidSecurityToken", 403)
	// Presigned with a token.
	c = newClient(srv, clientOpt{ak: ak, sk: sk, token: token})
	if status, code, _, _ := httpCode(t, presignGet(t, c, "k", time.Hour)); status != 200 {
		t.Fatalf("presigned sts: %d %s", status, code)
	}
	time.Sleep(1100 * time.Millisecond)
	_, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")})
	svcErr(t, err, "SecurityTokenExpired", 403)
}

func TestFaults(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	srv.PutObject("test", "k", randBytes(100000, 5), nil)
	srv.AddFault(Fault{Op: "GetObject", Nth: 1, Status: 500, Code: "InternalError"})
	g, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, g.Body)
	g.Body.Close()
	if n := srv.Count("GetObject"); n != 2 {
		t.Fatalf("GetObject count %d, want 2 (fault + retry)", n)
	}
	srv.ClearFaults()
	srv.ResetCounts()
	// Auth failures and faults on other keys are counted too.
	srv.AddFault(Fault{Op: "HeadObject", Key: "other", Status: 503, Code: "SlowDown", Times: 1})
	bad := newClient(srv, clientOpt{ak: "nobody", sk: "x"})
	bad.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")})
	c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("other")})
	if got := srv.Counts(); got["HeadObject"] != 3 || len(got) != 1 {
		t.Fatalf("counts %v", got)
	}
	srv.ClearFaults()
	// ResetAfter: the connection drops mid-body.
	srv.AddFault(Fault{Op: "GetObject", ResetAfter: 1000, Times: 1})
	u := presignGet(t, c, "k", time.Hour)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n != 1000 {
		t.Fatalf("reset: read %d bytes, err %v", n, err)
	}
	// Latency and stall.
	srv.AddFault(Fault{Op: "HeadObject", Latency: 200 * time.Millisecond, Times: 1})
	start := time.Now()
	if _, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("k")}); err != nil || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("latency: %v after %v", err, time.Since(start))
	}
	srv.AddFault(Fault{Op: "ListObjectsV2", Stall: true})
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = c.ListObjectsV2(cctx, &oss.ListObjectsV2Request{Bucket: oss.Ptr("test")})
	if err == nil {
		t.Fatal("stalled request succeeded")
	}
}

// TestFaultLoseResponse: a CompleteMultipartUpload whose response is lost
// has taken effect; the SDK's retry then finds no such upload.
func TestFaultLoseResponse(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	init, err := c.InitiateMultipartUpload(ctx, &oss.InitiateMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("mp")})
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(1000, 9)
	up, err := c.UploadPart(ctx, &oss.UploadPartRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("mp"), UploadId: init.UploadId,
		PartNumber: 1, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	srv.AddFault(Fault{Op: "CompleteMultipartUpload", LoseResponse: true, Times: 1})
	_, err = c.CompleteMultipartUpload(ctx, &oss.CompleteMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("mp"),
		UploadId: init.UploadId, CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: []oss.UploadPart{{PartNumber: 1, ETag: up.ETag}}}})
	svcErr(t, err, "NoSuchUpload", 404)
	if n := srv.Count("CompleteMultipartUpload"); n != 2 {
		t.Errorf("CompleteMultipartUpload count %d, want 2 (lost + retry)", n)
	}
	got, _, err := srv.GetObject("test", "mp")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the completed object: %d bytes, %v", len(got), err)
	}
}

// TestFaultSlow: a request slowed by Slow takes effect even though its
// client gave up meanwhile (OSS finishes what it started).
func TestFaultSlow(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	srv.PutObject("test", "src", []byte("data"), nil)
	srv.AddFault(Fault{Op: "CopyObject", Slow: 300 * time.Millisecond, Times: 1})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := c.CopyObject(short, &oss.CopyObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("dst"), SourceKey: oss.Ptr("src")})
	if err == nil {
		t.Fatal("the client did not give up on the slow copy")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got, _, err := srv.GetObject("test", "dst"); err == nil {
			if string(got) != "data" {
				t.Fatalf("the copy holds %q", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the copy whose client gave up was never made")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// postForm uploads with a hand-built V4 PostObject form.
func postForm(t *testing.T, srv *Server, key string, data []byte, cond []any, extra map[string]string) (int, string) {
	t.Helper()
	now := time.Now().UTC()
	day := now.Format("20060102")
	cred := testAK + "/" + day + "/" + testRegion + "/oss/aliyun_v4_request"
	date := now.Format(v4DateFormat)
	conds := append([]any{
		map[string]string{"bucket": "test"},
		map[string]string{"x-oss-signature-version": "OSS4-HMAC-SHA256"},
		map[string]string{"x-oss-credential": cred},
		map[string]string{"x-oss-date": date},
	}, cond...)
	pol, _ := json.Marshal(map[string]any{"expiration": now.Add(time.Hour).Format("2006-01-02T15:04:05.000Z"), "conditions": conds})
	policy := base64.StdEncoding.EncodeToString(pol)
	k := []byte("aliyun_v4" + testSK)
	for _, s := range []string{day, testRegion, "oss", "aliyun_v4_request"} {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(s))
		k = m.Sum(nil)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(policy))
	sig := hex.EncodeToString(m.Sum(nil))

	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fields := [][2]string{{"key", key}, {"policy", policy}, {"x-oss-signature-version", "OSS4-HMAC-SHA256"},
		{"x-oss-credential", cred}, {"x-oss-date", date}, {"x-oss-signature", sig}, {"success_action_status", "201"}}
	for k, v := range extra {
		fields = append(fields, [2]string{k, v})
	}
	for _, f := range fields {
		w.WriteField(f[0], f[1])
	}
	fw, _ := w.CreateFormFile("file", "upload.txt")
	fw.Write(data)
	w.Close()
	resp, err := http.Post(srv.URL()+"/test", w.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestPostObject(t *testing.T) {
	srv := newTestServer(t, Options{})
	cond := []any{[]any{"starts-with", "$key", "uploads/"}, []any{"content-length-range", 1, 100}}
	status, body := postForm(t, srv, "uploads/${filename}", []byte("form data"), cond, map[string]string{"x-oss-meta-Origin": "form", "Content-Type": "text/x-form"})
	if status != 201 || !strings.Contains(body, "<Key>uploads/upload.txt</Key>") {
		t.Fatalf("post: %d %s", status, body)
	}
	b, h, err := srv.GetObject("test", "uploads/upload.txt")
	if err != nil || string(b) != "form data" || h.Get("X-Oss-Meta-Origin") != "form" || h.Get("Content-Type") != "text/x-form" {
		t.Fatalf("posted object: %v %q %v", err, b, h)
	}
	status, body = postForm(t, srv, "elsewhere/x", []byte("form data"), cond, nil)
	if status != 403 || !strings.Contains(body, "Invalid according to Policy") {
		t.Fatalf("key outside policy: %d %s", status, body)
	}
	status, body = postForm(t, srv, "uploads/big", bytes.Repeat([]byte("x"), 101), cond, nil)
	if status != 403 || !strings.Contains(body, "Invalid according to Policy") {
		t.Fatalf("too big: %d %s", status, body)
	}
	// V1 form with a security token and a 200 answer.
	ak, sk, token := srv.MintSTS(time.Hour)
	pol, _ := json.Marshal(map[string]any{"expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"conditions": []any{[]any{"eq", "$key", "v1.txt"}}})
	policy := base64.StdEncoding.EncodeToString(pol)
	m := hmac.New(sha1.New, []byte(sk))
	m.Write([]byte(policy))
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range [][2]string{{"Key", "v1.txt"}, {"OSSAccessKeyId", ak}, {"Policy", policy}, {"Signature", base64.StdEncoding.EncodeToString(m.Sum(nil))},
		{"x-oss-security-token", token}, {"success_action_status", "200"}} {
		w.WriteField(f[0], f[1])
	}
	fw, _ := w.CreateFormFile("file", "ignored")
	fw.Write([]byte("v1 form"))
	w.Close()
	resp, err := http.Post(srv.URL()+"/test", w.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+md5hex([]byte("v1 form"))+`"` {
		t.Fatalf("v1 post: %d %v", resp.StatusCode, resp.Header)
	}
	if b, _, _ := srv.GetObject("test", "v1.txt"); string(b) != "v1 form" {
		t.Fatalf("v1 post object %q", b)
	}
	if srv.Count("PostObject") != 4 {
		t.Fatalf("PostObject count %d", srv.Count("PostObject"))
	}
}

func TestRequesterPays(t *testing.T) {
	srv := newTestServer(t, Options{Buckets: []string{"test", "paid"}, RequesterPays: []string{"paid"}})
	c := newClient(srv, clientOpt{})
	_, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("paid"), Key: oss.Ptr("k"), Body: strings.NewReader("x")})
	svcErr(t, err, "AccessDenied", 403)
	_, err = c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("paid"), Key: oss.Ptr("k"), Body: strings.NewReader("x"), RequestPayer: oss.Ptr("requester")})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBuckets(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	info, err := c.GetBucketInfo(ctx, &oss.GetBucketInfoRequest{Bucket: oss.Ptr("test")})
	if err != nil || oss.ToString(info.BucketInfo.Name) != "test" || oss.ToString(info.BucketInfo.Location) != "oss-cn-hangzhou" {
		t.Fatalf("bucket info: %v %+v", err, info)
	}
	_, err = c.GetBucketInfo(ctx, &oss.GetBucketInfoRequest{Bucket: oss.Ptr("nope")})
	svcErr(t, err, "NoSuchBucket", 404)
	if _, err := c.PutBucket(ctx, &oss.PutBucketRequest{Bucket: oss.Ptr("fresh")}); err != nil {
		t.Fatal(err)
	}
	loc, err := c.GetBucketLocation(ctx, &oss.GetBucketLocationRequest{Bucket: oss.Ptr("fresh")})
	if err != nil || oss.ToString(loc.LocationConstraint) != "oss-cn-hangzhou" {
		t.Fatalf("location: %v %+v", err, loc)
	}
	lb, err := c.ListBuckets(ctx, &oss.ListBucketsRequest{})
	if err != nil || len(lb.Buckets) != 2 {
		t.Fatalf("list buckets: %v %+v", err, lb)
	}
	srv.PutObject("fresh", "x", nil, nil)
	_, err = c.DeleteBucket(ctx, &oss.DeleteBucketRequest{Bucket: oss.Ptr("fresh")})
	svcErr(t, err, "BucketNotEmpty", 409)
	c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr("fresh"), Key: oss.Ptr("x")})
	if _, err := c.DeleteBucket(ctx, &oss.DeleteBucketRequest{Bucket: oss.Ptr("fresh")}); err != nil {
		t.Fatal(err)
	}
}

func TestVirtualHosted(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.PutObject("test", "dir/k", []byte("vhost"), nil)
	addr := strings.TrimPrefix(srv.URL(), "http://")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	for _, v1 := range []bool{false, true} {
		c := newClient(srv, clientOpt{endpoint: "http://oss-cn-hangzhou.aliyuncs.com", httpClient: hc, v1: v1})
		g, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("dir/k")})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(g.Body)
		g.Body.Close()
		if string(b) != "vhost" {
			t.Fatalf("got %q", b)
		}
		res, err := c.ListObjectsV2(ctx, &oss.ListObjectsV2Request{Bucket: oss.Ptr("test")})
		if err != nil || len(res.Contents) != 1 {
			t.Fatalf("list: %v", err)
		}
	}
}

func TestDataDirRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := NewServer(Options{Region: testRegion, Buckets: []string{"test"}, Credentials: map[string]string{testAK: testSK}, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(srv, clientOpt{})
	if _, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("keep/me"), Body: strings.NewReader("persisted"),
		Metadata: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	srv.PutObject("test", "gone", []byte("x"), nil)
	c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("gone")})
	c.AppendObject(ctx, &oss.AppendObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("app"), Position: oss.Ptr(int64(0)), Body: strings.NewReader("ab")})
	c.AppendObject(ctx, &oss.AppendObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("app"), Position: oss.Ptr(int64(2)), Body: strings.NewReader("cd")})
	init, err := c.InitiateMultipartUpload(ctx, &oss.InitiateMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("mp")})
	if err != nil {
		t.Fatal(err)
	}
	c.UploadPart(ctx, &oss.UploadPartRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("mp"), UploadId: init.UploadId, PartNumber: 1, Body: strings.NewReader("part")})
	srv.Close()
	// Data files no record names (what a crash between writing the data
	// and its record leaves) are removed at start.
	strays := []string{filepath.Join(dir, "test", "obj", "00", "stray.data"), filepath.Join(dir, "test", "mpu", oss.ToString(init.UploadId), "part-9.data")}
	for _, p := range strays {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("stray"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	srv2, err := NewServer(Options{Region: testRegion, Credentials: map[string]string{testAK: testSK}, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	for _, p := range strays {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stray data file %s after restart: %v", p, err)
		}
	}
	if keys := srv2.Keys("test"); strings.Join(keys, ",") != "app,keep/me" {
		t.Fatalf("keys after restart: %v", keys)
	}
	b, h, err := srv2.GetObject("test", "keep/me")
	if err != nil || string(b) != "persisted" || h.Get("X-Oss-Meta-A") != "b" {
		t.Fatalf("after restart: %v %q %v", err, b, h)
	}
	if b, _, _ := srv2.GetObject("test", "app"); string(b) != "abcd" {
		t.Fatalf("appendable after restart: %q", b)
	}
	if ids := srv2.ListMultipartUploadIDs("test"); len(ids) != 1 || ids[0] != oss.ToString(init.UploadId) {
		t.Fatalf("uploads after restart: %v", ids)
	}
	c2 := newClient(srv2, clientOpt{})
	cr, err := c2.CompleteMultipartUpload(ctx, &oss.CompleteMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("mp"), UploadId: init.UploadId, CompleteAll: oss.Ptr("yes")})
	if err != nil || cr == nil {
		t.Fatal(err)
	}
	if b, _, _ := srv2.GetObject("test", "mp"); string(b) != "part" {
		t.Fatalf("completed after restart: %q", b)
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	if _, err := NewServer(Options{Listen: "0.0.0.0:0", Credentials: map[string]string{testAK: testSK}}); err == nil {
		t.Fatal("non-loopback listen address accepted")
	}
}

func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }

// rawRequest sends a request signed (V4) by the SDK's signer package.
func rawRequest(t *testing.T, srv *Server, method, bucket, key, query, body string, h http.Header) (int, string) {
	t.Helper()
	u := srv.URL() + "/" + bucket + "/" + key
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	sc := &signer.SigningContext{Product: oss.Ptr("oss"), Region: oss.Ptr(testRegion), Bucket: oss.Ptr(bucket), Request: req,
		Credentials: &credentials.Credentials{AccessKeyID: testAK, AccessKeySecret: testSK}}
	if key != "" {
		sc.Key = oss.Ptr(key)
	}
	if err := (&signer.SignerV4{}).Sign(ctx, sc); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOddKeys(t *testing.T) {
	srv := newTestServer(t, Options{})
	keys := []string{"a//b", "ünïcødé/文件.txt", "100% sure?#frag", "sp ace/+plus&amp=;", "~tilde*star'(paren)", "dir/", "a/./b/../c"}
	for _, v1 := range []bool{false, true} {
		c := newClient(srv, clientOpt{v1: v1})
		for _, k := range keys {
			if _, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(k), Body: strings.NewReader(k)}); err != nil {
				t.Fatalf("put %q (v1=%v): %v", k, v1, err)
			}
			g, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(k)})
			if err != nil {
				t.Fatalf("get %q (v1=%v): %v", k, v1, err)
			}
			b, _ := io.ReadAll(g.Body)
			g.Body.Close()
			if string(b) != k {
				t.Fatalf("get %q: %q", k, b)
			}
		}
		res, err := c.ListObjectsV2(ctx, &oss.ListObjectsV2Request{Bucket: oss.Ptr("test"), Prefix: oss.Ptr("ünïcødé/"), Delimiter: oss.Ptr("/")})
		if err != nil || len(res.Contents) != 1 || oss.ToString(res.Contents[0].Key) != "ünïcødé/文件.txt" {
			t.Fatalf("list unicode: %v %+v", err, res)
		}
	}
	want := append([]string{}, keys...)
	sort.Strings(want)
	if got := srv.Keys("test"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("keys %q", got)
	}
	long := strings.Repeat("k", 1024)
	c := newClient(srv, clientOpt{})
	_, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(long), Body: strings.NewReader("x")})
	if err == nil {
		t.Fatal("1024-byte key accepted")
	}
	if status, body := rawRequest(t, srv, "PUT", "test", long, "", "x", nil); status != 400 || !strings.Contains(body, "KeyTooLong") {
		t.Fatalf("long key: %d %s", status, body)
	}
	if status, body := rawRequest(t, srv, "PUT", "test", "bad", "", "x", http.Header{"X-Oss-Meta-Bad_name": {"v"}}); status != 400 || !strings.Contains(body, "InvalidArgument") {
		t.Fatalf("bad meta name: %d %s", status, body)
	}
	_, err = c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("meta"), Body: strings.NewReader("x"),
		Metadata: map[string]string{"big": strings.Repeat("v", 8200)}})
	svcErr(t, err, "MetadataTooLarge", 400)
}

// TestMalformedInput: broken request bodies get OSS's own 400 errors, never
// a 500 or a crash.
func TestMalformedInput(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	init, err := c.InitiateMultipartUpload(ctx, &oss.InitiateMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("mp")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, method, key, query, body, code string }{
		{"complete with broken XML", "POST", "mp", "uploadId=" + oss.ToString(init.UploadId), "<CompleteMultipartUpload><Part>", "MalformedXML"},
		{"complete with no parts", "POST", "mp", "uploadId=" + oss.ToString(init.UploadId), "<CompleteMultipartUpload></CompleteMultipartUpload>", "MalformedXML"},
		{"complete of an unknown upload", "POST", "mp", "uploadId=0123456789ABCDEF", "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part></CompleteMultipartUpload>", "NoSuchUpload"},
		{"part number 0", "PUT", "mp", "partNumber=0&uploadId=" + oss.ToString(init.UploadId), "x", "InvalidArgument"},
		{"part number 10001", "PUT", "mp", "partNumber=10001&uploadId=" + oss.ToString(init.UploadId), "x", "InvalidArgument"},
	} {
		status, body := rawRequest(t, srv, tc.method, "test", tc.key, tc.query, tc.body, nil)
		if status >= 500 || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
			t.Errorf("%s: %d %s, want %s", tc.name, status, body, tc.code)
		}
	}
	// Multi-delete with a broken body (Content-MD5 right, XML wrong).
	bad := "<Delete><Object><Key>a</Key>"
	sum := md5.Sum([]byte(bad))
	status, body := rawRequest(t, srv, "POST", "test", "", "delete", bad, http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}})
	if status != 400 || !strings.Contains(body, "<Code>MalformedXML</Code>") {
		t.Errorf("multi-delete with broken XML: %d %s", status, body)
	}
}

// TestListMultipartUploadsPages lists uploads with a delimiter and with
// max-uploads, page by page: common prefixes and uploads in key order,
// each counted against max-uploads, with the markers of the last entry.
// (The SDK does not read CommonPrefixes of this answer: raw requests.)
func TestListMultipartUploadsPages(t *testing.T) {
	srv := newTestServer(t, Options{})
	c := newClient(srv, clientOpt{})
	ids := map[string]string{}
	for _, k := range []string{"a/1", "a/2", "b", "c/x", "d"} {
		init, err := c.InitiateMultipartUpload(ctx, &oss.InitiateMultipartUploadRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(k)})
		if err != nil {
			t.Fatal(err)
		}
		ids[k] = oss.ToString(init.UploadId)
	}
	type page struct {
		entries              string
		truncated            bool
		nextKey, nextIDOfKey string
	}
	list := func(query string) page {
		t.Helper()
		code, body := rawRequest(t, srv, "GET", "test", "", "uploads&"+query, "", nil)
		var res struct {
			IsTruncated        bool   `xml:"IsTruncated"`
			NextKeyMarker      string `xml:"NextKeyMarker"`
			NextUploadIDMarker string `xml:"NextUploadIdMarker"`
			Uploads            []struct {
				Key      string `xml:"Key"`
				UploadID string `xml:"UploadId"`
			} `xml:"Upload"`
			CommonPrefixes []string `xml:"CommonPrefixes>Prefix"`
		}
		if code != 200 || xmlUnmarshal([]byte(body), &res) != nil {
			t.Fatalf("%s: %d %s", query, code, body)
		}
		got := res.CommonPrefixes
		for _, u := range res.Uploads {
			if u.UploadID != ids[u.Key] {
				t.Errorf("%s: upload %s has id %s, want %s", query, u.Key, u.UploadID, ids[u.Key])
			}
			got = append(got, u.Key)
		}
		p := page{entries: strings.Join(got, ","), truncated: res.IsTruncated, nextKey: res.NextKeyMarker}
		for k, id := range ids {
			if id == res.NextUploadIDMarker {
				p.nextIDOfKey = k
			}
		}
		return p
	}
	for _, c := range []struct {
		query string
		want  page
	}{
		{"delimiter=%2F", page{"a/,c/,b,d", false, "d", "d"}},
		{"delimiter=%2F&max-uploads=2", page{"a/,b", true, "b", "b"}},
		{"delimiter=%2F&max-uploads=2&key-marker=b&upload-id-marker=" + ids["b"], page{"c/,d", false, "d", "d"}},
		{"delimiter=%2F&max-uploads=1&key-marker=b&upload-id-marker=" + ids["b"], page{"c/", true, "c/", ""}},
		{"max-uploads=3", page{"a/1,a/2,b", true, "b", "b"}},
		{"max-uploads=3&key-marker=b&upload-id-marker=" + ids["b"], page{"c/x,d", false, "d", "d"}},
		{"key-marker=a%2F1", page{"a/2,b,c/x,d", false, "d", "d"}},
		{"prefix=a%2F&delimiter=%2F", page{"a/1,a/2", false, "a/2", "a/2"}},
	} {
		if got := list(c.query); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.query, got, c.want)
		}
	}
}

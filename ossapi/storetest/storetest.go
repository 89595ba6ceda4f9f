// Package storetest is a conformance suite for ossapi.ObjectStore
// implementations: every method's behaviour and error contract, checked
// against a real store (the osstest emulator, or a real bucket).
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// RunConformance runs the suite on the store newStore returns. Keys are
// created under a fresh prefix and removed afterwards.
func RunConformance(t *testing.T, newStore func(t *testing.T) ossapi.ObjectStore) {
	s := newStore(t)
	ctx := context.Background()
	base := fmt.Sprintf("conformance-%d/", time.Now().UnixNano())
	t.Cleanup(func() {
		var keys []string
		tok := ""
		for {
			page, err := s.List(ctx, ossapi.ListRequest{Prefix: base, ContinuationToken: tok})
			if err != nil {
				return
			}
			for _, o := range page.Objects {
				keys = append(keys, o.Key)
			}
			if !page.IsTruncated {
				break
			}
			tok = page.NextContinuationToken
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			s.DeleteMulti(ctx, keys[:n])
			keys = keys[n:]
		}
		if ups, err := s.ListUploads(ctx, base); err == nil {
			for _, u := range ups {
				s.AbortMultipart(ctx, u.Key, u.UploadID)
			}
		}
	})
	t.Run("Probe", func(t *testing.T) {
		if err := s.Probe(ctx); err != nil {
			t.Fatalf("Probe: %v", err)
		}
	})
	t.Run("PutHeadGet", func(t *testing.T) { testPutHeadGet(t, s, base) })
	t.Run("Ranges", func(t *testing.T) { testRanges(t, s, base) })
	t.Run("NotExist", func(t *testing.T) { testNotExist(t, s, base) })
	t.Run("List", func(t *testing.T) { testList(t, s, base) })
	t.Run("Copy", func(t *testing.T) { testCopy(t, s, base) })
	t.Run("Multipart", func(t *testing.T) { testMultipart(t, s, base) })
	t.Run("Append", func(t *testing.T) { testAppend(t, s, base) })
	t.Run("StdHeaders", func(t *testing.T) { testStdHeaders(t, s, base) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, s, base) })
	t.Run("Presign", func(t *testing.T) { testPresign(t, s, base) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, s, base) })
}

func put(t *testing.T, s ossapi.ObjectStore, key string, data []byte, meta map[string]string) *ossapi.PutResult {
	t.Helper()
	r, err := s.Put(context.Background(), ossapi.PutRequest{Key: key, Body: bytes.NewReader(data), Size: int64(len(data)), Meta: meta})
	if err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
	return r
}

func get(t *testing.T, s ossapi.ObjectStore, req ossapi.GetRequest) ([]byte, *ossapi.GetResult, error) {
	t.Helper()
	r, err := s.GetRange(context.Background(), req)
	if err != nil {
		return nil, nil, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	return b, r, err
}

func randData(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func wantKind(t *testing.T, what string, err error, k ossapi.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %v", what, k)
		return
	}
	if ossapi.KindOf(err) != k {
		t.Errorf("%s: kind %v, want %v (%v)", what, ossapi.KindOf(err), k, err)
	}
	if code != "" && ossapi.CodeOf(err) != code {
		t.Errorf("%s: code %q, want %q", what, ossapi.CodeOf(err), code)
	}
}

func testPutHeadGet(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	data := []byte("hello, conformance")
	key := base + "a/hello.txt"
	r, err := s.Put(ctx, ossapi.PutRequest{Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
		Meta:    map[string]string{"color": "blue", "mode": "33188"},
		Headers: ossapi.StdHeaders{ContentType: "text/plain", CacheControl: "no-cache", ContentDisposition: "inline"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.ETag == "" || r.CRC64 == "" {
		t.Errorf("Put result lacks ETag or CRC64: %+v", r)
	}
	info, err := s.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.ETag != r.ETag || !info.Full {
		t.Errorf("Head: %+v, want size %d etag %s", info, len(data), r.ETag)
	}
	if info.Meta["color"] != "blue" || info.Meta["mode"] != "33188" {
		t.Errorf("Head meta %v", info.Meta)
	}
	if info.Headers.ContentType != "text/plain" || info.Headers.CacheControl != "no-cache" || info.Headers.ContentDisposition != "inline" {
		t.Errorf("Head headers %+v", info.Headers)
	}
	if info.LastModified.IsZero() || time.Since(info.LastModified) > time.Hour {
		t.Errorf("Head LastModified %v", info.LastModified)
	}
	if info.CRC64 != r.CRC64 {
		t.Errorf("Head CRC64 %q, Put said %q", info.CRC64, r.CRC64)
	}
	b, g, err := get(t, s, ossapi.GetRequest{Key: key, Length: -1})
	if err != nil || !bytes.Equal(b, data) || g.Size != int64(len(data)) || g.ETag != r.ETag {
		t.Errorf("Get whole: %q %+v %v", b, g, err)
	}
	_, err = s.Head(ctx, key, ossapi.HeadOptions{IfMatch: `"0123456789ABCDEF0123456789ABCDEF"`})
	wantKind(t, "Head If-Match other", err, ossapi.KindPrecondition, "")
	_, _, err = get(t, s, ossapi.GetRequest{Key: key, Length: -1, IfMatch: `"0123456789ABCDEF0123456789ABCDEF"`})
	wantKind(t, "Get If-Match other", err, ossapi.KindPrecondition, "PreconditionFailed")
	if _, _, err := get(t, s, ossapi.GetRequest{Key: key, Length: -1, IfMatch: r.ETag}); err != nil {
		t.Errorf("Get If-Match same: %v", err)
	}
	// Forbid overwrite.
	_, err = s.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader("x"), Size: 1, ForbidOverwrite: true})
	wantKind(t, "Put forbid-overwrite", err, ossapi.KindExist, "FileAlreadyExists")
	// Empty object.
	put(t, s, base+"empty", nil, nil)
	b, g, err = get(t, s, ossapi.GetRequest{Key: base + "empty", Length: -1})
	if err != nil || len(b) != 0 || g.Size != 0 {
		t.Errorf("Get empty: %q %+v %v", b, g, err)
	}
	b, _, err = get(t, s, ossapi.GetRequest{Key: base + "empty", Offset: 0, Length: 4096})
	if err != nil || len(b) != 0 {
		t.Errorf("ranged Get of empty object: %q %v", b, err)
	}
}

func testRanges(t *testing.T, s ossapi.ObjectStore, base string) {
	data := randData(300 << 10)
	key := base + "ranges.bin"
	put(t, s, key, data, nil)
	for _, c := range []struct{ off, n int64 }{{0, 1}, {1, 100}, {4095, 8193}, {300<<10 - 10, 10}, {300<<10 - 10, 100}, {100, -1}} {
		b, g, err := get(t, s, ossapi.GetRequest{Key: key, Offset: c.off, Length: c.n})
		end := int64(len(data))
		if c.n >= 0 {
			end = min(end, c.off+c.n)
		}
		if err != nil || !bytes.Equal(b, data[c.off:end]) {
			t.Errorf("range %d+%d: %d bytes, %v", c.off, c.n, len(b), err)
			continue
		}
		if g.Size != int64(len(data)) || g.ContentLength != end-c.off {
			t.Errorf("range %d+%d: size %d length %d", c.off, c.n, g.Size, g.ContentLength)
		}
	}
	_, _, err := get(t, s, ossapi.GetRequest{Key: key, Offset: int64(len(data)), Length: 10})
	wantKind(t, "range at end", err, ossapi.KindInvalid, "InvalidRange")
}

func testNotExist(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	_, err := s.Head(ctx, base+"missing", ossapi.HeadOptions{})
	wantKind(t, "Head missing", err, ossapi.KindNotExist, "NoSuchKey")
	_, _, err = get(t, s, ossapi.GetRequest{Key: base + "missing", Length: -1})
	wantKind(t, "Get missing", err, ossapi.KindNotExist, "NoSuchKey")
	_, err = s.Copy(ctx, ossapi.CopyRequest{SrcKey: base + "missing", DstKey: base + "x"})
	wantKind(t, "Copy missing", err, ossapi.KindNotExist, "NoSuchKey")
	err = s.AbortMultipart(ctx, base+"x", "0004B9894A22E5B1888A1E29F8236E2D")
	wantKind(t, "Abort unknown", err, ossapi.KindNotExist, "NoSuchUpload")
	if err := s.Delete(ctx, base+"missing"); err != nil {
		t.Errorf("Delete missing: %v", err)
	}
}

func testList(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	p := base + "list/"
	want := []string{p + "a+b c.txt", p + "d1/", p + "d1/x", p + "d2/y/z", p + "f%20.txt", p + "é.txt"}
	for i := 0; i < 25; i++ {
		want = append(want, fmt.Sprintf("%sn/%03d", p, i))
	}
	for _, k := range want {
		put(t, s, k, []byte("k"), nil)
	}
	sort.Strings(want)
	// Flat, paginated by 7.
	var got []string
	tok := ""
	pages := 0
	for {
		page, err := s.List(ctx, ossapi.ListRequest{Prefix: p, ContinuationToken: tok, MaxKeys: 7})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range page.Objects {
			got = append(got, o.Key)
			if o.ETag == "" || o.LastModified.IsZero() || o.Size != 1 && !strings.HasSuffix(o.Key, "/") {
				t.Errorf("list entry %+v", o)
			}
		}
		if !page.IsTruncated {
			break
		}
		tok = page.NextContinuationToken
	}
	if strings.Join(got, "|") != strings.Join(want, "|") || pages != 5 {
		t.Errorf("flat list (%d pages):\n got %q\nwant %q", pages, got, want)
	}
	// Delimited.
	page, err := s.List(ctx, ossapi.ListRequest{Prefix: p, Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	var objs []string
	for _, o := range page.Objects {
		objs = append(objs, strings.TrimPrefix(o.Key, p))
	}
	var dirs []string
	for _, d := range page.CommonPrefixes {
		dirs = append(dirs, strings.TrimPrefix(d, p))
	}
	if strings.Join(objs, "|") != "a+b c.txt|f%20.txt|é.txt" || strings.Join(dirs, "|") != "d1/|d2/|n/" {
		t.Errorf("delimited list: objects %q prefixes %q", objs, dirs)
	}
	// StartAfter.
	page, err = s.List(ctx, ossapi.ListRequest{Prefix: p + "n/", StartAfter: p + "n/020"})
	if err != nil || len(page.Objects) != 4 || page.Objects[0].Key != p+"n/021" {
		t.Errorf("start-after: %+v %v", page, err)
	}
	// Missing prefix.
	page, err = s.List(ctx, ossapi.ListRequest{Prefix: base + "nothing-here/", Delimiter: "/"})
	if err != nil || len(page.Objects)+len(page.CommonPrefixes) != 0 || page.IsTruncated {
		t.Errorf("empty list: %+v %v", page, err)
	}
}

func testCopy(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	src := base + "copy/src"
	r := put(t, s, src, []byte("copy me"), map[string]string{"k": "v"})
	if _, err := s.Copy(ctx, ossapi.CopyRequest{SrcKey: src, DstKey: base + "copy/dst"}); err != nil {
		t.Fatal(err)
	}
	info, err := s.Head(ctx, base+"copy/dst", ossapi.HeadOptions{})
	if err != nil || info.Meta["k"] != "v" || info.Size != 7 {
		t.Errorf("copy kept meta: %+v %v", info, err)
	}
	// Self-copy with REPLACE changes metadata.
	_, err = s.Copy(ctx, ossapi.CopyRequest{SrcKey: src, DstKey: src, Directive: ossapi.MetadataReplace,
		Meta: map[string]string{"new": "1"}, Headers: ossapi.StdHeaders{ContentType: "text/x-new"}, SrcIfMatch: r.ETag})
	if err != nil {
		t.Fatal(err)
	}
	info, err = s.Head(ctx, src, ossapi.HeadOptions{})
	if err != nil || info.Meta["new"] != "1" || info.Meta["k"] != "" || info.Headers.ContentType != "text/x-new" {
		t.Errorf("self-copy replace: %+v %v", info, err)
	}
	b, _, _ := get(t, s, ossapi.GetRequest{Key: src, Length: -1})
	if string(b) != "copy me" {
		t.Errorf("self-copy changed data: %q", b)
	}
	_, err = s.Copy(ctx, ossapi.CopyRequest{SrcKey: src, DstKey: base + "copy/dst2", SrcIfMatch: `"00000000000000000000000000000000"`})
	wantKind(t, "copy if-match", err, ossapi.KindPrecondition, "")
	_, err = s.Copy(ctx, ossapi.CopyRequest{SrcKey: src, DstKey: base + "copy/dst", ForbidOverwrite: true})
	wantKind(t, "copy forbid-overwrite", err, ossapi.KindExist, "FileAlreadyExists")
}

func testMultipart(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	key := base + "mp/obj"
	srcData := randData(400 << 10)
	srcKey := base + "mp/src"
	src := put(t, s, srcKey, srcData, nil)
	id, err := s.InitiateMultipart(ctx, ossapi.InitiateRequest{Key: key, Meta: map[string]string{"m": "1"},
		Headers: ossapi.StdHeaders{ContentType: "application/x-test"}})
	if err != nil {
		t.Fatal(err)
	}
	ups, err := s.ListUploads(ctx, base+"mp/")
	if err != nil || len(ups) != 1 || ups[0].UploadID != id {
		t.Errorf("ListUploads: %+v %v", ups, err)
	}
	p1data := randData(200 << 10)
	p3data := []byte("tail")
	p1, err := s.UploadPart(ctx, ossapi.UploadPartRequest{Key: key, UploadID: id, PartNumber: 1, Body: bytes.NewReader(p1data), Size: int64(len(p1data))})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.UploadPartCopy(ctx, ossapi.UploadPartCopyRequest{Key: key, UploadID: id, PartNumber: 2, SourceKey: srcKey,
		SourceOffset: 100 << 10, SourceLength: 150 << 10, SourceIfMatch: src.ETag})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UploadPartCopy(ctx, ossapi.UploadPartCopyRequest{Key: key, UploadID: id, PartNumber: 9, SourceKey: srcKey,
		SourceOffset: 0, SourceLength: 10, SourceIfMatch: `"00000000000000000000000000000000"`})
	wantKind(t, "UploadPartCopy if-match", err, ossapi.KindPrecondition, "")
	p3, err := s.UploadPart(ctx, ossapi.UploadPartRequest{Key: key, UploadID: id, PartNumber: 3, Body: bytes.NewReader(p3data), Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.CompleteMultipart(ctx, ossapi.CompleteRequest{Key: key, UploadID: id, Parts: []ossapi.Part{*p1, *p2, *p3}})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte{}, p1data...), srcData[100<<10:250<<10]...), p3data...)
	b, g, err := get(t, s, ossapi.GetRequest{Key: key, Length: -1})
	if err != nil || !bytes.Equal(b, want) || g.ETag != res.ETag {
		t.Errorf("multipart result: %d bytes (want %d) etag %s/%s %v", len(b), len(want), g.ETag, res.ETag, err)
	}
	info, err := s.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil || info.Meta["m"] != "1" || info.Headers.ContentType != "application/x-test" || info.ObjectType != "Multipart" {
		t.Errorf("multipart head: %+v %v", info, err)
	}
	// Small non-last part.
	id2, err := s.InitiateMultipart(ctx, ossapi.InitiateRequest{Key: key + "2"})
	if err != nil {
		t.Fatal(err)
	}
	q1, _ := s.UploadPart(ctx, ossapi.UploadPartRequest{Key: key + "2", UploadID: id2, PartNumber: 1, Body: strings.NewReader("small"), Size: 5})
	q2, _ := s.UploadPart(ctx, ossapi.UploadPartRequest{Key: key + "2", UploadID: id2, PartNumber: 2, Body: strings.NewReader("small"), Size: 5})
	if q1 == nil || q2 == nil {
		t.Fatal("UploadPart failed")
	}
	_, err = s.CompleteMultipart(ctx, ossapi.CompleteRequest{Key: key + "2", UploadID: id2, Parts: []ossapi.Part{*q1, *q2}})
	wantKind(t, "complete with a small part", err, ossapi.KindInvalid, "EntityTooSmall")
	if err := s.AbortMultipart(ctx, key+"2", id2); err != nil {
		t.Errorf("Abort: %v", err)
	}
	_, err = s.UploadPart(ctx, ossapi.UploadPartRequest{Key: key + "2", UploadID: id2, PartNumber: 3, Body: strings.NewReader("x"), Size: 1})
	wantKind(t, "UploadPart after abort", err, ossapi.KindNotExist, "NoSuchUpload")
	ups, err = s.ListUploads(ctx, base+"mp/")
	if err != nil || len(ups) != 0 {
		t.Errorf("uploads left: %+v %v", ups, err)
	}
}

func testAppend(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	key := base + "append.log"
	n, err := s.Append(ctx, ossapi.AppendRequest{Key: key, Position: 0, Body: strings.NewReader("one,"), Size: 4,
		Meta: map[string]string{"a": "b"}})
	if err != nil || n != 4 {
		t.Fatalf("append 1: %d %v", n, err)
	}
	n, err = s.Append(ctx, ossapi.AppendRequest{Key: key, Position: 4, Body: strings.NewReader("two"), Size: 3})
	if err != nil || n != 7 {
		t.Fatalf("append 2: %d %v", n, err)
	}
	_, err = s.Append(ctx, ossapi.AppendRequest{Key: key, Position: 4, Body: strings.NewReader("x"), Size: 1})
	wantKind(t, "append at wrong position", err, ossapi.KindPrecondition, "PositionNotEqualToLength")
	b, _, _ := get(t, s, ossapi.GetRequest{Key: key, Length: -1})
	info, _ := s.Head(ctx, key, ossapi.HeadOptions{})
	if string(b) != "one,two" || info == nil || info.ObjectType != "Appendable" || info.Meta["a"] != "b" {
		t.Errorf("appended object %q %+v", b, info)
	}
	put(t, s, base+"normal", []byte("n"), nil)
	_, err = s.Append(ctx, ossapi.AppendRequest{Key: base + "normal", Position: 1, Body: strings.NewReader("x"), Size: 1})
	wantKind(t, "append to a normal object", err, ossapi.KindInvalid, "ObjectNotAppendable")
}

// testStdHeaders: every way of writing an object (PutObject,
// InitiateMultipartUpload, CopyObject with REPLACE, the first AppendObject)
// stores all six standard headers, Content-Language included.
func testStdHeaders(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	h := ossapi.StdHeaders{ContentType: "text/x-std", ContentDisposition: `attachment; filename="a.txt"`,
		CacheControl: "max-age=60", ContentEncoding: "identity", ContentLanguage: "fr-CA",
		Expires: "Thu, 01 Jan 2037 00:00:00 GMT"}
	writes := []struct {
		name  string
		write func(key string) error
	}{
		{"PutObject", func(key string) error {
			_, err := s.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader("p"), Size: 1, Headers: h})
			return err
		}},
		{"InitiateMultipartUpload", func(key string) error {
			id, err := s.InitiateMultipart(ctx, ossapi.InitiateRequest{Key: key, Headers: h})
			if err != nil {
				return err
			}
			p, err := s.UploadPart(ctx, ossapi.UploadPartRequest{Key: key, UploadID: id, PartNumber: 1, Body: strings.NewReader("m"), Size: 1})
			if err != nil {
				return err
			}
			_, err = s.CompleteMultipart(ctx, ossapi.CompleteRequest{Key: key, UploadID: id, Parts: []ossapi.Part{*p}})
			return err
		}},
		{"CopyObject", func(key string) error {
			put(t, s, key+".src", []byte("c"), nil)
			_, err := s.Copy(ctx, ossapi.CopyRequest{SrcKey: key + ".src", DstKey: key, Directive: ossapi.MetadataReplace, Headers: h})
			return err
		}},
		{"AppendObject", func(key string) error {
			_, err := s.Append(ctx, ossapi.AppendRequest{Key: key, Position: 0, Body: strings.NewReader("a"), Size: 1, Headers: h})
			return err
		}},
	}
	for _, w := range writes {
		key := base + "std-headers/" + w.name
		if err := w.write(key); err != nil {
			t.Errorf("%s: %v", w.name, err)
			continue
		}
		info, err := s.Head(ctx, key, ossapi.HeadOptions{})
		if err != nil {
			t.Errorf("%s: Head: %v", w.name, err)
			continue
		}
		if info.Headers != h {
			t.Errorf("%s stored headers %+v\nwant %+v", w.name, info.Headers, h)
		}
	}
}

func testDelete(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	var keys []string
	for i := 0; i < 5; i++ {
		k := fmt.Sprintf("%sdel/%d", base, i)
		put(t, s, k, []byte("d"), nil)
		keys = append(keys, k)
	}
	if err := s.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	failed, err := s.DeleteMulti(ctx, append(keys[1:], base+"del/missing"))
	if err != nil || len(failed) != 0 {
		t.Fatalf("DeleteMulti: %v %v", failed, err)
	}
	page, err := s.List(ctx, ossapi.ListRequest{Prefix: base + "del/"})
	if err != nil || len(page.Objects) != 0 {
		t.Errorf("left after delete: %+v %v", page, err)
	}
}

func testPresign(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	key := base + "share/report 1.txt"
	put(t, s, key, []byte("shared"), nil)
	for _, v1 := range []bool{false, true} {
		p, err := s.Presign(ctx, ossapi.PresignRequest{Key: key, Expires: time.Minute, SignatureV1: v1,
			ResponseContentDisposition: `attachment; filename="r.txt"`})
		if err != nil {
			t.Fatal(err)
		}
		if time.Until(p.Expiration) > time.Minute+5*time.Second || time.Until(p.Expiration) < 50*time.Second {
			t.Errorf("expiration %v", p.Expiration)
		}
		resp, err := http.Get(p.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "shared" || resp.Header.Get("Content-Disposition") != `attachment; filename="r.txt"` {
			t.Errorf("presigned GET (v1=%v): %d %q %q", v1, resp.StatusCode, b, resp.Header.Get("Content-Disposition"))
		}
	}
	_, err := s.Presign(ctx, ossapi.PresignRequest{Key: key, Expires: 8 * 24 * time.Hour})
	wantKind(t, "presign 8 days", err, ossapi.KindInvalid, "")
}

func testBadInput(t *testing.T, s ossapi.ObjectStore, base string) {
	ctx := context.Background()
	_, err := s.Put(ctx, ossapi.PutRequest{Key: base + strings.Repeat("k", 1024), Body: strings.NewReader("x"), Size: 1})
	wantKind(t, "key over 1023 bytes", err, ossapi.KindInvalid, "")
	_, err = s.Put(ctx, ossapi.PutRequest{Key: base + "big-meta", Body: strings.NewReader("x"), Size: 1,
		Meta: map[string]string{"big": strings.Repeat("v", 9000)}})
	wantKind(t, "metadata over 8 KB", err, ossapi.KindInvalid, "")
	id, err := s.InitiateMultipart(ctx, ossapi.InitiateRequest{Key: base + "order"})
	if err != nil {
		t.Fatal(err)
	}
	data := randData(100 << 10)
	p1, _ := s.UploadPart(ctx, ossapi.UploadPartRequest{Key: base + "order", UploadID: id, PartNumber: 1, Body: bytes.NewReader(data), Size: int64(len(data))})
	p2, _ := s.UploadPart(ctx, ossapi.UploadPartRequest{Key: base + "order", UploadID: id, PartNumber: 2, Body: bytes.NewReader(data), Size: int64(len(data))})
	if p1 == nil || p2 == nil {
		t.Fatal("UploadPart failed")
	}
	bad := *p1
	bad.ETag = `"00000000000000000000000000000000"`
	_, err = s.CompleteMultipart(ctx, ossapi.CompleteRequest{Key: base + "order", UploadID: id, Parts: []ossapi.Part{bad, *p2}})
	wantKind(t, "complete with a wrong part ETag", err, ossapi.KindInvalid, "InvalidPart")
	s.AbortMultipart(ctx, base+"order", id)
}

package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

func TestShareParams(t *testing.T) {
	cases := []struct {
		name string
		post bool
		want error
	}{
		{"user.oss.presign", false, nil},
		{"user.oss.presign?exp=60&dl=a%20b.txt", false, nil},
		{"user.oss.post-policy?exp=60", false, syscall.ENOTDIR}, // a file asked for a post policy
		{"user.oss.presign?max=1", false, syscall.EINVAL},       // a post-policy parameter
		{"user.oss.presign?exp=1&exp=2", false, syscall.EINVAL}, // twice
		{"user.oss.presign?exp=%zz", false, syscall.EINVAL},     // malformed
		{"user.oss.post-policy?max=10&keep=1", true, nil},
		{"user.oss.presign", true, syscall.EISDIR}, // a directory asked for a URL
		{"user.oss.post-policy?dl=x", true, syscall.EINVAL},
	}
	for _, c := range cases {
		parse := PresignParams
		if c.post {
			parse = PostPolicyParams
		}
		if _, err := parse(c.name); err != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestPresignRequest(t *testing.T) {
	q, err := PresignParams("user.oss.presign?exp=60&dl=r%C3%A9sum%C3%A9%201.pdf&ct=application/pdf&v1=yes")
	if err != nil {
		t.Fatal(err)
	}
	req, err := PresignRequest(q, "dir/f.pdf")
	if err != nil {
		t.Fatal(err)
	}
	want := ossapi.PresignRequest{Key: "dir/f.pdf", Method: "GET", Expires: time.Minute, SignatureV1: true, ResponseContentType: "application/pdf",
		ResponseContentDisposition: `attachment; filename="r_sum_ 1.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf`}
	if req != want {
		t.Errorf("request %+v, want %+v", req, want)
	}
	q, _ = PresignParams("user.oss.presign?inline=1")
	if req, err := PresignRequest(q, "k"); err != nil || req.ResponseContentDisposition != "inline" || req.Expires != ossapi.DefaultShareExpiry {
		t.Errorf("inline, no expiry: %+v, %v", req, err)
	}
	for _, bad := range []string{"exp=0", "exp=-1", "exp=604801", "exp=x", "inline=maybe", "v1=2", "ct=a%0Ab", "dl=a%01b", "dl=%FF"} {
		q, err := PresignParams("user.oss.presign?" + bad)
		if err != nil {
			t.Fatalf("%s: %v", bad, err)
		}
		if _, err := PresignRequest(q, "k"); err != syscall.EINVAL {
			t.Errorf("%s: %v, want EINVAL", bad, err)
		}
	}
}

func TestPostPolicyRequest(t *testing.T) {
	q, err := PostPolicyParams("user.oss.post-policy?exp=600&max=1048576&min=1&ct=image/&keep=1")
	if err != nil {
		t.Fatal(err)
	}
	req, err := PostPolicyRequest(q, "up/")
	want := ossapi.PostPolicyRequest{Prefix: "up/", Key: "up/${filename}", Expires: 10 * time.Minute, MinSize: 1, MaxSize: 1 << 20, ContentType: "image/"}
	if err != nil || req != want {
		t.Errorf("request %+v, %v; want %+v", req, err, want)
	}
	q, _ = PostPolicyParams("user.oss.post-policy")
	if req, err := PostPolicyRequest(q, "up/"); err != nil || req.Key != "" || req.Expires != ossapi.DefaultShareExpiry {
		t.Errorf("no parameters: %+v, %v", req, err)
	}
	for _, bad := range []string{"max=0", "max=5368709121", "min=-1", "keep=2", "exp=604801"} {
		q, _ := PostPolicyParams("user.oss.post-policy?" + bad)
		if _, err := PostPolicyRequest(q, "up/"); err != syscall.EINVAL {
			t.Errorf("%s: %v, want EINVAL", bad, err)
		}
	}
}

// A presigned URL is signed locally (no request) and fetches the object
// from the server, which checks its signature; a post policy's answer is
// its JSON.
func TestPresignAndPostPolicy(t *testing.T) {
	e, srv := xattrTest(t)
	ctx := context.Background()
	total := requests(srv)
	val, err := e.Presign(ctx, ossapi.PresignRequest{Key: "f.txt", Method: "GET", Expires: time.Minute}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(val, "\n")
	if len(lines) != 3 || lines[2] != "" || !strings.HasPrefix(lines[1], "expires=") {
		t.Fatalf("answer %q: want URL, expires=, and no clipped=1 with static credentials", val)
	}
	exp, err := time.Parse(time.RFC3339, strings.TrimPrefix(lines[1], "expires="))
	if err != nil || exp.Before(time.Now().Add(50*time.Second)) || exp.After(time.Now().Add(70*time.Second)) {
		t.Errorf("expires %q, %v: want a minute from now", lines[1], err)
	}
	if n := requests(srv) - total; n != 0 {
		t.Errorf("signing sent %d requests", n)
	}
	resp, err := http.Get(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello" {
		t.Errorf("GET of the presigned URL: %d %q", resp.StatusCode, body)
	}

	val, err = e.SignPostPolicy(ctx, ossapi.PostPolicyRequest{Prefix: "up/", Expires: time.Minute, MaxSize: 10}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ans PostPolicyAnswer
	if err := json.Unmarshal([]byte(val), &ans); err != nil {
		t.Fatalf("answer %q: %v", val, err)
	}
	if ans.Prefix != "up/" || ans.URL == "" || ans.Fields["policy"] == "" || !strings.Contains(ans.PolicyDocument, "content-length-range") || ans.Clipped {
		t.Errorf("post policy answer: %+v", ans)
	}
}

func TestShareProbes(t *testing.T) {
	var s ShareProbes
	k := ProbeKey{Ino: 1, UID: 1000, Name: "user.oss.presign"}
	if _, ok := s.Take(k); ok {
		t.Fatal("an answer kept before any was")
	}
	s.Keep(k, "v1")
	for _, other := range []ProbeKey{{Ino: 2, UID: 1000, Name: k.Name}, {Ino: 1, UID: 0, Name: k.Name}, {Ino: 1, UID: 1000, Name: "user.oss.cache"}} {
		if v, ok := s.Take(other); ok {
			t.Errorf("%+v took %q, kept for %+v", other, v, k)
		}
	}
	if v, ok := s.Take(k); !ok || v != "v1" {
		t.Errorf("Take = %q, %v; want v1", v, ok)
	}
	if _, ok := s.Take(k); ok {
		t.Error("an answer taken twice")
	}
	s.Keep(k, "v2")
	s.mu.Lock()
	p := s.answers[k]
	p.expires = time.Now().Add(-time.Second)
	s.answers[k] = p
	s.mu.Unlock()
	if _, ok := s.Take(k); ok {
		t.Error("an expired answer was taken")
	}
	for i := range maxShareProbes + 10 {
		s.Keep(ProbeKey{Ino: uint64(i)}, "x")
	}
	if len(s.answers) != maxShareProbes {
		t.Errorf("%d answers kept, want at most %d", len(s.answers), maxShareProbes)
	}
}

func TestContentDisposition(t *testing.T) {
	cases := []struct{ kind, name, want string }{
		{"attachment", "", "attachment"},
		{"inline", "a.txt", `inline; filename="a.txt"; filename*=UTF-8''a.txt`},
		{"attachment", `q"b\%.txt`, `attachment; filename="q_b__.txt"; filename*=UTF-8''q%22b%5C%25.txt`},
	}
	for _, c := range cases {
		if got, ok := ContentDisposition(c.kind, c.name); !ok || got != c.want {
			t.Errorf("ContentDisposition(%s, %q) = %q, %v; want %q", c.kind, c.name, got, ok, c.want)
		}
	}
	for _, bad := range []string{"a\x01b", "a\x7fb", "\xff"} {
		if _, ok := ContentDisposition("attachment", bad); ok {
			t.Errorf("ContentDisposition of %q: ok", bad)
		}
	}
}

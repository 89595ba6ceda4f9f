package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runDirect runs a sharing command line the way run does, its real action
// included, with only the given credentials in the environment (and a home
// without passwd or profile files), and returns what it printed.
func runDirect(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ALIBABA_CLOUD_") || strings.HasPrefix(k, "OSS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", t.TempDir())
	for k, v := range env {
		t.Setenv(k, v)
	}
	app := newApp(nil)
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	argv, err := normalizeArgv(app, append([]string{"ossmount"}, args...))
	if err != nil {
		return "", err
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	err = app.Run(argv)
	os.Stdout = stdout
	w.Close()
	return <-out, err
}

// wantExit checks that err is a one-line error with exit status code
// saying want.
func wantExit(t *testing.T, what string, err error, code int, want string) {
	t.Helper()
	var ec cli.ExitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != code || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %v; want a one-line error (exit status %d) saying %q", what, err, code, want)
	}
}

// TestShareDirect: presign and post-policy of an oss:// path are signed
// here with the options' credentials; a path that names nothing to sign is
// a usage error found before any credentials are looked for (there are
// none here); a failure to sign is the command's, with the path.
func TestShareDirect(t *testing.T) {
	keys := map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKIDtest", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret"}
	endpoint := []string{"--endpoint", "http://127.0.0.1:1", "--region", "cn-test"}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"presign", "oss://Bad_Bucket/k"}, `"Bad_Bucket" is not a bucket name`},
		{[]string{"presign", "oss://bucket"}, "oss://bucket names no object"},
		{[]string{"presign", "oss://bucket/dir/"}, "oss://bucket/dir/ names no object"},
		{[]string{"post-policy", "oss://b/in/"}, `"b" is not a bucket name`},
	} {
		_, err := runDirect(t, nil, append(c.args, endpoint...)...)
		wantExit(t, strings.Join(c.args, " "), err, 2, c.want)
	}

	out, err := runDirect(t, keys, append([]string{"presign", "oss://bucket/docs/a b.txt", "--expires", "60"}, endpoint...)...)
	if err != nil {
		t.Fatalf("presign: %v", err)
	}
	u, err := url.Parse(strings.TrimSpace(out))
	if err != nil || u.Path != "/bucket/docs/a b.txt" && u.Path != "/docs/a b.txt" || u.Query().Get("x-oss-expires") != "60" ||
		!strings.Contains(u.Query().Get("x-oss-credential"), "AKIDtest/") {
		t.Errorf("presign printed %q: want a V4 URL of docs/a b.txt valid 60 s signed by AKIDtest", out)
	}

	out, err = runDirect(t, keys, append([]string{"post-policy", "oss://bucket//in/sub//", "--keep-name"}, endpoint...)...)
	if err != nil {
		t.Fatalf("post-policy: %v", err)
	}
	var ans struct {
		Prefix string
		Fields map[string]string
	}
	if err := json.Unmarshal([]byte(out), &ans); err != nil || ans.Prefix != "in/sub/" || ans.Fields["key"] != "in/sub/${filename}" {
		t.Errorf("post-policy printed %q (%v): want the prefix in/sub/ and the key in/sub/${filename}", out, err)
	}

	// Temporary credentials about to expire (3 s after each run of the
	// process): nothing can be signed with them.
	script := filepath.Join(t.TempDir(), "creds.sh")
	body := `#!/bin/sh
echo "{\"mode\":\"StsToken\",\"access_key_id\":\"STS.id\",\"access_key_secret\":\"s\",\"sts_token\":\"tok\",\"expiration\":\"$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)\"}"
`
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"presign", "post-policy"} {
		path := "oss://bucket/k"
		_, err = runDirect(t, nil, append([]string{cmd, path, "-o", "credential_process=" + script}, endpoint...)...)
		wantExit(t, cmd+" with expiring credentials", err, 1, cmd+" "+path+": ")
		if err != nil && !strings.Contains(err.Error(), "expire") {
			t.Errorf("%s with expiring credentials: %v; want it to say they expire", cmd, err)
		}
	}
}

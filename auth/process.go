package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// processTimeout bounds one run of the credentials process.
const processTimeout = 60 * time.Second

// processOutput is the JSON an external credentials process prints: the
// Alibaba Cloud CLI "External" mode format, as credentials-go parses it.
type processOutput struct {
	Mode            string `json:"mode"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	SecurityToken   string `json:"sts_token"`
	Expiration      string `json:"expiration"`
}

// processSource runs an external command for credentials. credentials-go
// (v1.4.14) supports such commands (providers.ExternalCredentialsProvider,
// CLI profile mode "External"), and this uses the same output format, but
// runs the command itself: credentials-go prints the command's whole
// output to stdout when it is not valid JSON, which could leak secrets.
func processSource(opt Options) (*source, error) {
	if strings.TrimSpace(opt.Process) == "" {
		return nil, errors.New("auth: source process needs a command")
	}
	args, err := splitCommand(opt.Process)
	if err != nil {
		return nil, fmt.Errorf("auth: source process: %v", err)
	}
	s := &source{kind: "process", detail: filepath.Base(args[0]), refresh: true}
	s.fetch = func() (ossapi.Credentials, error) { return runProcess(args) }
	return s, nil
}

func runProcess(args []string) (ossapi.Credentials, error) {
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ossapi.Credentials{}, fmt.Errorf("credentials process timed out after %s", processTimeout)
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 200 {
			msg = "..." + msg[len(msg)-200:]
		}
		if msg != "" {
			return ossapi.Credentials{}, fmt.Errorf("credentials process failed: %v; stderr: %s", err, msg)
		}
		return ossapi.Credentials{}, fmt.Errorf("credentials process failed: %v", err)
	}
	var out processOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		// Do not quote the output: it may hold secrets.
		return ossapi.Credentials{}, errors.New("credentials process printed invalid JSON (want {\"mode\":..., \"access_key_id\":..., \"access_key_secret\":..., \"sts_token\":..., \"expiration\":...})")
	}
	if out.AccessKeyID == "" || out.AccessKeySecret == "" {
		return ossapi.Credentials{}, errors.New("credentials process output lacks access_key_id or access_key_secret")
	}
	if out.Mode == "StsToken" && out.SecurityToken == "" {
		return ossapi.Credentials{}, errors.New("credentials process output has mode StsToken but no sts_token")
	}
	c := ossapi.Credentials{AccessKeyID: out.AccessKeyID, AccessKeySecret: out.AccessKeySecret, SecurityToken: out.SecurityToken}
	if out.Expiration != "" {
		t, err := time.Parse(time.RFC3339, out.Expiration)
		if err != nil {
			return ossapi.Credentials{}, errors.New("credentials process output has an unparsable expiration (want 2006-01-02T15:04:05Z)")
		}
		c.Expiration = t
	}
	return c, nil
}

// splitCommand splits a command line the way a POSIX shell would for
// words: whitespace separates, single quotes are literal, double quotes
// allow backslash escapes, a backslash outside quotes escapes the next
// character. No expansions are done.
func splitCommand(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote in command")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote in command")
			}
			inWord = true
		case ch == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash in command")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, errors.New("empty command")
	}
	return args, nil
}

package auth

import (
	"net/url"
	"regexp"
	"strings"
)

// secretKV matches pairs whose key names a secret, in JSON bodies, query
// strings and messages echoed by services: key=value, "key": value and
// key: "value". An unquoted key and value after a colon are prose, such as
// "open /run/secrets/token: no such file", and are left alone.
var secretKV = []*regexp.Regexp{
	regexp.MustCompile(`(?i)([a-z0-9_-]*` + secretWords + `[a-z0-9_-]*"?\s*=\s*)("[^"]*"|[^\s,&}"]+)`),
	regexp.MustCompile(`(?i)("[a-z0-9_-]*` + secretWords + `[a-z0-9_-]*"\s*:\s*)("[^"]*"|[^\s,&}"]+)`),
	regexp.MustCompile(`(?i)([a-z0-9_-]*` + secretWords + `[a-z0-9_-]*\s*:\s*)("[^"]*")`),
}

const secretWords = `(?:secret|token|password|passwd|signature|credential)`

const redacted = "<redacted>"

// scrub removes secrets from s (error text from libraries and services):
// every known secret, and the values of secret-looking keys. It also folds
// s onto one line and bounds its length.
func scrub(s string, secrets []string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, redacted)
		}
	}
	for _, re := range secretKV {
		s = re.ReplaceAllString(s, "${1}"+redacted)
	}
	s = strings.Join(strings.Fields(s), " ")
	const max = 512
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// redactURL drops the user info and query of u, which may hold tokens.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User = nil
	if p.RawQuery != "" {
		p.RawQuery = "..."
	}
	p.Fragment = ""
	return p.String()
}

package osstest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	maxSkew        = 15 * time.Minute
	v4Algorithm    = "OSS4-HMAC-SHA256"
	v4DateFormat   = "20060102T150405Z"
	unsignedPaylod = "UNSIGNED-PAYLOAD"
)

// stsCred is a set of temporary credentials minted by MintSTS.
type stsCred struct {
	ak, secret, token string
	expires           time.Time
}

// MintSTS returns temporary credentials valid until now+ttl. Requests signed
// with them must carry the token; after expiry they get 403
// SecurityTokenExpired.
func (s *Server) MintSTS(ttl time.Duration) (ak, secret, token string) {
	b := make([]byte, 96)
	rand.Read(b)
	c := &stsCred{
		ak:      "STS." + strings.ToUpper(hex.EncodeToString(b[:12])),
		secret:  base64.RawURLEncoding.EncodeToString(b[12:42]),
		token:   "CAIS" + base64.StdEncoding.EncodeToString(b[42:]),
		expires: time.Now().Add(ttl),
	}
	s.mu.Lock()
	s.sts[c.token] = c
	s.stsAK[c.ak] = c
	s.mu.Unlock()
	return c.ak, c.secret, c.token
}

// secretFor returns the secret for ak, checking the security token.
func (s *Server) secretFor(ak, token string) (string, *ossError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token != "" {
		c := s.sts[token]
		if c == nil {
			return "", newErr(403, "InvalidSecurityToken", "The security token you provided is invalid.")
		}
		if time.Now().After(c.expires) {
			return "", newErr(403, "SecurityTokenExpired", "The security token you provided has expired.").
				with("Expiration", c.expires.UTC().Format(time.RFC3339))
		}
		if c.ak != ak {
			return "", newErr(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not match the security token.").with("OSSAccessKeyId", ak)
		}
		return c.secret, nil
	}
	if sec, ok := s.opt.Credentials[ak]; ok {
		return sec, nil
	}
	if _, ok := s.stsAK[ak]; ok {
		return "", newErr(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided is a temporary key and needs a security token.").with("OSSAccessKeyId", ak)
	}
	return "", newErr(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.").with("OSSAccessKeyId", ak)
}

// securityToken returns the token sent with the request, if any.
func (rc *reqCtx) securityToken() string {
	if t := rc.r.Header.Get("x-oss-security-token"); t != "" {
		return t
	}
	if t := rc.query.Get("x-oss-security-token"); t != "" {
		return t
	}
	return rc.query.Get("security-token")
}

// authenticate checks the request's signature (header or query, V1 or V4).
func (rc *reqCtx) authenticate() *ossError {
	authz := rc.r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(authz, v4Algorithm+" "):
		return rc.authV4Header(authz)
	case strings.HasPrefix(authz, "OSS "):
		return rc.authV1Header(authz)
	case authz != "":
		return errInvalidArgument("Authorization header is invalid.", "Authorization", "")
	case rc.query.Has("x-oss-signature-version"):
		return rc.authV4Query()
	case rc.query.Has("OSSAccessKeyId") || rc.query.Has("Signature"):
		return rc.authV1Query()
	}
	return errAccessDenied("You have no right to access this object because of bucket acl.")
}

func skewed(t time.Time) *ossError {
	now := time.Now()
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return newErr(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.").
			with("RequestTime", t.UTC().Format(time.RFC3339)).with("ServerTime", now.UTC().Format(time.RFC3339))
	}
	return nil
}

func (rc *reqCtx) authV4Header(authz string) *ossError {
	var cred, sig, addl string
	for _, part := range strings.Split(strings.TrimPrefix(authz, v4Algorithm+" "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "Signature":
			sig = v
		case "AdditionalHeaders":
			addl = v
		}
	}
	if cred == "" || sig == "" {
		return errInvalidArgument("Authorization header is invalid.", "Authorization", "")
	}
	dateStr := rc.r.Header.Get("x-oss-date")
	t, err := time.Parse(v4DateFormat, dateStr)
	if err != nil {
		return errAccessDenied("The x-oss-date header is missing or invalid; it is required for a V4 signature.")
	}
	if e := skewed(t); e != nil {
		return e
	}
	return rc.checkV4(cred, sig, addl, dateStr, false)
}

func (rc *reqCtx) authV4Query() *ossError {
	q := rc.query
	if v := q.Get("x-oss-signature-version"); v != v4Algorithm {
		return errInvalidArgument("Invalid signature version.", "x-oss-signature-version", v)
	}
	dateStr := q.Get("x-oss-date")
	t, err := time.Parse(v4DateFormat, dateStr)
	if err != nil {
		return errInvalidArgument("x-oss-date is missing or invalid.", "x-oss-date", dateStr)
	}
	exp, err := strconv.ParseInt(q.Get("x-oss-expires"), 10, 64)
	if err != nil || exp <= 0 || exp > 604800 {
		return errInvalidArgument("x-oss-expires is missing or invalid.", "x-oss-expires", q.Get("x-oss-expires"))
	}
	now := time.Now()
	if t.Sub(now) > maxSkew {
		return newErr(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
	}
	if end := t.Add(time.Duration(exp) * time.Second); now.After(end) {
		return errAccessDenied("Request has expired.").with("Expires", end.UTC().Format(time.RFC3339)).with("ServerTime", now.UTC().Format(time.RFC3339))
	}
	return rc.checkV4(q.Get("x-oss-credential"), q.Get("x-oss-signature"), q.Get("x-oss-additional-headers"), dateStr, true)
}

// checkV4 verifies a V4 signature given the credential scope, the provided
// signature, the additional header names and the request date.
func (rc *reqCtx) checkV4(cred, sig, addl, dateStr string, query bool) *ossError {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aliyun_v4_request" {
		return errInvalidArgument("Invalid credential in Authorization.", "Credential", cred)
	}
	ak, day, region, product := parts[0], parts[1], parts[2], parts[3]
	if day != dateStr[:8] {
		return errInvalidArgument("Invalid signing date in Authorization.", "Credential", cred)
	}
	if region != rc.s.opt.Region {
		return errInvalidArgument("Invalid signing region in Authorization header.", "Credential", cred)
	}
	if product != "oss" {
		return errInvalidArgument("Invalid signing product in Authorization header.", "Credential", cred)
	}
	secret, e := rc.s.secretFor(ak, rc.securityToken())
	if e != nil {
		return e
	}
	rc.ak = ak
	var additional []string
	if addl != "" {
		additional = strings.Split(addl, ";")
	}
	canon := rc.canonicalV4(additional, query)
	h := sha256.Sum256([]byte(canon))
	scope := day + "/" + region + "/" + product + "/aliyun_v4_request"
	sts := v4Algorithm + "\n" + dateStr + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	want := hex.EncodeToString(hmacSHA256(v4SigningKey(secret, day, region, product), sts))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
		return newErr(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.").
			with("StringToSign", sts).with("CanonicalRequest", canon).with("OSSAccessKeyId", ak)
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func v4SigningKey(secret, day, region, product string) []byte {
	k := hmacSHA256([]byte("aliyun_v4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, product)
	return hmacSHA256(k, "aliyun_v4_request")
}

// escapeRFC3986 escapes everything but unreserved characters (and '/' when
// keepSlash).
func escapeRFC3986(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keepSlash) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		}
	}
	return b.String()
}

// resourcePath is "/bucket/key" ("/" for the service).
func (rc *reqCtx) resourcePath() string {
	if rc.bucket == "" {
		return "/"
	}
	return "/" + rc.bucket + "/" + rc.key
}

func (rc *reqCtx) canonicalV4(additional []string, query bool) string {
	r := rc.r
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteString("\n")
	b.WriteString(escapeRFC3986(rc.resourcePath(), true))
	b.WriteString("\n")

	// Query: every parameter, decoded and re-encoded strictly, sorted.
	values := map[string]string{}
	var params []string
	raw := r.URL.RawQuery
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if query && k == "x-oss-signature" {
			continue
		}
		k, v = escapeRFC3986(k, false), escapeRFC3986(v, false)
		values[k] = v
		params = append(params, k)
	}
	sort.Strings(params)
	for i, k := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		if values[k] != "" {
			b.WriteByte('=')
			b.WriteString(values[k])
		}
	}
	b.WriteString("\n")

	// Headers.
	add := map[string]bool{}
	for _, h := range additional {
		add[strings.ToLower(h)] = true
	}
	type hv struct{ k, v string }
	var hs []hv
	for k, vs := range r.Header {
		low := strings.ToLower(k)
		if strings.HasPrefix(low, "x-oss-") || low == "content-type" || low == "content-md5" || add[low] {
			tv := make([]string, len(vs))
			for i, v := range vs {
				tv[i] = strings.TrimSpace(v)
			}
			hs = append(hs, hv{low, strings.Join(tv, ",")})
		}
	}
	if add["host"] {
		hs = append(hs, hv{"host", r.Host})
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].k < hs[j].k })
	for _, h := range hs {
		b.WriteString(h.k + ":" + h.v + "\n")
	}
	b.WriteString("\n")
	b.WriteString(strings.Join(additional, ";"))
	b.WriteString("\n")
	if p := r.Header.Get("x-oss-content-sha256"); p != "" {
		b.WriteString(p)
	} else {
		b.WriteString(unsignedPaylod)
	}
	return b.String()
}

// v1SubResources are the query parameters a V1 signature covers (besides
// any x-oss-* parameter).
var v1SubResources = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`acl bucketInfo location stat delete append tagging objectMeta uploads uploadId
		partNumber security-token position response-content-type response-content-language response-expires
		response-cache-control response-content-disposition response-content-encoding restore callback
		callback-var versions versioning versionId sequential continuation-token regionList cloudboxes symlink
		accessPoint accessPointConfigForObjectProcess accessPointForObjectProcess accessPointPolicy
		accessPointPolicyForObjectProcess bucketArchiveDirectRead cleanRestoredObject cname comp cors encryption
		httpsConfig inventory inventoryId legalHold lifecycle logging metaQuery metadataConfiguration
		metadataInventoryTable metadataJournalTable objectWorm overwriteConfig policy policyStatus
		publicAccessBlock quota redundancyTransition referer regions replication replicationLocation
		replicationProgress requestPayment resourceGroup retention rtc seal style styleName transferAcceleration
		userDefinedLogFieldsConfig website worm wormExtend wormId qos qosInfo img vod live status vip
		processConfiguration udf udfName udfImage udfId udfImageDesc udfApplication udfApplicationLog
		reservedcapacity requestPayment x-oss-process`) {
		v1SubResources[k] = true
	}
}

func (rc *reqCtx) stringToSignV1(date string) string {
	r := rc.r
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n")
	var names []string
	for k := range r.Header {
		if low := strings.ToLower(k); strings.HasPrefix(low, "x-oss-") {
			names = append(names, low)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		vs := r.Header.Values(k)
		tv := make([]string, len(vs))
		for i, v := range vs {
			tv[i] = strings.TrimSpace(v)
		}
		b.WriteString(k + ":" + strings.Join(tv, ",") + "\n")
	}
	b.WriteString(rc.resourcePath())
	var params []string
	for k := range rc.query {
		if v1SubResources[k] || strings.HasPrefix(k, "x-oss-") {
			params = append(params, k)
		}
	}
	sort.Strings(params)
	for i, k := range params {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(k)
		if v := rc.query.Get(k); v != "" {
			b.WriteString("=" + v)
		}
	}
	return b.String()
}

func (rc *reqCtx) checkV1(ak, sig, date string) *ossError {
	secret, e := rc.s.secretFor(ak, rc.securityToken())
	if e != nil {
		return e
	}
	rc.ak = ak
	sts := rc.stringToSignV1(date)
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return newErr(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.").
			with("StringToSign", sts).with("OSSAccessKeyId", ak)
	}
	return nil
}

func (rc *reqCtx) authV1Header(authz string) *ossError {
	cred := strings.TrimPrefix(authz, "OSS ")
	i := strings.LastIndexByte(cred, ':')
	if i <= 0 {
		return errInvalidArgument("Authorization header is invalid.", "Authorization", "")
	}
	// Clients that cannot set Date (browsers, ali-oss) send x-oss-date and
	// sign its value in the Date slot.
	date := rc.r.Header.Get("Date")
	if date == "" {
		date = rc.r.Header.Get("x-oss-date")
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return errAccessDenied("The Date header is missing or invalid.")
	}
	if e := skewed(t); e != nil {
		return e
	}
	return rc.checkV1(strings.TrimSpace(cred[:i]), cred[i+1:], date)
}

func (rc *reqCtx) authV1Query() *ossError {
	q := rc.query
	expStr := q.Get("Expires")
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil {
		return errAccessDenied("Expires is missing or invalid.")
	}
	if now := time.Now(); now.Unix() > exp {
		return errAccessDenied("Request has expired.").with("Expires", time.Unix(exp, 0).UTC().Format(time.RFC3339)).with("ServerTime", now.UTC().Format(time.RFC3339))
	}
	return rc.checkV1(q.Get("OSSAccessKeyId"), q.Get("Signature"), expStr)
}

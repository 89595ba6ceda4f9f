package osstest

import (
	"encoding/base64"
	"sort"
	"strings"
)

// prefixEnd returns the smallest string greater than every string with
// prefix p ("" if there is none).
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// commonPrefix returns the common prefix key, which starts with prefix,
// rolls up into in a listing under prefix with delimiter: key up to the
// first delimiter after prefix ("" when there is none, or no delimiter).
func commonPrefix(key, prefix, delimiter string) string {
	if delimiter == "" {
		return ""
	}
	j := strings.Index(key[len(prefix):], delimiter)
	if j < 0 {
		return ""
	}
	return key[:len(prefix)+j+len(delimiter)]
}

// listPage walks b's keys after marker (exclusive) under prefix, rolling up
// at delimiter, and returns up to max entries. next is the last entry
// returned when the listing is truncated. Call with s.mu held.
func listPage(b *bucket, prefix, delimiter, marker string, max int) (contents []*object, prefixes []string, truncated bool, next string) {
	b.flush()
	keys := b.keys
	from := prefix
	if marker >= from {
		from = marker + "\x00"
	}
	i := sort.SearchStrings(keys, from)
	n := 0
	for i < len(keys) {
		k := keys[i]
		if !strings.HasPrefix(k, prefix) {
			break
		}
		o := b.get(k)
		if o == nil {
			i++
			continue
		}
		// The entry is the object, or the common prefix its key rolls up
		// into; after it the walk goes on past the object, or past every
		// key under that prefix.
		entry, after := k, i+1
		cp := commonPrefix(k, prefix, delimiter)
		if cp != "" {
			entry, after = cp, len(keys)
			if end := prefixEnd(cp); end != "" {
				after = sort.SearchStrings(keys, end)
			}
		}
		if entry == marker { // a prefix returned on the previous page
			i = after
			continue
		}
		if n == max {
			return contents, prefixes, true, next
		}
		if cp != "" {
			prefixes = append(prefixes, cp)
		} else {
			contents = append(contents, o)
		}
		next = entry
		n++
		i = after
	}
	return contents, prefixes, false, ""
}

// listing is one page of ListObjects (V1 or V2): the request's arguments
// and what it found.
type listing struct {
	prefix, delimiter string
	enc               bool // encoding-type=url
	max               int
	marker            string // where the page starts (marker, start-after or the token's key)
	token             string // continuation-token as given
	contents          []xmlContent
	prefixes          []xmlPrefix
	truncated         bool
	next              string // the last key or prefix of a truncated page
}

func (rc *reqCtx) listObjects() *ossError {
	l, e := rc.listArgs()
	if e != nil {
		return e
	}
	s := rc.s
	s.mu.Lock()
	b := s.buckets[rc.bucket]
	if b == nil {
		s.mu.Unlock()
		return errNoSuchBucket(rc.bucket)
	}
	objs, cps, truncated, next := listPage(b, l.prefix, l.delimiter, l.marker, l.max)
	l.contents = make([]xmlContent, len(objs))
	for i, o := range objs {
		l.contents[i] = xmlContent{Key: encodeKey(o.key, l.enc), LastModified: o.modTime.UTC().Format(isoMillis),
			ETag: `"` + o.etag + `"`, Type: o.typ, Size: o.size, StorageClass: "Standard", Owner: xmlOwner{ownerID, ownerName}}
	}
	s.mu.Unlock()
	l.prefixes = make([]xmlPrefix, len(cps))
	for i, p := range cps {
		l.prefixes[i] = xmlPrefix{encodeKey(p, l.enc)}
	}
	l.truncated, l.next = truncated, next
	if rc.op == "ListObjectsV2" {
		rc.writeListV2(l)
	} else {
		rc.writeListV1(l)
	}
	return nil
}

// listArgs reads and checks a ListObjects request's arguments.
func (rc *reqCtx) listArgs() (*listing, *ossError) {
	q := rc.query
	l := &listing{prefix: q.Get("prefix"), delimiter: q.Get("delimiter")}
	encType := q.Get("encoding-type")
	if encType != "" && encType != "url" {
		return nil, errInvalidArgument("Invalid Encoding Method specified in Request.", "encoding-type", encType)
	}
	l.enc = rc.urlEncoded()
	var e *ossError
	if l.max, e = rc.intArg("max-keys", 100, 0, 1000, ""); e != nil {
		return nil, e
	}
	if len(l.prefix) > 1023 {
		return nil, errInvalidArgument("Argument prefix is too long.", "prefix", "")
	}
	if rc.op != "ListObjectsV2" {
		l.marker = q.Get("marker")
		return l, nil
	}
	l.marker = q.Get("start-after")
	if q.Has("continuation-token") {
		l.token = q.Get("continuation-token")
		raw, err := base64.RawURLEncoding.DecodeString(l.token)
		if err != nil || l.token == "" {
			return nil, errInvalidArgument("The continuation token provided is incorrect.", "continuation-token", l.token)
		}
		if string(raw) > l.marker {
			l.marker = string(raw)
		}
	}
	return l, nil
}

// writeListV2 answers ListObjectsV2.
func (rc *reqCtx) writeListV2(l *listing) {
	q := rc.query
	out := listObjectsV2Result{Name: rc.bucket, Prefix: encodeKey(l.prefix, l.enc), MaxKeys: l.max, Delimiter: encodeKey(l.delimiter, l.enc),
		IsTruncated: l.truncated, EncodingType: encodingType(l.enc), KeyCount: len(l.contents) + len(l.prefixes),
		Contents: l.contents, CommonPrefixes: l.prefixes}
	if q.Has("start-after") {
		sa := encodeKey(q.Get("start-after"), l.enc)
		out.StartAfter = &sa
	}
	if q.Has("continuation-token") {
		out.ContinuationToken = &l.token
	}
	if l.truncated {
		out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(l.next))
	}
	rc.writeXML(200, out)
}

// writeListV1 answers ListObjects.
func (rc *reqCtx) writeListV1(l *listing) {
	out := listObjectsResult{Name: rc.bucket, Prefix: encodeKey(l.prefix, l.enc), Marker: encodeKey(l.marker, l.enc), MaxKeys: l.max,
		Delimiter: encodeKey(l.delimiter, l.enc), IsTruncated: l.truncated, EncodingType: encodingType(l.enc),
		Contents: l.contents, CommonPrefixes: l.prefixes}
	if l.truncated {
		out.NextMarker = encodeKey(l.next, l.enc)
	}
	rc.writeXML(200, out)
}

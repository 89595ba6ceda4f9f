package osstest

import (
	"encoding/base64"
	"encoding/xml"
	"sort"
	"strings"
)

type xmlContent struct {
	Key          string   `xml:"Key"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
	Type         string   `xml:"Type"`
	Size         int64    `xml:"Size"`
	StorageClass string   `xml:"StorageClass"`
	Owner        xmlOwner `xml:"Owner"`
}

type xmlPrefix struct {
	Prefix string `xml:"Prefix"`
}

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
		if delimiter != "" {
			if j := strings.Index(k[len(prefix):], delimiter); j >= 0 {
				cp := k[:len(prefix)+j+len(delimiter)]
				end := prefixEnd(cp)
				skip := func() {
					if end == "" {
						i = len(keys)
					} else {
						i = sort.SearchStrings(keys, end)
					}
				}
				if cp == marker { // returned on the previous page
					skip()
					continue
				}
				if n == max {
					return contents, prefixes, true, next
				}
				prefixes = append(prefixes, cp)
				next = cp
				n++
				skip()
				continue
			}
		}
		if n == max {
			return contents, prefixes, true, next
		}
		contents = append(contents, o)
		next = k
		n++
		i++
	}
	return contents, prefixes, false, ""
}

func (rc *reqCtx) listObjects() *ossError {
	q := rc.query
	v2 := rc.op == "ListObjectsV2"
	prefix, delimiter := q.Get("prefix"), q.Get("delimiter")
	encType := q.Get("encoding-type")
	if encType != "" && encType != "url" {
		return errInvalidArgument("Invalid Encoding Method specified in Request.", "encoding-type", encType)
	}
	enc := encType == "url"
	max, e := rc.intArg("max-keys", 100, 0, 1000, "")
	if e != nil {
		return e
	}
	if len(prefix) > 1023 {
		return errInvalidArgument("Argument prefix is too long.", "prefix", "")
	}
	marker := ""
	var token string
	if v2 {
		marker = q.Get("start-after")
		if q.Has("continuation-token") {
			token = q.Get("continuation-token")
			raw, err := base64.RawURLEncoding.DecodeString(token)
			if err != nil || token == "" {
				return errInvalidArgument("The continuation token provided is incorrect.", "continuation-token", token)
			}
			if string(raw) > marker {
				marker = string(raw)
			}
		}
	} else {
		marker = q.Get("marker")
	}
	s := rc.s
	s.mu.Lock()
	b := s.buckets[rc.bucket]
	if b == nil {
		s.mu.Unlock()
		return errNoSuchBucket(rc.bucket)
	}
	objs, cps, truncated, next := listPage(b, prefix, delimiter, marker, max)
	contents := make([]xmlContent, len(objs))
	for i, o := range objs {
		contents[i] = xmlContent{Key: encodeKey(o.key, enc), LastModified: o.modTime.UTC().Format(isoMillis),
			ETag: `"` + o.etag + `"`, Type: o.typ, Size: o.size, StorageClass: "Standard", Owner: xmlOwner{ownerID, ownerName}}
	}
	s.mu.Unlock()
	prefixes := make([]xmlPrefix, len(cps))
	for i, p := range cps {
		prefixes[i] = xmlPrefix{encodeKey(p, enc)}
	}
	encType = ""
	if enc {
		encType = "url"
	}
	if v2 {
		out := struct {
			XMLName               xml.Name     `xml:"ListBucketResult"`
			Name                  string       `xml:"Name"`
			Prefix                string       `xml:"Prefix"`
			StartAfter            *string      `xml:"StartAfter,omitempty"`
			ContinuationToken     *string      `xml:"ContinuationToken,omitempty"`
			MaxKeys               int          `xml:"MaxKeys"`
			Delimiter             string       `xml:"Delimiter"`
			IsTruncated           bool         `xml:"IsTruncated"`
			NextContinuationToken string       `xml:"NextContinuationToken,omitempty"`
			EncodingType          string       `xml:"EncodingType,omitempty"`
			KeyCount              int          `xml:"KeyCount"`
			Contents              []xmlContent `xml:"Contents"`
			CommonPrefixes        []xmlPrefix  `xml:"CommonPrefixes"`
		}{Name: rc.bucket, Prefix: encodeKey(prefix, enc), MaxKeys: max, Delimiter: encodeKey(delimiter, enc),
			IsTruncated: truncated, EncodingType: encType, KeyCount: len(contents) + len(prefixes),
			Contents: contents, CommonPrefixes: prefixes}
		if q.Has("start-after") {
			sa := encodeKey(q.Get("start-after"), enc)
			out.StartAfter = &sa
		}
		if q.Has("continuation-token") {
			out.ContinuationToken = &token
		}
		if truncated {
			out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(next))
		}
		rc.writeXML(200, out)
		return nil
	}
	out := struct {
		XMLName        xml.Name     `xml:"ListBucketResult"`
		Name           string       `xml:"Name"`
		Prefix         string       `xml:"Prefix"`
		Marker         string       `xml:"Marker"`
		MaxKeys        int          `xml:"MaxKeys"`
		Delimiter      string       `xml:"Delimiter"`
		IsTruncated    bool         `xml:"IsTruncated"`
		NextMarker     string       `xml:"NextMarker,omitempty"`
		EncodingType   string       `xml:"EncodingType,omitempty"`
		Contents       []xmlContent `xml:"Contents"`
		CommonPrefixes []xmlPrefix  `xml:"CommonPrefixes"`
	}{Name: rc.bucket, Prefix: encodeKey(prefix, enc), Marker: encodeKey(marker, enc), MaxKeys: max,
		Delimiter: encodeKey(delimiter, enc), IsTruncated: truncated, EncodingType: encType,
		Contents: contents, CommonPrefixes: prefixes}
	if truncated {
		out.NextMarker = encodeKey(next, enc)
	}
	rc.writeXML(200, out)
	return nil
}

package osstest

import (
	"crypto/md5"
	"encoding/xml"
	"fmt"
	"hash/crc64"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func utf8Valid(s string) bool { return utf8.ValidString(s) }

const (
	ownerID   = "1234567890123456"
	ownerName = "1234567890123456"
)

// CreateBucket creates a bucket directly (no request is counted).
func (s *Server) CreateBucket(name string) error {
	if !bucketNameRE.MatchString(name) {
		return fmt.Errorf("osstest: invalid bucket name %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createBucketLocked(name)
}

func (s *Server) createBucketLocked(name string) error {
	if _, ok := s.buckets[name]; ok {
		return errBucketExists
	}
	b := newBucket(name, time.Now().UTC().Truncate(time.Second))
	if s.disk != nil {
		if err := os.MkdirAll(filepath.Join(s.disk.bucketDir(name), "obj"), 0o700); err != nil {
			return err
		}
		if err := s.disk.writeJSON(filepath.Join(s.disk.bucketDir(name), "bucket.json"), bucketJSON{Name: name, Created: b.created}); err != nil {
			return err
		}
	}
	s.buckets[name] = b
	return nil
}

// PutObject stores an object directly (no request is counted). h may carry
// x-oss-meta-* and Content-Type, Cache-Control, Content-Disposition,
// Content-Encoding, Content-Language and Expires. data is copied.
func (s *Server) PutObject(bucketName, key string, data []byte, h http.Header) error {
	if e := validKey(key); e != nil {
		return e
	}
	headers, e := objectHeaders(h)
	if e != nil {
		return e
	}
	if _, ok := headers["Content-Type"]; !ok {
		headers["Content-Type"] = "application/octet-stream"
	}
	var c []byte
	var wg sync.WaitGroup
	if s.disk == nil {
		// Copy while hashing: both are slow for large seeds.
		wg.Add(1)
		go func() {
			defer wg.Done()
			c = make([]byte, len(data))
			for i := 0; i < len(data); i += 8 << 20 {
				copy(c[i:], data[i:min(i+8<<20, len(data))])
			}
		}()
	}
	m := md5.Sum(data)
	md, crc := m[:], crc64.Checksum(data, crcTable)
	wg.Wait()
	o := &object{key: key, etag: upperHex(md), crc: crc, md5: md,
		modTime: time.Now().UTC(), typ: "Normal", headers: headers}
	if s.disk == nil {
		o.blob = blob{data: c, size: int64(len(data))}
	} else {
		f, err := s.disk.tempFile()
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			return err
		}
		o.blob = blob{path: f.Name(), size: int64(len(data))}
	}
	err := s.withBucket(bucketName, func(b *bucket) error { return s.install(b, o) })
	if err != nil {
		s.discard(o.blob)
	}
	return err
}

// GetObject returns a copy of an object's data and its headers: x-oss-meta-*,
// Content-Type and the other stored standard headers, ETag, Last-Modified,
// x-oss-object-type and x-oss-hash-crc64ecma.
func (s *Server) GetObject(bucket, key string) ([]byte, http.Header, error) {
	snap, h, err := s.snapshot(bucket, key)
	if err != nil {
		return nil, nil, err
	}
	data, err := snap.blob.readAll()
	if err != nil {
		return nil, nil, err
	}
	return data, h, nil
}

// StatObject returns an object's headers (as GetObject) and size, without
// its data.
func (s *Server) StatObject(bucket, key string) (http.Header, int64, error) {
	snap, h, err := s.snapshot(bucket, key)
	if err != nil {
		return nil, 0, err
	}
	return h, snap.size, nil
}

// snapshot copies an object's state under the lock, with its headers.
func (s *Server) snapshot(bucketName, key string) (object, http.Header, error) {
	var snap object
	err := s.withBucket(bucketName, func(b *bucket) error {
		o := b.get(key)
		if o == nil {
			return errNoKey
		}
		snap = *o
		return nil
	})
	if err != nil {
		return object{}, nil, err
	}
	h := http.Header{}
	snap.setHeaders(h)
	return snap, h, nil
}

// DeleteObject removes an object directly (no request is counted); a
// missing object is not an error, as with OSS.
func (s *Server) DeleteObject(bucketName, key string) error {
	return s.withBucket(bucketName, func(b *bucket) error {
		s.drop(b, key)
		return nil
	})
}

// Keys returns the bucket's keys, sorted (nil when there is no such
// bucket).
func (s *Server) Keys(bucketName string) (keys []string) {
	s.withBucket(bucketName, func(b *bucket) error {
		b.flush()
		keys = make([]string, 0, len(b.keys))
		for _, k := range b.keys {
			if b.get(k) != nil {
				keys = append(keys, k)
			}
		}
		return nil
	})
	return keys
}

// ListMultipartUploadIDs returns the ids of the bucket's unfinished
// multipart uploads, sorted (nil when there is no such bucket).
func (s *Server) ListMultipartUploadIDs(bucketName string) (ids []string) {
	s.withBucket(bucketName, func(b *bucket) error {
		ids = sortedKeys(b.uploads)
		return nil
	})
	return ids
}

// withBucket calls f, with the lock held, on the bucket called name, and
// returns its error; errNoBucket, without calling f, when there is none.
func (s *Server) withBucket(name string, f func(b *bucket) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[name]
	if b == nil {
		return errNoBucket
	}
	return f(b)
}

func (rc *reqCtx) putBucket() *ossError {
	if !bucketNameRE.MatchString(rc.bucket) {
		return newErr(400, "InvalidBucketName", "The specified bucket is not valid.").with("BucketName", rc.bucket)
	}
	s := rc.s
	s.mu.Lock()
	err := s.createBucketLocked(rc.bucket)
	s.mu.Unlock()
	if err == errBucketExists {
		return newErr(409, "BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.").with("BucketName", rc.bucket)
	}
	if err != nil {
		return newErr(500, "InternalError", err.Error())
	}
	rc.w.Header().Set("Location", "/"+rc.bucket)
	rc.w.Header().Set("Content-Length", "0")
	rc.w.WriteHeader(200)
	return nil
}

func (rc *reqCtx) deleteBucket() *ossError {
	s := rc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[rc.bucket]
	if b == nil {
		return errNoSuchBucket(rc.bucket)
	}
	if !b.empty() {
		return newErr(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.").with("BucketName", rc.bucket)
	}
	if len(b.uploads) > 0 {
		return newErr(409, "BucketNotEmpty", "The bucket you tried to delete has unfinished multipart uploads.").with("BucketName", rc.bucket)
	}
	if s.disk != nil {
		os.RemoveAll(s.disk.bucketDir(rc.bucket))
	}
	delete(s.buckets, rc.bucket)
	rc.w.WriteHeader(204)
	return nil
}

func (rc *reqCtx) getBucketInfo() *ossError {
	s := rc.s
	s.mu.Lock()
	b := s.buckets[rc.bucket]
	created := b.created
	s.mu.Unlock()
	region := s.opt.Region
	type bucketXML struct {
		AccessMonitor            string   `xml:"AccessMonitor"`
		CreationDate             string   `xml:"CreationDate"`
		CrossRegionReplication   string   `xml:"CrossRegionReplication"`
		DataRedundancyType       string   `xml:"DataRedundancyType"`
		ExtranetEndpoint         string   `xml:"ExtranetEndpoint"`
		IntranetEndpoint         string   `xml:"IntranetEndpoint"`
		Location                 string   `xml:"Location"`
		Name                     string   `xml:"Name"`
		ResourceGroupID          string   `xml:"ResourceGroupId"`
		StorageClass             string   `xml:"StorageClass"`
		TransferAcceleration     string   `xml:"TransferAcceleration"`
		Owner                    xmlOwner `xml:"Owner"`
		Grant                    string   `xml:"AccessControlList>Grant"`
		SSEAlgorithm             string   `xml:"ServerSideEncryptionRule>SSEAlgorithm"`
		BucketPolicyLogBucket    string   `xml:"BucketPolicy>LogBucket"`
		BucketPolicyLogPrefix    string   `xml:"BucketPolicy>LogPrefix"`
		Versioning               string   `xml:"Versioning,omitempty"`
		BlockPublicAccess        bool     `xml:"BlockPublicAccess"`
		RequestPaymentPayer      string   `xml:"-"`
		Comment                  string   `xml:"Comment"`
		CrossRegionReplicationTo string   `xml:"-"`
	}
	info := struct {
		XMLName xml.Name  `xml:"BucketInfo"`
		Bucket  bucketXML `xml:"Bucket"`
	}{Bucket: bucketXML{
		AccessMonitor:          "Disabled",
		CreationDate:           created.Format("2006-01-02T15:04:05.000Z"),
		CrossRegionReplication: "Disabled",
		DataRedundancyType:     "LRS",
		ExtranetEndpoint:       "oss-" + region + ".aliyuncs.com",
		IntranetEndpoint:       "oss-" + region + "-internal.aliyuncs.com",
		Location:               "oss-" + region,
		Name:                   rc.bucket,
		ResourceGroupID:        "rg-default",
		StorageClass:           "Standard",
		TransferAcceleration:   "Disabled",
		Owner:                  xmlOwner{ownerID, ownerName},
		Grant:                  "private",
		SSEAlgorithm:           "None",
	}}
	rc.writeXML(200, info)
	return nil
}

func (rc *reqCtx) listBuckets() *ossError {
	s := rc.s
	prefix, marker := rc.query.Get("prefix"), rc.query.Get("marker")
	s.mu.Lock()
	var names []string
	created := map[string]time.Time{}
	for n, b := range s.buckets {
		if strings.HasPrefix(n, prefix) && n > marker {
			names = append(names, n)
			created[n] = b.created
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	out := listBucketsResult{Prefix: prefix, Marker: marker, Owner: xmlOwner{ownerID, ownerName}}
	max := 1000
	if v := rc.query.Get("max-keys"); v != "" {
		n, err := parseInt(v)
		if err != nil || n < 1 || n > 1000 {
			return errInvalidArgument("max-keys must be between 1 and 1000.", "max-keys", v)
		}
		max = n
		out.MaxKeys = n
	}
	if len(names) > max {
		names = names[:max]
		out.IsTruncated = true
		out.NextMarker = names[max-1]
	}
	region := s.opt.Region
	for _, n := range names {
		out.Buckets = append(out.Buckets, bucketEntry{
			CreationDate:     created[n].Format("2006-01-02T15:04:05.000Z"),
			ExtranetEndpoint: "oss-" + region + ".aliyuncs.com",
			IntranetEndpoint: "oss-" + region + "-internal.aliyuncs.com",
			Location:         "oss-" + region,
			Name:             n,
			Region:           region,
			StorageClass:     "Standard",
		})
	}
	rc.writeXML(200, out)
	return nil
}

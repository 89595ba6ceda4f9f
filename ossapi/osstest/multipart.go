package osstest

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

const minPartSize = 100 << 10

type upload struct {
	id        string
	key       string
	initiated time.Time
	headers   map[string]string
	parts     map[int]*part
}

type part struct {
	blob
	num     int
	etag    string // without quotes
	md5     []byte
	crc     uint64
	modTime time.Time
}

type uploadJSON struct {
	ID        string
	Key       string
	Initiated time.Time
	Headers   map[string]string `json:",omitempty"`
}

type partJSON struct {
	Num     int
	ETag    string
	MD5     []byte
	CRC     uint64
	ModTime time.Time
	Size    int64
	Data    string
}

func (s *Server) loadUploads(b *bucket) error {
	mpu := filepath.Join(s.disk.bucketDir(b.name), "mpu")
	ents, _ := os.ReadDir(mpu)
	for _, de := range ents {
		dir := filepath.Join(mpu, de.Name())
		raw, err := os.ReadFile(filepath.Join(dir, "upload.json"))
		if err != nil {
			os.RemoveAll(dir)
			continue
		}
		var uj uploadJSON
		if json.Unmarshal(raw, &uj) != nil || uj.ID != de.Name() {
			continue
		}
		u := &upload{id: uj.ID, key: uj.Key, initiated: uj.Initiated, headers: uj.Headers, parts: map[int]*part{}}
		isPart := func(name string) bool { return strings.HasPrefix(name, "part-") && strings.HasSuffix(name, ".json") }
		err = loadRecords(dir, isPart, func(pj *partJSON) string {
			path := filepath.Join(dir, pj.Data)
			if st, err := os.Stat(path); err != nil || st.Size() != pj.Size {
				return ""
			}
			u.parts[pj.Num] = &part{blob: blob{path: path, size: pj.Size}, num: pj.Num, etag: pj.ETag, md5: pj.MD5, crc: pj.CRC, modTime: pj.ModTime}
			return pj.Data
		})
		if err != nil {
			return err
		}
		b.uploads[u.id] = u
	}
	return nil
}

// findUpload returns the upload named by ?uploadId for the request's key.
// Call with s.mu held.
func (rc *reqCtx) findUploadLocked() (*upload, *ossError) {
	id := rc.query.Get("uploadId")
	b := rc.s.buckets[rc.bucket]
	if b == nil {
		return nil, errNoSuchBucket(rc.bucket)
	}
	u := b.uploads[id]
	if u == nil || u.key != rc.key {
		return nil, errNoSuchUpload(id)
	}
	return u, nil
}

func (rc *reqCtx) initiateUpload() *ossError {
	headers, e := newObjectHeaders(rc.r.Header, rc.key)
	if e != nil {
		return e
	}
	enc := rc.urlEncoded()
	s := rc.s
	s.mu.Lock()
	b := s.buckets[rc.bucket]
	if rc.forbidOverwrite() && b.get(rc.key) != nil {
		s.mu.Unlock()
		return errFileExists()
	}
	u := &upload{id: randHex(32), key: rc.key, initiated: time.Now().UTC(), headers: headers, parts: map[int]*part{}}
	if s.disk != nil {
		err := s.disk.writeJSON(filepath.Join(s.disk.uploadDir(b.name, u.id), "upload.json"),
			uploadJSON{ID: u.id, Key: u.key, Initiated: u.initiated, Headers: u.headers})
		if err != nil {
			s.mu.Unlock()
			return newErr(500, "InternalError", err.Error())
		}
	}
	b.uploads[u.id] = u
	s.mu.Unlock()
	out := struct {
		XMLName      xml.Name `xml:"InitiateMultipartUploadResult"`
		Bucket       string   `xml:"Bucket"`
		Key          string   `xml:"Key"`
		UploadID     string   `xml:"UploadId"`
		EncodingType string   `xml:"EncodingType,omitempty"`
	}{Bucket: rc.bucket, Key: encodeKey(rc.key, enc), UploadID: u.id, EncodingType: encodingType(enc)}
	rc.writeXML(200, out)
	return nil
}

// intArg reads the integer query argument name, def when absent; outside
// [lo, hi] it is refused with msg (by default OSS's "Argument ... must be an
// integer between ..." text).
func (rc *reqCtx) intArg(name string, def, lo, hi int, msg string) (int, *ossError) {
	v := rc.query.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		if msg == "" {
			msg = fmt.Sprintf("Argument %s must be an integer between %d and %d.", name, lo, hi)
		}
		return 0, errInvalidArgument(msg, name, v)
	}
	return n, nil
}

func (rc *reqCtx) partNumber() (int, *ossError) {
	v := rc.query.Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive.", "partNumber", v)
	}
	return n, nil
}

// savePart installs p in the request's upload. It frees p's data on failure.
func (rc *reqCtx) savePart(p *part) *ossError {
	s := rc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := rc.findUploadLocked()
	if e != nil {
		s.discard(p.blob)
		return e
	}
	if s.disk != nil {
		dir := s.disk.uploadDir(rc.bucket, u.id)
		final, err := s.disk.place(p.path, filepath.Join(dir, fmt.Sprintf("part-%05d", p.num)))
		if err != nil {
			s.discard(p.blob)
			return newErr(500, "InternalError", err.Error())
		}
		p.path = final
		err = s.disk.writeJSON(filepath.Join(dir, fmt.Sprintf("part-%05d.json", p.num)), partJSON{Num: p.num, ETag: p.etag,
			MD5: p.md5, CRC: p.crc, ModTime: p.modTime, Size: p.size, Data: filepath.Base(p.path)})
		if err != nil {
			s.discard(p.blob)
			return newErr(500, "InternalError", err.Error())
		}
	}
	if old := u.parts[p.num]; old != nil && old.path != "" {
		os.Remove(old.path)
	}
	u.parts[p.num] = p
	return nil
}

// partTarget checks a part request: its part number, and that its upload
// exists.
func (rc *reqCtx) partTarget() (int, *ossError) {
	num, e := rc.partNumber()
	if e != nil {
		return 0, e
	}
	rc.s.mu.Lock()
	_, e = rc.findUploadLocked()
	rc.s.mu.Unlock()
	return num, e
}

func (rc *reqCtx) uploadPart() *ossError {
	num, e := rc.partTarget()
	if e != nil {
		return e
	}
	data, sum, e := rc.receiveBody(maxObjectSize)
	if e != nil {
		return e
	}
	md := sum.sum()
	p := &part{blob: data, num: num, etag: upperHex(md), md5: md, crc: sum.crc, modTime: time.Now().UTC()}
	if e := rc.savePart(p); e != nil {
		return e
	}
	h := rc.w.Header()
	h.Set("ETag", `"`+p.etag+`"`)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.crc, 10))
	h.Set("Content-MD5", bytesToB64(md))
	h.Set("Content-Length", "0")
	rc.w.WriteHeader(200)
	return nil
}

// hashBlob computes the MD5 and CRC-64 of a blob's data.
func hashBlob(b blob) ([]byte, uint64, error) {
	if b.path == "" {
		md, crc := hashBytes(b.flat())
		return md, crc, nil
	}
	f, err := os.Open(b.path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h := newSums()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, b.size)); err != nil {
		return nil, 0, err
	}
	return h.sum(), h.crc, nil
}

func (rc *reqCtx) uploadPartCopy() *ossError {
	num, e := rc.partTarget()
	if e != nil {
		return e
	}
	src, _, e := rc.copySource()
	if e != nil {
		return e
	}
	start, end := int64(0), src.size-1
	if rv := rc.r.Header.Get("x-oss-copy-source-range"); rv != "" {
		spec, ok := strings.CutPrefix(rv, "bytes=")
		a, z, ok2 := strings.Cut(spec, "-")
		var err1, err2 error
		start, err1 = strconv.ParseInt(a, 10, 64)
		if z != "" {
			end, err2 = strconv.ParseInt(z, 10, 64)
		}
		if !ok || !ok2 || err1 != nil || err2 != nil || start < 0 || end < start {
			return errInvalidArgument("The x-oss-copy-source-range value is invalid.", "x-oss-copy-source-range", rv)
		}
		if start >= src.size || end >= src.size {
			return newErr(416, "InvalidRange", "The requested range is not satisfiable.")
		}
	}
	n := end - start + 1
	if src.size == 0 {
		n = 0
		start = 0
	}
	if n > maxObjectSize {
		return newErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
	}
	data, err := rc.s.cloneBlob(src.blob, start, n)
	if err != nil {
		return newErr(500, "InternalError", err.Error())
	}
	md, crc, err := hashBlob(data)
	if err != nil {
		rc.s.discard(data)
		return newErr(500, "InternalError", err.Error())
	}
	p := &part{blob: data, num: num, etag: upperHex(md), md5: md, crc: crc, modTime: time.Now().UTC()}
	if e := rc.savePart(p); e != nil {
		return e
	}
	rc.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc, 10))
	rc.writeXML(200, struct {
		XMLName      xml.Name `xml:"CopyPartResult"`
		LastModified string   `xml:"LastModified"`
		ETag         string   `xml:"ETag"`
	}{LastModified: p.modTime.Format(isoMillis), ETag: `"` + p.etag + `"`})
	return nil
}

func (rc *reqCtx) completeUpload() *ossError {
	s := rc.s
	s.mu.Lock()
	u, e := rc.findUploadLocked()
	var parts map[int]*part
	var headers map[string]string
	if e == nil {
		parts = make(map[int]*part, len(u.parts))
		for k, v := range u.parts {
			parts[k] = v
		}
		headers = u.headers
	}
	s.mu.Unlock()
	if e != nil {
		return e
	}
	chosen, e := rc.chosenParts(parts)
	if e != nil {
		return e
	}
	if e := rc.checkOverwrite(rc.forbidOverwrite(), rc.key); e != nil {
		return e
	}
	data, crc, err := s.concat(chosen)
	if err != nil {
		return newErr(500, "InternalError", err.Error())
	}
	mh := md5.New()
	for _, p := range chosen {
		mh.Write(p.md5)
	}
	etag := fmt.Sprintf("%s-%d", upperHex(mh.Sum(nil)), len(chosen))
	o := &object{blob: data, key: rc.key, etag: etag, crc: crc, modTime: time.Now().UTC(), typ: "Multipart", headers: headers}

	s.mu.Lock()
	u, e = rc.findUploadLocked()
	if e == nil {
		e = rc.installLocked(o, rc.forbidOverwrite())
	}
	if e != nil {
		s.mu.Unlock()
		s.discard(data)
		return e
	}
	s.removeUploadLocked(rc.bucket, u)
	s.mu.Unlock()
	rc.answerComplete(o)
	return nil
}

// chosenParts returns the parts the request completes the upload with, in
// order: those its body lists (each with its ETag), or all of them with
// x-oss-complete-all: yes. Every part but the last must be at least
// minPartSize.
func (rc *reqCtx) chosenParts(parts map[int]*part) ([]*part, *ossError) {
	body, err := io.ReadAll(io.LimitReader(rc.r.Body, 8<<20))
	if err != nil {
		return nil, newErr(400, "IncompleteBody", err.Error())
	}
	var chosen []*part
	if strings.EqualFold(rc.r.Header.Get("x-oss-complete-all"), "yes") {
		if len(bytes.TrimSpace(body)) > 0 {
			return nil, errInvalidArgument("Should not specify both complete-all header and http body.", "x-oss-complete-all", "yes")
		}
		for _, n := range sortedKeys(parts) {
			chosen = append(chosen, parts[n])
		}
		if len(chosen) == 0 {
			return nil, errInvalidArgument("The upload has no parts.", "x-oss-complete-all", "yes")
		}
	} else {
		var req struct {
			XMLName xml.Name `xml:"CompleteMultipartUpload"`
			Parts   []struct {
				PartNumber int    `xml:"PartNumber"`
				ETag       string `xml:"ETag"`
			} `xml:"Part"`
		}
		if err := xml.Unmarshal(body, &req); err != nil || len(req.Parts) == 0 {
			return nil, errMalformedXML()
		}
		prev := 0
		for _, rp := range req.Parts {
			if rp.PartNumber <= prev {
				return nil, newErr(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts list must be specified in order by part number.")
			}
			prev = rp.PartNumber
			p := parts[rp.PartNumber]
			if p == nil || !strings.EqualFold(strings.Trim(strings.TrimSpace(rp.ETag), `"`), p.etag) {
				return nil, newErr(400, "InvalidPart", "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.").
					with("PartNumber", strconv.Itoa(rp.PartNumber)).with("ETag", rp.ETag)
			}
			chosen = append(chosen, p)
		}
	}
	for _, p := range chosen[:len(chosen)-1] {
		if p.size < minPartSize {
			return nil, newErr(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.").
				with("PartNumber", strconv.Itoa(p.num)).with("MinSizeAllowed", strconv.Itoa(minPartSize))
		}
	}
	return chosen, nil
}

// answerComplete answers a completed upload with its object.
func (rc *reqCtx) answerComplete(o *object) {
	enc := rc.urlEncoded()
	out := struct {
		XMLName      xml.Name `xml:"CompleteMultipartUploadResult"`
		EncodingType string   `xml:"EncodingType,omitempty"`
		Location     string   `xml:"Location"`
		Bucket       string   `xml:"Bucket"`
		Key          string   `xml:"Key"`
		ETag         string   `xml:"ETag"`
	}{Location: "http://" + rc.bucket + ".oss-" + rc.s.opt.Region + ".aliyuncs.com/" + escapeRFC3986(rc.key, true),
		Bucket: rc.bucket, Key: encodeKey(rc.key, enc), ETag: `"` + o.etag + `"`, EncodingType: encodingType(enc)}
	rc.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	rc.w.Header().Set("ETag", `"`+o.etag+`"`)
	rc.writeXML(200, out)
}

// concat joins the parts' data into a new blob and returns its CRC-64.
func (s *Server) concat(parts []*part) (blob, uint64, error) {
	var total int64
	for _, p := range parts {
		total += p.size
	}
	var crc uint64
	if s.disk == nil {
		// Like OSS, the parts are not copied or read again: the object
		// is made of them, and its CRC-64 is combined from theirs.
		segs := make([][]byte, 0, len(parts))
		for _, p := range parts {
			if p.segs != nil { // a part copied whole from a multipart object
				segs = append(segs, p.segs...)
			} else {
				segs = append(segs, p.data[:p.size])
			}
			crc = ossapi.CombineCRC64(crc, p.crc, p.size)
		}
		return blob{segs: segs, size: total}, crc, nil
	}
	f, err := s.disk.tempFile()
	if err != nil {
		return blob{}, 0, err
	}
	h := newSums()
	for _, p := range parts {
		var in *os.File
		if in, err = os.Open(p.path); err != nil {
			break
		}
		_, err = io.Copy(io.MultiWriter(f, h), io.NewSectionReader(in, 0, p.size))
		in.Close()
		if err != nil {
			break
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return blob{}, 0, err
	}
	return blob{path: f.Name(), size: total}, h.crc, nil
}

// removeUploadLocked forgets an upload and its parts.
func (s *Server) removeUploadLocked(bucket string, u *upload) {
	if b := s.buckets[bucket]; b != nil {
		delete(b.uploads, u.id)
	}
	if s.disk != nil {
		os.RemoveAll(s.disk.uploadDir(bucket, u.id))
	}
}

func (rc *reqCtx) abortUpload() *ossError {
	s := rc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := rc.findUploadLocked()
	if e != nil {
		return e
	}
	s.removeUploadLocked(rc.bucket, u)
	rc.w.WriteHeader(204)
	return nil
}

func (rc *reqCtx) listParts() *ossError {
	q := rc.query
	max, e := rc.intArg("max-parts", 1000, 1, 1000, "")
	if e != nil {
		return e
	}
	marker, e := rc.intArg("part-number-marker", 0, 0, math.MaxInt, "Invalid part-number-marker.")
	if e != nil {
		return e
	}
	enc := rc.urlEncoded()
	out := listPartsResult{Bucket: rc.bucket, Key: encodeKey(rc.key, enc), UploadID: q.Get("uploadId"), StorageClass: "Standard",
		PartNumberMarker: marker, MaxParts: max, EncodingType: encodingType(enc)}
	s := rc.s
	s.mu.Lock()
	u, e := rc.findUploadLocked()
	if e != nil {
		s.mu.Unlock()
		return e
	}
	for _, n := range sortedKeys(u.parts) {
		if n <= marker {
			continue
		}
		if len(out.Parts) == max {
			out.IsTruncated = true
			break
		}
		p := u.parts[n]
		out.Parts = append(out.Parts, xmlPart{n, p.modTime.Format(isoMillis), `"` + p.etag + `"`, p.crc, p.size})
		out.NextPartNumberMarker = n
	}
	s.mu.Unlock()
	rc.writeXML(200, out)
	return nil
}

// uploadsAfter returns the bucket's uploads under prefix after the
// markers, ordered by key, then time of initiation, then id.
func (rc *reqCtx) uploadsAfter(prefix, keyMarker, idMarker string) []*upload {
	s := rc.s
	s.mu.Lock()
	var ups []*upload
	for _, u := range s.buckets[rc.bucket].uploads {
		if !strings.HasPrefix(u.key, prefix) {
			continue
		}
		if u.key < keyMarker || (u.key == keyMarker && (idMarker == "" || u.id <= idMarker)) {
			continue
		}
		ups = append(ups, u)
	}
	s.mu.Unlock()
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].key != ups[j].key {
			return ups[i].key < ups[j].key
		}
		if !ups[i].initiated.Equal(ups[j].initiated) {
			return ups[i].initiated.Before(ups[j].initiated)
		}
		return ups[i].id < ups[j].id
	})
	return ups
}

func (rc *reqCtx) listUploads() *ossError {
	q := rc.query
	max, e := rc.intArg("max-uploads", 1000, 1, 1000, "")
	if e != nil {
		return e
	}
	prefix, delimiter := q.Get("prefix"), q.Get("delimiter")
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	enc := rc.urlEncoded()
	out := listUploadsResult{Bucket: rc.bucket, KeyMarker: encodeKey(keyMarker, enc), UploadIDMarker: idMarker,
		Delimiter: encodeKey(delimiter, enc), Prefix: encodeKey(prefix, enc), MaxUploads: max, EncodingType: encodingType(enc)}
	seen := map[string]bool{}
	n := 0
	for _, u := range rc.uploadsAfter(prefix, keyMarker, idMarker) {
		cp := commonPrefix(u.key, prefix, delimiter)
		if cp != "" && seen[cp] {
			continue
		}
		if n == max {
			out.IsTruncated = true
			break
		}
		if cp != "" {
			seen[cp] = true
			out.CommonPrefixes = append(out.CommonPrefixes, xmlPrefix{encodeKey(cp, enc)})
			out.NextKeyMarker, out.NextUploadIDMarker = encodeKey(cp, enc), ""
		} else {
			out.Uploads = append(out.Uploads, xmlUpload{encodeKey(u.key, enc), u.id, "Standard", u.initiated.Format(isoMillis)})
			out.NextKeyMarker, out.NextUploadIDMarker = encodeKey(u.key, enc), u.id
		}
		n++
	}
	rc.writeXML(200, out)
	return nil
}

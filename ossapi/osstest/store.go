package osstest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

var crcTable = crc64.MakeTable(crc64.ECMA)

var (
	errBucketExists = errors.New("osstest: bucket already exists")
	errNoBucket     = errors.New("osstest: no such bucket")
	errNoKey        = errors.New("osstest: no such key")
)

// blob is immutable object or part data, held in memory or in a file.
type blob struct {
	data []byte   // memory store
	segs [][]byte // memory store, a completed multipart upload: its parts' data, in order
	path string   // disk store: the file holding the data
	size int64
}

// flat returns a memory blob's data as one slice (a copy when segmented).
func (b blob) flat() []byte {
	if b.segs == nil {
		return b.data[:b.size]
	}
	out := make([]byte, 0, b.size)
	for _, s := range b.segs {
		out = append(out, s...)
	}
	return out
}

// segReader reads a segmented memory blob.
type segReader struct {
	segs [][]byte
	size int64
}

func (r *segReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for _, s := range r.segs {
		if n == len(p) {
			break
		}
		if off >= int64(len(s)) {
			off -= int64(len(s))
			continue
		}
		m := copy(p[n:], s[off:])
		n += m
		off = 0
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// object is one stored object version. Its fields never change once it is
// in a bucket, except size/crc/etag/modTime of an Appendable object, which
// are replaced under Server.mu (readers copy what they need under the lock).
type object struct {
	blob
	key     string
	etag    string // without quotes
	crc     uint64
	md5     []byte // binary MD5 of the data for Normal objects, nil otherwise
	modTime time.Time
	typ     string            // Normal, Multipart, Appendable
	headers map[string]string // Content-Type... (canonical) and x-oss-meta-* (lower case)
}

// entry is a key's slot in a bucket; obj is nil for a deleted key that is
// still in the sorted key slice.
type entry struct{ obj *object }

type bucket struct {
	name    string
	created time.Time
	objs    map[string]*entry
	keys    []string // sorted; may hold deleted keys (entry.obj == nil)
	pending []string // keys added since the last flush, unsorted
	dead    int      // entries with obj == nil
	uploads map[string]*upload
}

func newBucket(name string, created time.Time) *bucket {
	return &bucket{name: name, created: created, objs: map[string]*entry{}, uploads: map[string]*upload{}}
}

func (b *bucket) get(key string) *object {
	if e := b.objs[key]; e != nil {
		return e.obj
	}
	return nil
}

// set stores o under its key and returns the object it replaced.
func (b *bucket) set(o *object) *object {
	e := b.objs[o.key]
	if e == nil {
		e = &entry{}
		b.objs[o.key] = e
		if n := len(b.keys); n == 0 || (len(b.pending) == 0 && b.keys[n-1] < o.key) {
			b.keys = append(b.keys, o.key)
		} else {
			b.pending = append(b.pending, o.key)
		}
	} else if e.obj == nil {
		b.dead--
	}
	old := e.obj
	e.obj = o
	return old
}

// remove deletes key and returns the object it held.
func (b *bucket) remove(key string) *object {
	e := b.objs[key]
	if e == nil || e.obj == nil {
		return nil
	}
	old := e.obj
	e.obj = nil
	b.dead++
	return old
}

// flush merges pending keys into the sorted slice and drops deleted keys
// when they are many.
func (b *bucket) flush() {
	if len(b.pending) > 0 {
		sort.Strings(b.pending)
		merged := make([]string, 0, len(b.keys)+len(b.pending))
		i, j := 0, 0
		for i < len(b.keys) || j < len(b.pending) {
			if j == len(b.pending) || (i < len(b.keys) && b.keys[i] < b.pending[j]) {
				merged = append(merged, b.keys[i])
				i++
			} else {
				merged = append(merged, b.pending[j])
				j++
			}
		}
		b.keys = merged
		b.pending = nil
	}
	if b.dead > 0 && b.dead*4 > len(b.keys) {
		live := b.keys[:0]
		for _, k := range b.keys {
			if e := b.objs[k]; e != nil && e.obj != nil {
				live = append(live, k)
			} else {
				delete(b.objs, k)
			}
		}
		clear(b.keys[len(live):])
		b.keys = live
		b.dead = 0
	}
}

func (b *bucket) empty() bool { return len(b.objs) == b.dead }

// sums accumulates the MD5 and CRC-64 of data as it is received.
type sums struct {
	md5  hash.Hash
	crc  uint64
	size int64
}

func newSums() *sums { return &sums{md5: md5.New()} }

func (h *sums) Write(p []byte) (int, error) {
	h.md5.Write(p)
	h.crc = crc64.Update(h.crc, crcTable, p)
	h.size += int64(len(p))
	return len(p), nil
}

func (h *sums) sum() []byte { return h.md5.Sum(nil) }

// hashBytes computes MD5 and CRC-64 of data, in parallel for large inputs.
func hashBytes(data []byte) (md []byte, crc uint64) {
	if len(data) < 8<<20 {
		m := md5.Sum(data)
		return m[:], crc64.Checksum(data, crcTable)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		crc = crc64.Checksum(data, crcTable)
	}()
	m := md5.Sum(data)
	wg.Wait()
	return m[:], crc
}

var errTooLarge = errors.New("osstest: entity too large")

// receive reads r to the end into a new blob (in memory, or a temporary file
// in the disk store), at most limit bytes, computing MD5 and CRC-64. hint is
// the expected size (-1 unknown). On error nothing is left behind.
func (s *Server) receive(r io.Reader, hint, limit int64) (blob, *sums, error) {
	h := newSums()
	if s.disk == nil {
		var buf []byte
		if hint >= 0 && hint <= limit {
			buf = make([]byte, 0, hint)
		}
		w := bytes.NewBuffer(buf)
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, limit+1))
		if err != nil {
			return blob{}, nil, err
		}
		if n > limit {
			return blob{}, nil, errTooLarge
		}
		data := w.Bytes()
		return blob{data: data[:len(data):len(data)], size: n}, h, nil
	}
	f, err := s.disk.tempFile()
	if err != nil {
		return blob{}, nil, err
	}
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = errTooLarge
	}
	if err != nil {
		os.Remove(f.Name())
		return blob{}, nil, err
	}
	return blob{path: f.Name(), size: n}, h, nil
}

// discard frees a blob that was received but not installed.
func (s *Server) discard(b blob) {
	if b.path != "" {
		os.Remove(b.path)
	}
}

// open returns a reader over the blob's data.
func (b blob) open() (io.ReaderAt, io.Closer, error) {
	if b.segs != nil {
		return &segReader{segs: b.segs, size: b.size}, io.NopCloser(nil), nil
	}
	if b.path == "" {
		return bytes.NewReader(b.data[:b.size]), io.NopCloser(nil), nil
	}
	f, err := os.Open(b.path)
	if err != nil {
		return nil, nil, err
	}
	return f, f, nil
}

// readAll returns a copy of the blob's data.
func (b blob) readAll() ([]byte, error) {
	if b.segs != nil {
		return b.flat(), nil
	}
	if b.path == "" {
		return bytes.Clone(b.data[:b.size]), nil
	}
	f, err := os.Open(b.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, b.size)
	_, err = io.ReadFull(f, buf)
	return buf, err
}

// diskStore keeps buckets under a directory:
//
//	<root>/<bucket>/bucket.json
//	<root>/<bucket>/obj/<xx>/<sha256(key)>.json       object metadata
//	<root>/<bucket>/obj/<xx>/<sha256(key)>.<ver>.data object data
//	<root>/<bucket>/mpu/<uploadId>/upload.json, part-NNNNN.json, part-NNNNN.<ver>.data
//	<root>/.tmp/                                         files being written
//
// Every file is written to .tmp and renamed into place.
type diskStore struct {
	root string
}

func newDiskStore(root string) (*diskStore, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(root, ".tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	return &diskStore{root: root}, nil
}

func (d *diskStore) tempFile() (*os.File, error) {
	return os.CreateTemp(filepath.Join(d.root, ".tmp"), "recv-")
}

func (d *diskStore) bucketDir(b string) string { return filepath.Join(d.root, b) }

func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func (d *diskStore) objBase(bucket, key string) string {
	h := keyHash(key)
	return filepath.Join(d.root, bucket, "obj", h[:2], h)
}

func (d *diskStore) uploadDir(bucket, id string) string {
	return filepath.Join(d.root, bucket, "mpu", id)
}

func version() string {
	return fmt.Sprintf("%x%s", time.Now().UnixNano(), strings.ToLower(randHex(8)))
}

// writeJSON writes v to path atomically.
func (d *diskStore) writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := d.tempFile()
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = os.Rename(f.Name(), path)
		}
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// place moves a received temporary file to its final name next to base.
func (d *diskStore) place(tmp, base string) (string, error) {
	final := base + "." + version() + ".data"
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return final, nil
}

type bucketJSON struct {
	Name    string
	Created time.Time
}

type objectJSON struct {
	Key     string
	Size    int64
	ETag    string
	CRC     uint64
	MD5     []byte `json:",omitempty"`
	ModTime time.Time
	Type    string
	Headers map[string]string `json:",omitempty"`
	Data    string            // file name of the data, in the same directory
}

func objToJSON(o *object) objectJSON {
	return objectJSON{Key: o.key, Size: o.size, ETag: o.etag, CRC: o.crc, MD5: o.md5,
		ModTime: o.modTime, Type: o.typ, Headers: o.headers, Data: filepath.Base(o.path)}
}

// install stores o (whose data is a received blob) as the current version
// of its key. Call with s.mu held.
func (s *Server) install(b *bucket, o *object) error {
	if s.disk != nil {
		base := s.disk.objBase(b.name, o.key)
		if filepath.Dir(o.path) != filepath.Dir(base) || !strings.HasPrefix(filepath.Base(o.path), filepath.Base(base)+".") {
			final, err := s.disk.place(o.path, base)
			if err != nil {
				return err
			}
			o.path = final
		}
		if err := s.disk.writeJSON(base+".json", objToJSON(o)); err != nil {
			return err
		}
	}
	old := b.set(o)
	if old != nil && old.path != "" && old.path != o.path {
		os.Remove(old.path)
	}
	return nil
}

// drop deletes key from b. Call with s.mu held.
func (s *Server) drop(b *bucket, key string) {
	old := b.remove(key)
	if old == nil {
		return
	}
	if s.disk != nil {
		base := s.disk.objBase(b.name, key)
		os.Remove(base + ".json")
		os.Remove(old.path)
	}
}

// load reads the disk store into memory.
func (s *Server) load() error {
	d := s.disk
	ents, err := os.ReadDir(d.root)
	if err != nil {
		return err
	}
	for _, de := range ents {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		var bj bucketJSON
		raw, err := os.ReadFile(filepath.Join(d.root, de.Name(), "bucket.json"))
		if err != nil {
			continue
		}
		if json.Unmarshal(raw, &bj) != nil || bj.Name != de.Name() {
			continue
		}
		b := newBucket(bj.Name, bj.Created)
		s.buckets[b.name] = b
		if err := s.loadObjects(b); err != nil {
			return err
		}
		if err := s.loadUploads(b); err != nil {
			return err
		}
		b.flush()
	}
	return nil
}

func (s *Server) loadObjects(b *bucket) error {
	objDir := filepath.Join(s.disk.bucketDir(b.name), "obj")
	subs, _ := os.ReadDir(objDir)
	for _, sub := range subs {
		dir := filepath.Join(objDir, sub.Name())
		isRecord := func(name string) bool { return strings.HasSuffix(name, ".json") }
		err := loadRecords(dir, isRecord, func(oj *objectJSON) string {
			path := filepath.Join(dir, oj.Data)
			if st, err := os.Stat(path); err != nil || st.Size() < oj.Size {
				return ""
			}
			b.set(&object{blob: blob{path: path, size: oj.Size}, key: oj.Key, etag: oj.ETag, crc: oj.CRC,
				md5: oj.MD5, modTime: oj.ModTime, typ: oj.Type, headers: oj.Headers})
			return oj.Data
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// loadRecords reads the JSON records of dir, the files isRecord accepts,
// and gives each that decodes as a T to add, which returns the name of the
// data file in dir the record keeps ("" for none). Then it removes the
// data files (*.data) no record keeps: what a crash left between writing
// the data and its record, or after the record's removal.
func loadRecords[T any](dir string, isRecord func(name string) bool, add func(rec *T) string) error {
	files, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, f := range files {
		if !isRecord(f.Name()) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			return err
		}
		var rec T
		if json.Unmarshal(raw, &rec) != nil {
			continue
		}
		if data := add(&rec); data != "" {
			used[data] = true
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".data") && !used[f.Name()] {
			os.Remove(filepath.Join(dir, f.Name()))
		}
	}
	return nil
}

package cache

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// AttrStore keeps, between mounts, what HEAD requests said about objects'
// ossfs attributes (x-oss-meta-mode, uid, gid, mtime and rdev), keyed by
// object key and valid only for the version it was read from: the ETag and
// the Last-Modified second a listing shows. A metadata change by a
// self-copy keeps the ETag but moves Last-Modified, so a listing of an
// object changed since (by anyone) never matches an old record. A record
// is taken only from a HEAD made at least two seconds after the object's
// Last-Modified, so that no later change within that same second can share
// its version.
//
// The store is a bounded LRU in memory, loaded from and saved to one file.
// The file is not trusted blindly: it must be a regular file owned by the
// current user, no larger than maxStoreFile, with the expected header,
// entry count and CRC-32C of its body; anything else is ignored (the
// store starts empty and the next save replaces it). It is saved through a
// temporary file created by the caller's create function (which must not
// follow symlinks) and renamed over the old one.
type AttrStore struct {
	path   string
	create func(name string) (*os.File, error)
	now    func() time.Time

	mu    sync.Mutex
	c     *lru.Cache[string, attrRecord] // GUARDED_BY(mu)
	dirty bool                           // GUARDED_BY(mu)
}

type attrRecord struct {
	Key  string            `json:"k"`
	ETag string            `json:"e"`
	LM   int64             `json:"t"` // Last-Modified, Unix seconds
	Meta map[string]string `json:"m,omitempty"`
}

const (
	storeMagic   = "ossmount-attrs v1"
	maxStoreFile = 256 << 20
	// storeSettle is how long after its Last-Modified an object must be
	// seen for its record to be kept (see AttrStore).
	storeSettle = 2 * time.Second
)

// storeKeys are the metadata names a record keeps.
var storeKeys = map[string]bool{"mode": true, "uid": true, "gid": true, "mtime": true, "rdev": true}

// OpenAttrStore returns a store of at most size records backed by the file
// at path (in a private directory), loaded when it is valid. The error, if
// any, says why the file was ignored; the store is usable either way.
func OpenAttrStore(path string, size int, create func(name string) (*os.File, error)) (*AttrStore, error) {
	if size <= 0 {
		size = 100000
	}
	c, _ := lru.New[string, attrRecord](size)
	s := &AttrStore{path: path, create: create, now: time.Now, c: c}
	recs, err := readStore(path, size)
	if err != nil {
		return s, err
	}
	for _, r := range recs {
		c.Add(r.Key, r)
	}
	return s, nil
}

// Path is the file the store is saved to.
func (s *AttrStore) Path() string { return s.path }

// Len is the number of records.
func (s *AttrStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.Len()
}

// Get returns the ossfs metadata recorded for key at the version (etag,
// lastModified), if any.
func (s *AttrStore) Get(key, etag string, lastModified time.Time) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.c.Get(key)
	if !ok || r.ETag != etag || etag == "" || r.LM != lastModified.Unix() {
		return nil, false
	}
	return r.Meta, true
}

// Put records the ossfs metadata of key at the version (etag,
// lastModified), as a HEAD just returned it.
func (s *AttrStore) Put(key, etag string, lastModified time.Time, meta map[string]string) {
	if key == "" || etag == "" || lastModified.IsZero() || s.now().Sub(lastModified) < storeSettle {
		return
	}
	r := attrRecord{Key: key, ETag: etag, LM: lastModified.Unix()}
	for k, v := range meta {
		if storeKeys[k] {
			if r.Meta == nil {
				r.Meta = map[string]string{}
			}
			r.Meta[k] = v
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.c.Peek(key); ok && old.ETag == r.ETag && old.LM == r.LM && sameMeta(old.Meta, r.Meta) {
		s.c.Get(key) // recently used
		return
	}
	s.c.Add(key, r)
	s.dirty = true
}

func sameMeta(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Save writes the store to its file if it changed since the last save.
func (s *AttrStore) Save() error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	keys := s.c.Keys() // oldest first: loading keeps the order of use
	recs := make([]attrRecord, 0, len(keys))
	for _, k := range keys {
		if r, ok := s.c.Peek(k); ok {
			recs = append(recs, r)
		}
	}
	s.dirty = false
	s.mu.Unlock()
	body, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp-" + strconv.Itoa(os.Getpid())
	f, err := s.create(tmp)
	if err != nil {
		s.markDirty()
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "%s %d %08x\n", storeMagic, len(recs), crc32c(body))
	w.Write(body)
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		os.Remove(tmp)
		s.markDirty()
	}
	return err
}

func (s *AttrStore) markDirty() {
	s.mu.Lock()
	s.dirty = true
	s.mu.Unlock()
}

// readStore reads and checks a store file; a missing file is no error.
func readStore(path string, size int) ([]attrRecord, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		if err == syscall.ENOENT {
			return nil, nil
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
		return nil, fmt.Errorf("%s: not a regular file", path)
	case int(st.Uid) != os.Geteuid():
		return nil, fmt.Errorf("%s: owned by uid %d, not %d", path, st.Uid, os.Geteuid())
	case st.Size > maxStoreFile:
		return nil, fmt.Errorf("%s: %d bytes, more than %d", path, st.Size, maxStoreFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStoreFile+1))
	if err != nil {
		return nil, err
	}
	header, body, ok := bytes.Cut(data, []byte("\n"))
	var magic1, magic2 string
	var count int
	var sum uint32
	if !ok {
		return nil, fmt.Errorf("%s: no header", path)
	}
	if n, err := fmt.Sscanf(string(header), "%s %s %d %x", &magic1, &magic2, &count, &sum); n != 4 || err != nil || magic1+" "+magic2 != storeMagic {
		return nil, fmt.Errorf("%s: not an attribute store of this version", path)
	}
	if crc32c(body) != sum {
		return nil, fmt.Errorf("%s: checksum mismatch (corrupt)", path)
	}
	var recs []attrRecord
	if err := json.Unmarshal(body, &recs); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(recs) != count {
		return nil, fmt.Errorf("%s: %d records, header says %d", path, len(recs), count)
	}
	for _, r := range recs {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	if len(recs) > size {
		recs = recs[len(recs)-size:] // the most recently used
	}
	return recs, nil
}

// check refuses a record no HEAD could have made.
func (r attrRecord) check() error {
	if r.Key == "" || r.ETag == "" || len(r.Key) > 1023 {
		return errors.New("record without key or version")
	}
	for k, v := range r.Meta {
		if !storeKeys[k] || len(v) > 64 {
			return fmt.Errorf("record %q: unexpected metadata %q", r.Key, k)
		}
	}
	return nil
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

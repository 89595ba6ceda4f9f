package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/ossapi"
)

// Stager owns the cache directory and its disk budget.
//
// Each mount stages in its own directory under the cache directory
// ("ossmount-*"), which also holds
//
//   - "lock", locked (flock) for as long as the mount's process lives;
//   - one "upload-*" record (UploadRecord: endpoint, bucket, key, upload
//     id) per multipart upload this mount has started and not yet
//     completed or aborted;
//   - "stage-*" files of files being written, and "kept-*" files holding
//     data whose upload failed (kept for the user, never removed), each
//     with a "kept-*.json" description (KeptFile).
//
// A process killed in the middle of an upload leaves its directory behind
// with the lock free. The next read-write mount of the same endpoint and
// bucket using the same cache directory aborts the uploads recorded there
// for that endpoint and bucket (no partial object ever appears: an
// incomplete multipart upload is invisible), and leaves records of other
// buckets or endpoints to their own mounts. It removes the staging files of
// the writes that were in progress (their close never succeeded), and
// removes the directory once nothing is left in it but its lock.
type Stager struct {
	base   string
	dir    string
	id     StoreID
	budget *cache.Budget
	log    stagerLog
	lock   *os.File // held open (and locked) while the mount lives
}

// StoreID names the bucket a mount writes to: upload records and kept
// files carry it, so a mount only ever recovers its own.
type StoreID struct {
	Endpoint string `json:"endpoint"`
	Bucket   string `json:"bucket"`
}

type stagerLog interface {
	Info(string, ...any)
	Warn(string, ...any)
	Error(string, ...any)
}

const (
	lockName     = "lock"
	uploadPrefix = "upload-"
	stagePrefix  = "stage-"
	keptPrefix   = "kept-"
	keptInfoExt  = ".json"
)

func newStager(base string, limit int64, id StoreID, log stagerLog) (*Stager, error) {
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	dir, err := os.MkdirTemp(base, "ossmount-")
	if err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cache directory: lock: %w", err)
	}
	return &Stager{base: base, dir: dir, id: id, budget: cache.NewBudget(limit), log: log, lock: lock}, nil
}

// Cleanup removes the staging directory (after unmount) unless it holds
// kept files or records of uploads still to abort, which the next mount
// with this cache directory then finds.
func (s *Stager) Cleanup() {
	entries, _ := os.ReadDir(s.dir)
	if len(entries) == 1 && entries[0].Name() == lockName {
		os.Remove(filepath.Join(s.dir, lockName))
		os.Remove(s.dir)
	}
	s.lock.Close()
}

// Dir is the mount's own directory in the cache directory.
func (s *Stager) Dir() string { return s.dir }

// ID is the bucket the mount writes to.
func (s *Stager) ID() StoreID { return s.id }

// DiskBudget is the budget of bytes staged on disk (disk_budget).
func (s *Stager) DiskBudget() *cache.Budget { return s.budget }

// KeptName is the name a staging file (named tmp) is kept under after its
// upload failed: a later mount cleaning up after a crash never removes it.
func KeptName(tmp string) string {
	return filepath.Join(filepath.Dir(tmp), keptPrefix+strings.TrimPrefix(filepath.Base(tmp), stagePrefix))
}

// UploadRecord is what a mount records in its directory about a multipart
// upload it started, until it completes or aborts it.
type UploadRecord struct {
	StoreID
	Key      string    `json:"key"`
	UploadID string    `json:"upload_id"`
	Started  time.Time `json:"started"`
	Live     bool      `json:"-"` // (ListRecords) the mount that started it is running
}

// recordName is the file recording upload id.
func recordName(dir, id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(dir, uploadPrefix+hex.EncodeToString(sum[:12]))
}

// NoteUpload records a multipart upload in progress (best effort).
func (s *Stager) NoteUpload(key, id string) {
	b, _ := json.Marshal(UploadRecord{StoreID: s.id, Key: key, UploadID: id, Started: time.Now().UTC()})
	if err := os.WriteFile(recordName(s.dir, id), append(b, '\n'), 0o600); err != nil {
		s.log.Warn("cannot record a multipart upload in the cache directory; if ossmount is killed it is not aborted", "key", key, "upload_id", id, "err", err)
	}
}

// ForgetUpload drops the record of an upload that was completed, aborted
// or deliberately kept.
func (s *Stager) ForgetUpload(id string) { os.Remove(recordName(s.dir, id)) }

// readRecord reads an upload record; ok is false for a file that is not
// one (or a record of an older ossmount, which did not name its bucket).
func readRecord(path string) (UploadRecord, bool) {
	var r UploadRecord
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &r) != nil || r.UploadID == "" || r.Bucket == "" {
		return r, false
	}
	return r, true
}

// recoverAbandoned cleans up after mounts of this cache directory whose
// process died without unmounting (see Stager).
func (s *Stager) recoverAbandoned(ctx context.Context, store ossapi.ObjectStore) {
	dirs, _ := filepath.Glob(filepath.Join(s.base, "ossmount-*"))
	aborted, others := 0, 0
	for _, d := range dirs {
		if d != s.dir {
			a, o := s.recoverDir(ctx, store, d)
			aborted, others = aborted+a, others+o
		}
	}
	s.log.Info("cache_dir checked for uploads of killed mounts", "dir", s.base, "aborted", aborted, "left_to_other_buckets", others)
}

// recoverDir cleans up the directory d of a dead mount and returns how
// many uploads it aborted and how many records of other buckets or
// endpoints it left.
func (s *Stager) recoverDir(ctx context.Context, store ossapi.ObjectStore, d string) (aborted, others int) {
	lock, err := os.OpenFile(filepath.Join(d, lockName), os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return // not a mount directory, or one being created
	}
	defer lock.Close()
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // its mount is alive
	}
	records, _ := filepath.Glob(filepath.Join(d, uploadPrefix+"*"))
	for _, path := range records {
		r, ok := readRecord(path)
		if !ok {
			s.log.Warn("multipart upload record without its bucket (or unreadable): left alone", "file", path)
			continue
		}
		if r.StoreID != s.id {
			others++
			continue // another bucket's or endpoint's: its own mounts recover it
		}
		err := store.AbortMultipart(ctx, r.Key, r.UploadID)
		if err != nil && ossapi.KindOf(err) != ossapi.KindNotExist {
			s.log.Warn("cannot abort a multipart upload abandoned by an ossmount that did not unmount; retried at the next mount", "key", r.Key, "upload_id", r.UploadID, "err", err)
			continue
		}
		s.log.Info("aborted a multipart upload abandoned by an ossmount that did not unmount", "key", r.Key, "upload_id", r.UploadID)
		os.Remove(path)
		aborted++
	}
	stages, _ := filepath.Glob(filepath.Join(d, stagePrefix+"*"))
	for _, f := range stages {
		os.Remove(f)
	}
	if len(stages) > 0 {
		s.log.Warn("removed the staging files of writes in progress when an ossmount ended without unmounting (their close never succeeded)", "dir", d, "files", len(stages))
	}
	for _, k := range readKept(d) {
		if k.StoreID == s.id {
			s.log.Error("data that could not be uploaded is kept", k.LogAttrs()...)
		}
	}
	if entries, _ := os.ReadDir(d); len(entries) == 1 && entries[0].Name() == lockName {
		os.Remove(filepath.Join(d, lockName))
		os.Remove(d)
	}
	return aborted, others
}

// Range is a byte range [Off, End) of a file.
type Range struct {
	Off int64 `json:"off"`
	End int64 `json:"end"`
}

// String writes r as "off-end".
func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Off, r.End) }

// FormatRanges writes ranges as the logs show them ("none" for none).
func FormatRanges(rs []Range) string {
	if len(rs) == 0 {
		return "none"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

// KeptFile describes data kept in cache_dir after its upload failed: the
// file Path holds the file's bytes at their offsets. Changed are the
// ranges whose bytes did not reach OSS as an object: the application wrote
// them (or they were cut by a truncate). Every other byte below Size is the
// object BaseETag's (when set; else zeros), and is not in Path unless it
// was read. InUpload are changed ranges that left Path after they were
// sent as parts of the multipart upload UploadID (disk_budget): only that
// upload holds them.
type KeptFile struct {
	StoreID
	Key      string    `json:"key"`
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	Reason   string    `json:"reason"`
	Time     time.Time `json:"time"`
	BaseETag string    `json:"base_etag,omitempty"`
	Changed  []Range   `json:"changed"`
	UploadID string    `json:"upload_id,omitempty"`
	InUpload []Range   `json:"in_upload,omitempty"`
}

// LogAttrs are the slog attributes that describe k.
func (k *KeptFile) LogAttrs() []any {
	a := []any{"key", k.Key, "kept", k.Path, "size", k.Size, "not_on_oss", FormatRanges(k.Changed), "reason", k.Reason}
	if k.BaseETag != "" {
		a = append(a, "other_bytes_from_etag", k.BaseETag)
	}
	if k.UploadID != "" {
		a = append(a, "upload_id", k.UploadID, "only_in_upload", FormatRanges(k.InUpload))
	}
	return a
}

// SaveKept writes k's description next to its data.
func (s *Stager) SaveKept(k *KeptFile) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(k.Path+keptInfoExt, append(b, '\n'), 0o600)
}

// readKept lists the kept files described in dir.
func readKept(dir string) []KeptFile {
	infos, _ := filepath.Glob(filepath.Join(dir, keptPrefix+"*"+keptInfoExt))
	var out []KeptFile
	for _, p := range infos {
		var k KeptFile
		if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &k) == nil && k.Key != "" {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// KeptFiles lists this mount's kept files.
func (s *Stager) KeptFiles() []KeptFile { return readKept(s.dir) }

// ListKept lists the kept files of every mount directory under the cache
// directory base that belong to id (all of them when id is zero).
func ListKept(base string, id StoreID) []KeptFile {
	dirs, _ := filepath.Glob(filepath.Join(base, "ossmount-*"))
	var out []KeptFile
	for _, d := range dirs {
		for _, k := range readKept(d) {
			if id == (StoreID{}) || k.StoreID == id {
				out = append(out, k)
			}
		}
	}
	return out
}

// ListRecords lists the multipart uploads recorded under the cache
// directory base for id by mounts, running (Live) or not.
func ListRecords(base string, id StoreID) []UploadRecord {
	dirs, _ := filepath.Glob(filepath.Join(base, "ossmount-*"))
	var out []UploadRecord
	for _, d := range dirs {
		recs, _ := filepath.Glob(filepath.Join(d, uploadPrefix+"*"))
		live := mountAlive(d)
		for _, p := range recs {
			if r, ok := readRecord(p); ok && r.StoreID == id {
				r.Live = live
				out = append(out, r)
			}
		}
	}
	return out
}

// mountAlive reports whether the mount owning directory d runs (holds its
// lock).
func mountAlive(d string) bool {
	lock, err := os.OpenFile(filepath.Join(d, lockName), os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer lock.Close()
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return true
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	return false
}

// ForgetRecords removes the records of upload id under the cache
// directory base (after the upload was aborted by hand).
func ForgetRecords(base, id string) {
	dirs, _ := filepath.Glob(filepath.Join(base, "ossmount-*"))
	for _, d := range dirs {
		os.Remove(recordName(d, id))
	}
}

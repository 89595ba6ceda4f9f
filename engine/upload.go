package engine

// Multipart uploads: every one a mount starts is recorded in its cache
// directory until it is completed or aborted (see Stager) and counted
// (MultipartCounts), and a completion whose answer is lost is checked on
// the server before it is called a failure.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/ossmount/ossmount/ossapi"
)

// multiparts are the multipart uploads this mount started and neither
// completed nor aborted.
type multiparts struct {
	mu  sync.Mutex
	ids map[string]bool // GUARDED_BY(mu); upload id -> kept
}

func (m *multiparts) started(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids == nil {
		m.ids = map[string]bool{}
	}
	m.ids[id] = false
}

func (m *multiparts) ended(id string) {
	m.mu.Lock()
	delete(m.ids, id)
	m.mu.Unlock()
}

// kept: incomplete, but no longer in flight.
func (m *multiparts) kept(id string) {
	m.mu.Lock()
	if _, ok := m.ids[id]; ok {
		m.ids[id] = true
	}
	m.mu.Unlock()
}

// MultipartCounts returns the multipart uploads this mount started and
// neither completed nor aborted, and, of those, the ones not kept for the
// user (KeepUpload).
func (e *Engine) MultipartCounts() (incomplete, active int64) {
	e.multiparts.mu.Lock()
	defer e.multiparts.mu.Unlock()
	for _, kept := range e.multiparts.ids {
		incomplete++
		if !kept {
			active++
		}
	}
	return incomplete, active
}

// InitiateUpload starts a multipart upload and records it (see Stager).
func (e *Engine) InitiateUpload(ctx context.Context, req ossapi.InitiateRequest) (string, error) {
	id, err := e.store.InitiateMultipart(ctx, req)
	if err == nil {
		e.staging.NoteUpload(req.Key, id)
		e.multiparts.started(id)
	}
	return id, err
}

// KeepUpload leaves multipart upload id, incomplete, for the user (after
// a failure, when only it holds some of the data): its record goes, so no
// later mount aborts it, and it no longer counts as in flight.
func (e *Engine) KeepUpload(id string) {
	e.staging.ForgetUpload(id)
	e.multiparts.kept(id)
}

// CompleteUpload completes a recorded multipart upload.
//
// When the completion fails or its answer is lost, the upload may well
// have been completed: the SDK's retry of a completion that took effect
// finds no such upload (NoSuchUpload). The object is then checked with a
// HEAD: when its size and CRC-64 (or, without CRCs, its multipart ETag)
// are those of the parts, the upload is a success; otherwise the error is
// an EIO-kind failure, never "not found". A canceled request is returned
// as it is (its outcome is settled by the next attempt).
func (e *Engine) CompleteUpload(ctx context.Context, req ossapi.CompleteRequest) (*ossapi.PutResult, error) {
	res, err := e.store.CompleteMultipart(ctx, req)
	if err == nil {
		e.staging.ForgetUpload(req.UploadID)
		e.multiparts.ended(req.UploadID)
		return res, nil
	}
	if IsCanceled(err) {
		return nil, err
	}
	info, herr := e.store.Head(ctx, req.Key, ossapi.HeadOptions{})
	if herr == nil && partsMatch(info, req.Parts) {
		e.log.Warn("the answer to CompleteMultipartUpload was lost; the object on the server is the one uploaded", "key", req.Key, "upload_id", req.UploadID, "err", err)
		e.staging.ForgetUpload(req.UploadID)
		e.multiparts.ended(req.UploadID)
		return &ossapi.PutResult{ETag: info.ETag, CRC64: info.CRC64}, nil
	}
	if ossapi.KindOf(err) == ossapi.KindNotExist {
		// The upload is gone and the object is not ours: never ENOENT
		// for a file the application has just written.
		return nil, &Error{Op: "CompleteMultipartUpload", Key: req.Key, Errno: syscall.EIO,
			Msg: "the multipart upload vanished and the object on the server is not the one uploaded", Cause: err}
	}
	return nil, err
}

// partsMatch reports whether info is the object completed from parts:
// same size, and same CRC-64 combined from the parts' (or, when a CRC is
// unknown, the multipart ETag: the MD5 of the parts' MD5s, "-", their
// count).
func partsMatch(info *ossapi.ObjectInfo, parts []ossapi.Part) bool {
	var size int64
	for _, p := range parts {
		size += p.Size
	}
	if info.Size != size {
		return false
	}
	if crc, ok := combinedCRC(parts); ok && info.CRC64 != "" {
		return strconv.FormatUint(crc, 10) == info.CRC64
	}
	h := md5.New()
	for _, p := range parts {
		b, err := hex.DecodeString(strings.Trim(p.ETag, `"`))
		if err != nil || len(b) != md5.Size {
			return false
		}
		h.Write(b)
	}
	want := fmt.Sprintf("%X-%d", h.Sum(nil), len(parts))
	return strings.EqualFold(strings.Trim(info.ETag, `"`), want)
}

// combinedCRC is the CRC-64 of the parts' bytes in order, from their CRCs.
func combinedCRC(parts []ossapi.Part) (uint64, bool) {
	var crc uint64
	for _, p := range parts {
		c, err := strconv.ParseUint(p.CRC64, 10, 64)
		if err != nil {
			return 0, false
		}
		crc = ossapi.CombineCRC64(crc, c, p.Size)
	}
	return crc, true
}

// AbortUpload aborts a recorded multipart upload. Should the abort fail the
// record stays, and the next mount with this cache directory retries it.
func (e *Engine) AbortUpload(key, id string) {
	err := e.store.AbortMultipart(context.Background(), key, id)
	if err == nil || ossapi.KindOf(err) == ossapi.KindNotExist {
		e.staging.ForgetUpload(id)
		e.multiparts.ended(id)
		return
	}
	e.log.Warn("cannot abort a multipart upload; the next mount with this cache_dir retries", "key", key, "upload_id", id, "err", err)
}

// IsCanceled reports whether err is a canceled request (the caller is
// going away): not a failure of the upload, which is tried again later. A
// deadline that passed is a failure.
func IsCanceled(err error) bool {
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, context.Canceled) || ossapi.KindOf(err) == ossapi.KindCanceled
}

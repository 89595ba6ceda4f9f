package engine

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// uploadParts initiates a recorded multipart upload of key and sends data
// as parts of partSize.
func uploadParts(t *testing.T, e *Engine, key string, data []byte, partSize int) (string, []ossapi.Part) {
	t.Helper()
	ctx := context.Background()
	id, err := e.InitiateUpload(ctx, ossapi.InitiateRequest{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	var parts []ossapi.Part
	for off := 0; off < len(data); off += partSize {
		b := data[off:min(off+partSize, len(data))]
		p, err := e.store.UploadPart(ctx, ossapi.UploadPartRequest{Key: key, UploadID: id, PartNumber: len(parts) + 1,
			Body: bytes.NewReader(b), Size: int64(len(b))})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, *p)
	}
	return id, parts
}

func records(e *Engine) int { return len(ListRecords(e.staging.base, e.Staging().ID())) }

// A multipart upload is recorded and counted from its initiation to its
// completion; a completion whose answer is lost is checked on the server
// and is a success when the object is the one uploaded.
func TestCompleteUploadLostAnswer(t *testing.T) {
	srv := newTestServer(t, "test")
	e, log := newTestEngine(t, srv, "test", t.TempDir(), nil)
	data := bytes.Repeat([]byte("0123456789abcdef"), 400<<10/16*3) // three parts of 400 KiB
	id, parts := uploadParts(t, e, "lost.bin", data, 400<<10)
	if inc, act := e.MultipartCounts(); inc != 1 || act != 1 || records(e) != 1 {
		t.Fatalf("an upload in progress: %d incomplete, %d active, %d records", inc, act, records(e))
	}
	srv.AddFault(osstest.Fault{Op: "CompleteMultipartUpload", LoseResponse: true, Times: 1})
	res, err := e.CompleteUpload(context.Background(), ossapi.CompleteRequest{Key: "lost.bin", UploadID: id, Parts: parts})
	if err != nil {
		t.Fatalf("completion with a lost answer: %v, want success", err)
	}
	got, h, _ := srv.GetObject("test", "lost.bin")
	if !bytes.Equal(got, data) || res.ETag != h.Get("ETag") {
		t.Errorf("object: %d bytes, ETag %s; the completion said %s", len(got), h.Get("ETag"), res.ETag)
	}
	if n := srv.Count("CompleteMultipartUpload"); n < 2 {
		t.Errorf("the fault did not fire: %d completions", n)
	}
	if !strings.Contains(log.String(), "answer to CompleteMultipartUpload was lost") {
		t.Errorf("no log line about the lost answer:\n%s", log.String())
	}
	if inc, act := e.MultipartCounts(); inc != 0 || act != 0 || records(e) != 0 {
		t.Errorf("a completed upload: %d incomplete, %d active, %d records", inc, act, records(e))
	}
}

// When the upload vanished and the object on the server is not the one
// uploaded, the completion fails with an EIO Error, never "not found".
func TestCompleteUploadVanished(t *testing.T) {
	srv := newTestServer(t, "test")
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), nil)
	data := bytes.Repeat([]byte{7}, 300<<10)
	id, parts := uploadParts(t, e, "gone.bin", data, 200<<10)
	srv.PutObject("test", "gone.bin", []byte("someone else's"), nil)
	srv.AddFault(osstest.Fault{Op: "CompleteMultipartUpload", Status: 404, Code: "NoSuchUpload"})
	_, err := e.CompleteUpload(context.Background(), ossapi.CompleteRequest{Key: "gone.bin", UploadID: id, Parts: parts})
	srv.ClearFaults()
	var eerr *Error
	if !errors.As(err, &eerr) || eerr.Errno != syscall.EIO || eerr.Key != "gone.bin" || !strings.Contains(err.Error(), "vanished") {
		t.Fatalf("completion of a vanished upload: %v, want an EIO Error", err)
	}
	if got, _, _ := srv.GetObject("test", "gone.bin"); string(got) != "someone else's" {
		t.Errorf("the object changed: %q", got)
	}
	if inc, _ := e.MultipartCounts(); inc != 1 || records(e) != 1 {
		t.Errorf("a failed completion: %d incomplete, %d records; the upload is still to abort", inc, records(e))
	}
	e.AbortUpload("gone.bin", id)
	if inc, _ := e.MultipartCounts(); inc != 0 || records(e) != 0 {
		t.Errorf("an aborted (already gone) upload: %d incomplete, %d records", inc, records(e))
	}
}

// An abort that fails keeps the record (the next mount retries it); a
// kept upload is left incomplete, no longer in flight, with no record.
func TestAbortAndKeepUpload(t *testing.T) {
	srv := newTestServer(t, "test")
	e, log := newTestEngine(t, srv, "test", t.TempDir(), nil)
	id, _ := uploadParts(t, e, "a.bin", []byte("x"), 1)
	srv.AddFault(osstest.Fault{Op: "AbortMultipartUpload", Status: 403, Code: "AccessDenied"})
	e.AbortUpload("a.bin", id)
	srv.ClearFaults()
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 1 || records(e) != 1 || !strings.Contains(log.String(), "cannot abort") {
		t.Fatalf("a failed abort: uploads %v, %d records, log:\n%s", ids, records(e), log.String())
	}
	e.AbortUpload("a.bin", id)
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 || records(e) != 0 {
		t.Errorf("an abort: uploads %v, %d records", ids, records(e))
	}
	id, _ = uploadParts(t, e, "k.bin", []byte("y"), 1)
	e.KeepUpload(id)
	if inc, act := e.MultipartCounts(); inc != 1 || act != 0 || records(e) != 0 {
		t.Errorf("a kept upload: %d incomplete, %d active, %d records", inc, act, records(e))
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 1 || ids[0] != id {
		t.Errorf("the kept upload is not on the server: %v", ids)
	}
}

// A completed object is recognised by its size and CRC-64 and, without
// CRCs, by its multipart ETag (the MD5 of the parts' MD5s).
func TestPartsMatch(t *testing.T) {
	srv := newTestServer(t, "test")
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), nil)
	data := bytes.Repeat([]byte("abc"), 200<<10)
	id, parts := uploadParts(t, e, "m.bin", data, 250<<10)
	if _, err := e.CompleteUpload(context.Background(), ossapi.CompleteRequest{Key: "m.bin", UploadID: id, Parts: parts}); err != nil {
		t.Fatal(err)
	}
	info, err := e.store.Head(context.Background(), "m.bin", ossapi.HeadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.CRC64 == "" || !partsMatch(info, parts) {
		t.Errorf("the object completed from the parts does not match them by CRC-64 (%q)", info.CRC64)
	}
	noCRC := *info
	noCRC.CRC64 = ""
	if !partsMatch(&noCRC, parts) {
		t.Errorf("the object completed from the parts does not match them by ETag %s", info.ETag)
	}
	other := append([]ossapi.Part(nil), parts...)
	other[0].ETag, other[0].CRC64 = `"0CC175B9C0F1B6A831C399E269772661"`, ""
	if partsMatch(&noCRC, other) {
		t.Errorf("different parts matched the ETag")
	}
	other[0].ETag = "not hex"
	if partsMatch(&noCRC, other) {
		t.Errorf("a part without an MD5 ETag matched")
	}
	bigger := noCRC
	bigger.Size++
	if partsMatch(&bigger, parts) {
		t.Errorf("a different size matched")
	}
	if !IsCanceled(context.Canceled) || IsCanceled(context.DeadlineExceeded) || IsCanceled(nil) || IsCanceled(errors.New("x")) {
		t.Errorf("IsCanceled: canceled is, a deadline, nil and others are not")
	}
}

package engine

// Server-side copies of an object: CopyObject, or part by part with
// UploadPartCopy above copyLimit; and the in-place rewrite of an object's
// metadata (a self-copy with REPLACE) that chmod, chown, utimes and
// setxattr use.

import (
	"context"
	"sync"

	"github.com/ossmount/ossmount/ossapi"
)

// CopyLimit is the largest object CopyObject copies; larger ones are copied
// part by part with UploadPartCopy.
const CopyLimit = 1 << 30

// CopyPartSize is the part size of a multipart copy.
const CopyPartSize = 256 << 20

// CarriesMtime reports whether a copy of the object info describes shows
// the same mtime: it is in x-oss-meta-mtime, not Last-Modified (nil: an
// upload of this mount, which always records it).
func CarriesMtime(info *ossapi.ObjectInfo) bool {
	return info == nil || info.Meta["mtime"] != ""
}

// CopyObject copies info's object to dst with CopyObject, or part by part
// when it is over CopyLimit, and returns the new ETag.
func (e *Engine) CopyObject(ctx context.Context, info *ossapi.ObjectInfo, dst string, dir ossapi.MetadataDirective, meta map[string]string, hdr ossapi.StdHeaders) (string, error) {
	if info.Size <= CopyLimit {
		res, err := e.store.Copy(ctx, ossapi.CopyRequest{SrcKey: info.Key, DstKey: dst, Directive: dir, Meta: meta, Headers: hdr, SrcIfMatch: info.ETag})
		if err != nil {
			return "", err
		}
		return res.ETag, nil
	}
	if dir == ossapi.MetadataCopy {
		meta = info.Meta
		hdr = info.Headers
	}
	id, err := e.InitiateUpload(ctx, ossapi.InitiateRequest{Key: dst, Meta: meta, Headers: hdr})
	if err != nil {
		return "", err
	}
	n := int((info.Size + CopyPartSize - 1) / CopyPartSize)
	parts := make([]ossapi.Part, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		off := int64(i) * CopyPartSize
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			p, err := e.store.UploadPartCopy(ctx, ossapi.UploadPartCopyRequest{Key: dst, UploadID: id, PartNumber: i + 1,
				SourceKey: info.Key, SourceOffset: off, SourceLength: min(CopyPartSize, info.Size-off), SourceIfMatch: info.ETag})
			if err != nil {
				errs[i] = err
				return
			}
			parts[i] = *p
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			e.AbortUpload(dst, id)
			return "", err
		}
	}
	res, err := e.CompleteUpload(ctx, ossapi.CompleteRequest{Key: dst, UploadID: id, Parts: parts})
	if err != nil {
		e.AbortUpload(dst, id)
		return "", err
	}
	return res.ETag, nil
}

// RewriteMeta replaces an object's user metadata and standard headers in
// place (a self-copy with REPLACE) and returns the new ETag.
func (e *Engine) RewriteMeta(ctx context.Context, key string, size int64, etag string, meta map[string]string, hdr ossapi.StdHeaders) (string, error) {
	info := &ossapi.ObjectInfo{Key: key, Size: size, ETag: etag}
	return e.CopyObject(ctx, info, key, ossapi.MetadataReplace, meta, hdr)
}

package fs

// Server-side copies of an object: CopyObject, or part by part with
// UploadPartCopy above copyLimit; and the in-place rewrite of an object's
// metadata (a self-copy with REPLACE) that chmod, chown, utimes and
// setxattr use.

import (
	"context"
	"sync"

	"github.com/ossmount/ossmount/ossapi"
)

// copyLimit is the largest object CopyObject copies; larger ones are copied
// part by part with UploadPartCopy.
const copyLimit = 1 << 30

// copyPartSize is the part size of a multipart copy.
const copyPartSize = 256 << 20

// carriesMtime reports whether a copy of the object info describes shows
// the same mtime: it is in x-oss-meta-mtime, not Last-Modified (nil: an
// upload of this mount, which always records it).
func carriesMtime(info *ossapi.ObjectInfo) bool {
	return info == nil || info.Meta["mtime"] != ""
}

// copyObject copies info's object to dst with CopyObject, or part by part
// when it is over copyLimit, and returns the new ETag.
func (f *FS) copyObject(ctx context.Context, info *ossapi.ObjectInfo, dst string, dir ossapi.MetadataDirective, meta map[string]string, hdr ossapi.StdHeaders) (string, error) {
	if info.Size <= copyLimit {
		res, err := f.store.Copy(ctx, ossapi.CopyRequest{SrcKey: info.Key, DstKey: dst, Directive: dir, Meta: meta, Headers: hdr, SrcIfMatch: info.ETag})
		if err != nil {
			return "", err
		}
		return res.ETag, nil
	}
	if dir == ossapi.MetadataCopy {
		meta = info.Meta
		hdr = info.Headers
	}
	id, err := f.eng.InitiateUpload(ctx, ossapi.InitiateRequest{Key: dst, Meta: meta, Headers: hdr})
	if err != nil {
		return "", err
	}
	n := int((info.Size + copyPartSize - 1) / copyPartSize)
	parts := make([]ossapi.Part, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		off := int64(i) * copyPartSize
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			p, err := f.store.UploadPartCopy(ctx, ossapi.UploadPartCopyRequest{Key: dst, UploadID: id, PartNumber: i + 1,
				SourceKey: info.Key, SourceOffset: off, SourceLength: min(copyPartSize, info.Size-off), SourceIfMatch: info.ETag})
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
			f.eng.AbortUpload(dst, id)
			return "", err
		}
	}
	res, err := f.eng.CompleteUpload(ctx, ossapi.CompleteRequest{Key: dst, UploadID: id, Parts: parts})
	if err != nil {
		f.eng.AbortUpload(dst, id)
		return "", err
	}
	return res.ETag, nil
}

// rewriteMeta replaces an object's user metadata and standard headers in
// place (a self-copy with REPLACE) and returns the new ETag.
func (f *FS) rewriteMeta(ctx context.Context, key string, size int64, etag string, meta map[string]string, hdr ossapi.StdHeaders) (string, error) {
	info := &ossapi.ObjectInfo{Key: key, Size: size, ETag: etag}
	newETag, err := f.copyObject(ctx, info, key, ossapi.MetadataReplace, meta, hdr)
	if err == nil {
		f.invalidate(key)
	}
	return newETag, err
}

// Package fs is ossmount's go-fuse node tree: it maps a bucket (or a prefix
// of it) to directories and files, found lazily through Lookup and Readdir.
// A directory is a key prefix ("dir/"), shown whether or not a "dir/" marker
// object exists; a file is an object. Attributes come from LIST results and
// HEAD responses (ossfs 1.x metadata: x-oss-meta-mode/uid/gid/mtime), kept
// in the stat, negative and listing caches of package cache.
//
// Data flows one way: kernel -> fs -> cache -> ossapi. Reads go through the
// prefetcher in reader.go; writes through the write state machine in
// writer.go (the rule: an object changes only at close or fsync), its
// streamed multipart uploads in stream.go, the recorded and verified
// multipart operations in upload.go, the staging files in stagefile.go and
// the cache directory (records, kept data, crash recovery) in stager.go.
// memory.go shares the memory budget. Errors from ossapi become errnos in
// exactly one place, toErrno in errno.go.
//
// Lock order: fileNode.mu, then writeState.mu (two of them: lower seq
// first), then stageFile.mu; FS-level caches, the budgets and the buffer
// pool have their own internal locks and are leaves (the budget's
// reclaimer only try-locks staging files).
package fs

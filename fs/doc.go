// Package fs is ossmount's go-fuse node tree: it maps a bucket (or a prefix
// of it) to directories and files, found lazily through Lookup and Readdir.
// A directory is a key prefix ("dir/"), shown whether or not a "dir/" marker
// object exists; a file is an object. Attributes come from LIST results and
// HEAD responses (ossfs 1.x metadata: x-oss-meta-mode/uid/gid/mtime), kept
// in the stat, negative and listing caches of package cache.
//
// Data flows one way: kernel -> fs -> cache -> ossapi. Reads go through the
// prefetcher in reader.go; writes through the uploader in upload.go and the
// staging file in staged.go. Errors from ossapi become errnos in exactly one
// place, toErrno in errno.go.
//
// Lock order: fileNode.mu before handle locks; FS-level caches have their
// own internal locks and are leaves.
package fs

// Package fs is ossmount's file system: a go-fuse node tree that maps a
// bucket (or a prefix of it) to directories and files, found lazily through
// Lookup and Readdir. A directory is a key prefix ("dir/"), shown whether or
// not a "dir/" marker object exists; a file is an object. Attributes come
// from LIST results and HEAD responses (ossfs 1.x metadata:
// x-oss-meta-mode/uid/gid/mtime), kept in the attribute, negative and
// listing caches of the engine's namespace (engine.Namespace).
// docs/ARCHITECTURE.md draws the whole picture.
//
// Data flows one way: kernel -> fs -> engine -> cache -> ossapi. Package
// engine holds what needs no FUSE: the read path (engine.Reader), the
// write state machine and its uploads (engine.Writer), the memory
// budget's reclaimer and the buffer pool, staging files, the cache
// directory (upload records, kept files, crash recovery), server-side
// copies, the moving of a directory's objects (engine.RenameDir); FS
// reaches it through FS.eng, and maps its errors to errnos (errno.go).
// The engine's namespace (engine.Namespace, FS.ns) holds the lookups,
// HEADs, listings, the attribute, negative and listing caches and their
// rules; fs shows what it answers to the kernel.
// The files of fs, by concern:
//
//   - fs.go: Config, FS (one mount), New and Close; fillAttr, which shows
//     an engine.Stat (what is known of a key) to the kernel.
//   - namespace.go: the engine's namespace as the node methods call it
//     (lookupKey, headFile, headDir, listDir: its errors as errnos).
//   - dir.go: dirNode (a directory): lookup, readdir, its attributes.
//   - file.go: fileNode (a file or symlink): its attributes, open, the
//     writer it shares among its handles, readlink (the target read by
//     engine.Namespace.ReadLink). handle.go: fileHandle (an open file):
//     read, write, flush, fsync, release.
//   - ops.go: namespace operations (create, mkdir, rmdir, unlink, symlink):
//     the caller's checks and the nodes; what changes on the server is the
//     engine's (engine.Namespace.Create, RemoveDir, RemoveFile).
//     rename.go: the checks of every rename and the caches around the rename
//     of a file, whose object the engine moves (engine.RenameFile); a
//     directory's objects are the engine's to move too (engine.RenameDir:
//     copy every object, then delete; undone on failure), and its caches
//     the namespace's (engine.Namespace.TreeCaches). Server-side copies and metadata rewrites
//     are the engine's too (engine.CopyObject, RewriteMeta). setattr.go:
//     the SETATTR node methods (chmod, chown, utimes, truncate) and the
//     writer that takes a change; the change on the server and what it
//     tells the caches are the engine's
//     (engine.Namespace.ChangeFileAttrs, ChangeDirAttrs). special.go:
//     mknod (FIFOs, sockets, devices).
//   - The read path of an open handle (sequential prefetch, random
//     blocks, the data cache as reads use it) is the engine's
//     (engine.Reader); handle.go hands its answer to go-fuse (fuseResult),
//     file.go makes a fileNode the engine.Named whose renames a reader
//     follows. passthrough.go: FUSE passthrough of files the data cache
//     holds whole.
//   - The write path of a file (the rule: an object changes only at close
//     or fsync; a failed upload keeps its data) is the engine's
//     (engine.Writer, its streamed and multipart uploads, its staging
//     file); file.go attaches one writer to a file, handle.go hands it
//     the writes, fs.go's newWriter makes it and noteUploaded keeps the
//     caches in step with its uploads.
//   - upkeep.go: once a second, the sweep of the namespace's caches
//     (engine.Namespace.Sweep) and the Go memory limit (the memory budget
//     itself is the engine's).
//   - xattr.go: the xattr node methods (one path for files and
//     directories): the node's checks (orphaned, permissions, a file with
//     a writer attached) and the buffers (size probes, ERANGE); what the
//     names stand for, their checks, which metadata a read is served from
//     and the changes are the engine's (engine/xattr.go,
//     engine/xattrview.go). share.go: presigned URLs
//     and POST policies as virtual attributes; cachexattr.go:
//     user.oss.cache (the data cache's status, pin, unpin, drop): the
//     checks of the caller and the node, the answers the engine's
//     (engine/share.go, engine/cachectl.go). stats.go: Stats and
//     user.oss.stats.
//   - access.go: permission checks (without default_permissions, and for
//     sharing) as go-fuse sees them: the caller of a request, the search
//     permission along a path, errnos; the rules are the engine's
//     (engine/access.go). names.go: which names and sizes OSS can hold.
//   - errno.go: errors become errnos in exactly one place, toErrno (OSS
//     error kinds, engine.Error for failures the file system finds
//     itself, engine.UploadError for a failed upload).
//     interrupt.go: request contexts (a dying caller cancels, a harmless
//     signal does not).
//
// Lock order: fileNode.mu, then an engine.Writer's lock (two of them:
// lower seq first, engine.LockOrder; a directory rename takes those under
// its source in that order), then the engine.StageFile's lock; the
// caches (the engine's namespace's), the budgets, the buffer pool and the
// set of open writers have their own internal locks and are leaves (the
// budget's reclaimer only try-locks staging files).
package fs

// Package engine is the part of ossmount's file system that knows nothing
// of FUSE: it imports neither go-fuse nor package fs, answers with Go
// values and errors, and is tested against osstest without a mount.
// Package fs is the go-fuse adapter over it: the node tree, the state of
// an inode, the caller's checks along a path, passthrough, errnos
// (docs/ARCHITECTURE.md, "What stays in fs").
//
// What it holds, by file:
//
//   - engine.go: Engine, the state the mount's data path shares (its
//     store, logger, memory budget, block cache, buffer pool, staging
//     files, cache directory, open writers, counters), and its Config.
//   - memory.go: the memory budget's reclaimer and the buffer pool
//     (BufPool); staging files held in memory spill to disk when the
//     budget runs short.
//   - stagefile.go: StageFile, the bytes a writer stages (memory, then a
//     file in the cache directory).
//   - stager.go: Stager, the mount's cache directory: upload records,
//     kept files (KeptFile), and the recovery after killed mounts.
//   - upload.go: multipart uploads, recorded in the cache directory and
//     counted from initiation to completion or abort; a completion whose
//     answer is lost is checked on the server.
//   - writer.go: Writer, the write state machine of one file open for
//     writing (the rule: the object at a key changes only at close or
//     fsync, when the application's data is complete; a failed upload
//     keeps its data). stream.go: its streamed multipart upload.
//     writers.go: the set of open writers, their lock order (LockOrder),
//     FlushAll, Lock (package fs holds it in one place, see Lock).
//   - namespace.go: Namespace, what the mount knows of keys: the
//     attribute (Attrs), negative (Neg) and listing (Lists) caches and
//     their rules (a guess never replaces known attributes of the same
//     version; Cached, Fresh, FullFile, Invalidate; what this mount did:
//     Made, MadeDir, Removed, FileRenamed, Learned, MayExist; TreeCaches,
//     a directory rename's; Sweep), ossfs metadata made into attributes
//     (AttrFromInfo), the attribute store saved. lookup.go:
//     Lookup (one HEAD and one LIST; with fast_listing one LIST),
//     HeadFile, HeadDir. listing.go: Listing, ListDir, and how a
//     listing's guesses are verified (HEADs in a doubling window).
//     names.go: which key components can be names; ParentKey.
//     entries.go: Create (a directory's marker, a special file, a
//     symlink), EmptyDir, RemoveDir, RemoveFile: the namespace operations
//     that change the server, each telling the caches what the key now is.
//     symlink.go: ReadLink, a symlink's target read at the version its
//     attributes describe.
//   - stat.go: Stat, what the mount knows of one key (its attributes and
//     the version they describe), and the compact codes a listing's
//     entries keep of a storage class and an object type.
//   - meta.go: ossfs's metadata (mode, owner, mtime) and the changes
//     chmod, chown and utimes make, on the server too: RewriteAttrs (a
//     file with no upload to come) and WriteMarkerMeta (a directory's
//     marker, made for an implicit directory), and with what they tell
//     the namespace's caches (Namespace.ChangeFileAttrs, ChangeDirAttrs;
//     ChangeCleanWriterAttrs, a file open for writing with nothing to
//     upload).
//   - access.go: the permission rules, as the kernel applies them with
//     default_permissions: Caller (uid, gid, supplementary groups from
//     /proc/PID/status) and its May, Owns, Sticky, SetattrErr (chmod,
//     chown, utimes, truncate; clearing S_ISGID), XattrErr and NewOwner
//     (set-group-ID directories); OpenWant. Package fs finds the caller of
//     a FUSE request and walks a path's directories.
//   - xattr.go: object metadata as extended attributes: what a name
//     stands for (ParseXattr: user metadata, a standard header, a
//     read-only fact), the checks of names, values and sizes
//     (ParseXattrChange), an object's metadata as xattrs see it (MetaView:
//     Get, List, Apply), and the changes: a self-copy from a fresh HEAD
//     (ChangeObjectXattr, ChangeXattr), a marker for an implicit directory
//     (CreateMarkerXattr), or the metadata a pending upload carries
//     (ChangeWriterXattr). xattrview.go: the namespace's side of them:
//     which metadata a read is served from (FileView, DirView: the
//     attribute cache while it holds what is asked, else a HEAD; an
//     implicit directory remembered), and a file's or a directory's
//     change with what it tells the caches (ChangeFileXattr,
//     ChangeWriterFileXattr, ChangeDirXattr, which creates an implicit
//     directory's marker).
//   - share.go: sharing, the virtual attributes user.oss.presign and
//     user.oss.post-policy: their requests parsed (PresignParams,
//     PresignRequest, PostPolicyParams, PostPolicyRequest), signed and
//     answered (Presign, SignPostPolicy), and the answers kept between a
//     size probe and its read (ShareProbes). cachectl.go: the data cache
//     through user.oss.cache (CacheStatus, CacheSummary, CacheOp,
//     CacheControl: pin, unpin, drop).
//   - renamefile.go: RenameFile, the rename of a file: its object copied
//     and deleted, its writer following with its pending bytes, the
//     writer of the file renamed over made nameless.
//   - renamedir.go: RenameDir, the rename of a directory: every object
//     copied, then the sources deleted; undone on a failed copy; the open
//     writers under it held, then following it (the namespace's caches
//     are told through TreeCaches).
//   - copy.go: server-side copies (CopyObject, part by part above
//     CopyLimit) and metadata rewrites in place (RewriteMeta).
//   - reader.go: Reader, the read path of one open handle: sequential
//     streams prefetched ahead of the reads (sized by the bandwidth-delay
//     product, within the memory budget), random reads by cached blocks,
//     every GET guarded by If-Match; it answers with a ReadResult and
//     follows its file's renames through Named. datacache.go: the
//     persistent data cache as reads use it (and FillData, for pinning).
//   - wakeup.go: Wakeup, waking the goroutines that wait for a change of
//     state under a mutex.
//   - errors.go: Error, a failure the engine finds itself, with the errno
//     it stands for, and UploadError, the failure of a file's upload
//     (package fs maps every error to an errno in one place, fs/errno.go).
//     A refusal by a rule (a permission, an xattr's name, value, flags or
//     size) is a plain syscall.Errno, the answer the kernel would give,
//     which fs passes on as it is.
//
// Locks: package fs's file lock, then a Writer's (two Writers: lower seq
// first, LockOrder), then its StageFile's; a Reader's lock is taken alone
// (a part's lock under it); the budgets, the block cache, the buffer pool
// and the set of open writers have their own internal locks and are
// leaves (the budget's reclaimer only try-locks staging files, and
// reserveDisk only try-locks other writers); so are the namespace's caches
// and a Listing's lock (a verification takes the caches' locks under it).
package engine

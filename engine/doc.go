// Package engine is the part of ossmount's file system that knows nothing
// of FUSE: it imports neither go-fuse nor package fs, answers with Go
// values and errors, and is tested against osstest without a mount.
// Package fs is the go-fuse adapter over it (and still holds the rest of
// the file-system logic; docs/ARCHITECTURE.md, "What is not apart yet",
// says what has moved and what has not).
//
// What it holds, by file:
//
//   - engine.go: Engine, the state the mount's data path shares (its
//     store, logger, memory budget, block cache, buffer pool, staging
//     files, cache directory, multipart uploads), and its Config.
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
//   - errors.go: Error, a failure the engine finds itself, with the errno
//     it stands for (package fs maps every error to an errno in one
//     place, fs/errno.go).
//
// Locks: a StageFile's lock is taken under the writer's (package fs); the
// budgets, the block cache and the buffer pool have their own internal
// locks and are leaves (the budget's reclaimer only try-locks staging
// files).
package engine

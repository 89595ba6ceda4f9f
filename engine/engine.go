package engine

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/ossapi"
)

// Config is what an Engine is made of (package fs fills it from its own
// Config, defaults applied).
type Config struct {
	Store   ossapi.ObjectStore
	StoreID StoreID // the bucket Store writes to, as upload records name it
	Logger  *slog.Logger

	// Memory is the budget of bytes for data: read-ahead, cached blocks,
	// staging files in memory and pooled buffers.
	Memory     int64
	CacheDir   string // where the mount's staging directory is made ("": $TMPDIR)
	DiskBudget int64  // bytes staged on disk
	// ReadOnly: no uploads of killed mounts are recovered (aborted).
	ReadOnly bool

	// The write path (writer.go, stream.go; see fs.Config for each).
	FileMode, UID, GID uint32 // a new file's mode bits and owner
	UploadPartSize     int64
	UploadConcurrency  int
	MaxRenameObjects   int // most objects one directory rename may move

	// The read path (reader.go; see fs.Config for each).
	BlockSize, PartSize, MaxWindow, FirstRead int64
	KernelRequests                            int
	// DataCache is the persistent data cache (nil: off).
	DataCache *cache.DataCache
}

// Engine is the state a mount's data path shares: the store, the logger,
// the memory budget and what draws on it (cached blocks, pooled buffers,
// staging files in memory), and the cache directory.
type Engine struct {
	cfg   Config
	store ossapi.ObjectStore
	log   *slog.Logger

	budget  *cache.Budget
	blocks  *cache.BlockCache
	bufs    *BufPool
	stages  memStages
	staging *Stager

	multiparts multiparts // upload.go

	// renameSlot serializes directory renames (each holds the locks of
	// the open writers under its source while it runs): a rename holds its
	// one place, and one waiting for it gives up when its caller dies.
	renameSlot chan struct{}

	writers   writers       // writers.go
	writerSeq atomic.Uint64 // numbers Writers (their lock order)

	uploadsDone   atomic.Int64 // file uploads (flush, fsync, close) that succeeded
	uploadsFailed atomic.Int64 // files whose upload failed (their data kept)
	putsActive    atomic.Int64 // single-request uploads (PUT) under way

	prefetched atomic.Int64 // bytes read ahead into a stream's parts
	unread     atomic.Int64 // of those, bytes dropped without a read asking for them

	recovered chan struct{} // closed once the cleanup after killed mounts is done
}

// New makes the engine of one mount: its memory budget, with its
// reclaimer, and its staging directory under cfg.CacheDir. Unless the
// mount is read-only it starts aborting, in the background, the uploads
// that killed mounts of the same cache directory and bucket left
// (Recovered tells when that is done).
func New(cfg Config) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Engine{cfg: cfg, store: cfg.Store, log: cfg.Logger, budget: cache.NewBudget(cfg.Memory), renameSlot: make(chan struct{}, 1)}
	e.blocks = cache.NewBlockCache(e.budget, e.budget.Limit()/2)
	e.bufs = newBufPool(e.budget, e.budget.Limit()/8)
	e.budget.SetReclaimer(e.reclaim)
	st, err := newStager(cfg.CacheDir, cfg.DiskBudget, cfg.StoreID, e.log)
	if err != nil {
		return nil, err
	}
	e.staging = st
	e.recovered = make(chan struct{})
	if !cfg.ReadOnly {
		// Abort the uploads of mounts of this cache_dir that were killed.
		go func() {
			defer close(e.recovered)
			st.recoverAbandoned(context.Background(), e.store)
		}()
	} else {
		close(e.recovered)
	}
	return e, nil
}

// ReadAhead returns the bytes read ahead of sequential reads since the
// mount, and of those the bytes dropped without a read asking for them.
func (e *Engine) ReadAhead() (fetched, unread int64) { return e.prefetched.Load(), e.unread.Load() }

// Uploads returns the file uploads that succeeded and failed since the
// mount, and the uploads under way (a PUT, or a multipart upload started
// and not yet completed, aborted or kept).
func (e *Engine) Uploads() (done, failed, inFlight int64) {
	_, active := e.MultipartCounts()
	return e.uploadsDone.Load(), e.uploadsFailed.Load(), e.putsActive.Load() + active
}

// RoundUp is n rounded up to a multiple of m.
func RoundUp(n, m int64) int64 { return (n + m - 1) / m * m }

// Budget is the memory budget for data.
func (e *Engine) Budget() *cache.Budget { return e.budget }

// Blocks is the cache of random-read blocks (charged to Budget).
func (e *Engine) Blocks() *cache.BlockCache { return e.blocks }

// Bufs is the pool of part buffers (charged to Budget).
func (e *Engine) Bufs() *BufPool { return e.bufs }

// Staging is the mount's cache directory.
func (e *Engine) Staging() *Stager { return e.staging }

// Recovered is closed once the uploads of killed mounts are dealt with.
func (e *Engine) Recovered() <-chan struct{} { return e.recovered }

// NewStageFile makes an empty staging file in the mount's directory: its
// memory comes from the budget (whole chunks from the buffer pool) and it
// moves to disk when the budget needs the room, until CloseStageFile.
func (e *Engine) NewStageFile() *StageFile {
	s := newStageFile(e.staging.dir, stagePrefix, e.budget)
	s.pool = e.bufs
	e.stages.add(s)
	return s
}

// CloseStageFile ends s: its memory is released, and its file on disk
// removed, or kept when keep is set (the data of a failed upload).
func (e *Engine) CloseStageFile(s *StageFile, keep bool) {
	e.stages.remove(s)
	if keep {
		s.Close()
	} else {
		s.Remove()
	}
}

// Close releases the engine's local resources (after unmount): the kept
// files are logged once more, and the staging directory is removed unless
// it holds kept files or records of uploads still to abort.
func (e *Engine) Close() {
	for _, k := range e.staging.KeptFiles() {
		e.log.Error("data that could not be uploaded is kept", k.LogAttrs()...)
	}
	e.staging.Cleanup()
}

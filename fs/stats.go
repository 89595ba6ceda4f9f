package fs

// The file system's own numbers, for the mount's metrics (package metrics
// reads Stats at each scrape), and the user.oss.stats control attribute
// that `ossmount stats` reads:
//
//	getxattr(ANY PATH IN THE MOUNT, "user.oss.stats")
//	    the mount's statistics as JSON (Config.StatsReport; see
//	    metrics.Summary). Only root and the user the mount's process runs
//	    as may read it (EACCES otherwise); it is never listed, cannot be
//	    set, and costs no request to OSS.

import (
	"context"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/cache"
)

const xattrStats = "user.oss.stats"

// Stats are the file system's numbers: counters since the mount, and state
// now, each read from its owner (caches, budgets, the engine's counters,
// the staging directory) when asked.
type Stats struct {
	AttrCache, NegativeCache, ListCache, BlockCache cache.Stats
	Memory, Disk                                    cache.BudgetStats

	// Inodes the kernel holds (files and directories it has looked up
	// and not forgotten, the root aside); ListedEntries are the entries
	// of the cached listings (ListCache.Entries counts the directories).
	Inodes, ListedEntries int64
	// MemoryLimit is the Go memory limit the mount set: memory_budget
	// and a margin, plus the metadata's allowance (0: none set).
	MemoryLimit int64

	// ReadAheadBytes were fetched ahead of sequential reads;
	// ReadAheadUnreadBytes of them were dropped without being read.
	ReadAheadBytes, ReadAheadUnreadBytes int64

	// UploadsInFlight: files being uploaded now (a PUT under way, or a
	// multipart upload started and not yet completed, aborted or kept).
	UploadsInFlight int64
	// UploadsCompleted and UploadsFailed count file uploads since the
	// mount (a failed one keeps its data in the cache directory).
	UploadsCompleted, UploadsFailed int64
	// KeptFiles and KeptBytes (disk space used) are the files in the
	// cache directory holding data that could not be uploaded.
	KeptFiles, KeptBytes int64
	// IncompleteMultipartUploads were started by this mount and neither
	// completed nor aborted (including those kept after a failure).
	IncompleteMultipartUploads int64

	// DataCache are the persistent data cache's numbers (-o data_cache;
	// DataCacheOn false and zeros without one).
	DataCacheOn bool
	DataCache   cache.DataCacheStats
}

// Stats returns the file system's numbers.
func (f *FS) Stats() Stats {
	s := Stats{
		AttrCache: f.ns.Attrs.Stats(), NegativeCache: f.ns.Neg.Stats(), ListCache: f.ns.Lists.Stats(), BlockCache: f.eng.Blocks().Stats(),
		Memory: f.eng.Budget().Stats(), Disk: f.eng.Staging().DiskBudget().Stats(),
		Inodes: f.inodeCount(), ListedEntries: f.ns.ListedEntries(), MemoryLimit: f.mem.limit.Load(),
	}
	if f.cfg.DataCache != nil {
		s.DataCacheOn, s.DataCache = true, f.cfg.DataCache.Stats()
	}
	s.ReadAheadBytes, s.ReadAheadUnreadBytes = f.eng.ReadAhead()
	s.IncompleteMultipartUploads, _ = f.eng.MultipartCounts()
	s.UploadsCompleted, s.UploadsFailed, s.UploadsInFlight = f.eng.Uploads()
	for _, k := range f.eng.Staging().KeptFiles() {
		if st, err := os.Stat(k.Path); err == nil {
			s.KeptFiles++
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				s.KeptBytes += sys.Blocks * 512
			}
		}
	}
	return s
}

// statsXattr answers user.oss.stats for the mount's owner and root.
func (f *FS) statsXattr(ctx context.Context, ino uint64, dest []byte) (uint32, syscall.Errno) {
	if f.cfg.StatsReport == nil {
		return 0, syscall.ENODATA
	}
	if c, ok := fuse.FromContext(ctx); ok && c.Uid != 0 && c.Uid != uint32(os.Geteuid()) {
		return 0, syscall.EACCES
	}
	return answerShare(ctx, f, ino, xattrStats, dest, func() (string, syscall.Errno) {
		b, err := f.cfg.StatsReport()
		if err != nil {
			f.log.Warn("stats: cannot build the report", "err", err)
			return "", syscall.EIO
		}
		return string(b), 0
	})
}

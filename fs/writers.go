package fs

// The mount's open writers (the set FlushAll and directory renames walk,
// and the order their locks are taken in) and the mount's end: FlushAll
// at unmount, then Close.

import (
	"cmp"
	"context"
	"slices"
)

// trackWriter registers (or forgets) an open writer for FlushAll.
func (f *FS) trackWriter(w *writeState, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		f.writers[w] = struct{}{}
	} else {
		delete(f.writers, w)
	}
}

// lockOrder returns the non-nil writers among ws, without repeats, in the
// order their locks are taken (seq).
func lockOrder(ws ...*writeState) []*writeState {
	out := make([]*writeState, 0, len(ws))
	for _, w := range ws {
		if w != nil && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b *writeState) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

func (f *FS) openWriters() []*writeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*writeState, 0, len(f.writers))
	for w := range f.writers {
		out = append(out, w)
	}
	return out
}

// FlushAll uploads every open file that has changes (at unmount) and
// returns how many uploads failed.
func (f *FS) FlushAll(ctx context.Context) int {
	failed := 0
	for _, w := range f.openWriters() {
		if w.isFailed() {
			// Failed earlier: reported to the application then, and
			// its data kept (its descriptor may just not be released
			// yet). Not a failure of this flush.
			continue
		}
		if w.flush(ctx) != 0 {
			failed++
		}
	}
	return failed
}

// Close releases the mount's local resources (after unmount).
func (f *FS) Close() {
	close(f.stop)
	if st := f.cfg.AttrStore; st != nil {
		close(f.stopSave)
		if err := st.Save(); err != nil {
			f.log.Warn("cannot save the attribute store", "path", st.Path(), "err", err)
		}
	}
	f.eng.Close()
}

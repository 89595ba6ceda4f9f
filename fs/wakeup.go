package fs

// wakeup wakes every goroutine waiting for a change of state guarded by a
// mutex: a waiter takes the channel under the mutex (made on first use),
// unlocks and waits on it; the one that changes the state broadcasts under
// the mutex (the channel is closed, and the next waiter makes another).
// The zero value is ready to use; the mutex guards it.
type wakeup struct{ ch chan struct{} }

// channel returns the channel the next broadcast closes.
func (w *wakeup) channel() <-chan struct{} {
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

// broadcast wakes the waiters, if any.
func (w *wakeup) broadcast() {
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// waiting reports whether a goroutine took the channel since the last
// broadcast.
func (w *wakeup) waiting() bool { return w.ch != nil }

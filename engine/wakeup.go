package engine

// Wakeup wakes every goroutine waiting for a change of state guarded by a
// mutex: a waiter takes the channel under the mutex (made on first use),
// unlocks and waits on it; the one that changes the state broadcasts under
// the mutex (the channel is closed, and the next waiter makes another).
// The zero value is ready to use; the mutex guards it.
type Wakeup struct{ ch chan struct{} }

// Channel returns the channel the next broadcast closes.
func (w *Wakeup) Channel() <-chan struct{} {
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

// Broadcast wakes the waiters, if any.
func (w *Wakeup) Broadcast() {
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// Waiting reports whether a goroutine took the channel since the last
// broadcast.
func (w *Wakeup) Waiting() bool { return w.ch != nil }

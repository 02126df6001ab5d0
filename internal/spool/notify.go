package spool

// wakeAll wakes every Follower watching.
func (w *watcher) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, set := range w.subs {
		for c := range set {
			notify(c)
		}
	}
}

// notify sends on c without blocking: one pending wake-up is enough.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

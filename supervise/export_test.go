package supervise

// SetBeforeReadopt sets the hook called before each re-adoption, until
// the returned function removes it.
func SetBeforeReadopt(f func(dir, name string)) (remove func()) {
	beforeReadopt.Store(&f)
	return func() { beforeReadopt.Store(nil) }
}

// WriteState writes the state file now, as the supervisor would on its
// next change.
func (s *Supervisor) WriteState() { s.store.write(s.snapshot()) }

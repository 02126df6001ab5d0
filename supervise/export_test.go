package supervise

import "io"

// SetBeforeReadopt sets the hook called before each re-adoption, until
// the returned function removes it.
func SetBeforeReadopt(f func(dir, name string)) (remove func()) {
	beforeReadopt.Store(&f)
	return func() { beforeReadopt.Store(nil) }
}

// WriteState writes the state file now, as the supervisor would on its
// next change.
func (s *Supervisor) WriteState() { s.store.write(s.snapshot()) }

// SetLogWriter has f open the log writers (f returning nil: logrotate's),
// until the returned function removes it.
func SetLogWriter(f func(path string) io.WriteCloser) (remove func()) {
	logWriterHook.Store(&f)
	return func() { logWriterHook.Store(nil) }
}

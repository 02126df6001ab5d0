package supervise

import (
	"errors"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/logrotate"
)

// instanceLogs are one instance's log files: what its processes print on
// stdout and stderr, as printed, in size-capped rotated files (LogPath).
type instanceLogs struct {
	stdout, stderr *logrotate.Writer
}

func openLogs(s *Supervisor, name string) (*instanceLogs, error) {
	out, err := logrotate.New(s.LogPath(name, "stdout"), s.cfg.LogMaxBytes, s.cfg.LogKeep)
	if err != nil {
		return nil, err
	}
	errw, err := logrotate.New(s.LogPath(name, "stderr"), s.cfg.LogMaxBytes, s.cfg.LogKeep)
	if err != nil {
		_ = out.Close()
		return nil, err
	}
	return &instanceLogs{stdout: out, stderr: errw}, nil
}

// options send a start's output to the files; none without files.
func (l *instanceLogs) options() []tether.Option {
	if l == nil {
		return nil
	}
	return []tether.Option{tether.WithStdout(l.stdout), tether.WithStderr(l.stderr)}
}

func (l *instanceLogs) close() {
	if l != nil {
		_ = errors.Join(l.stdout.Close(), l.stderr.Close())
	}
}

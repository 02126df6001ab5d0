package nodeagent

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// LogPath is the file holding a container's stdout and stderr, appended across restarts:
// WORKDIR/logs/NAMESPACE/POD/CONTAINER.log.
func LogPath(workDir, namespace, pod, container string) string {
	return filepath.Join(workDir, "logs", namespace, pod, container+".log")
}

// LogTail returns the last n lines of a container's log (fewer if the log is shorter), for
// kubectl-logs-like reads by tests. The log outlives the pod object.
func LogTail(workDir, namespace, pod, container string, n int) ([]string, error) {
	return tailFile(LogPath(workDir, namespace, pod, container), n)
}

// tailMax bounds how much of a log tailFile reads.
const tailMax = 1 << 20

// tailFile returns the last n lines of the file at p.
func tailFile(p string, n int) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(fi.Size()-tailMax, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 || n <= 0 {
		return nil, nil
	}
	lines := strings.Split(string(b), "\n")
	if off > 0 {
		lines = lines[1:] // the first line is cut
	}
	return lines[max(len(lines)-n, 0):], nil
}

// openLog opens a container log for appending, creating its directory.
func openLog(p string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

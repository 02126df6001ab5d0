package nodeagent

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// LogPath is the file holding a container's stdout and stderr, appended across restarts:
// WORKDIR/logs/NAMESPACE/POD/CONTAINER.log. Each line is prefixed with the time the agent read
// it (RFC3339Nano, UTC, strictly increasing within the file) and a space, as the kubelet
// serves a log with timestamps=true.
func LogPath(workDir, namespace, pod, container string) string {
	return filepath.Join(workDir, "logs", namespace, pod, container+".log")
}

// LogTail returns the last n lines of a container's log (fewer if the log is shorter), without
// their timestamps, for kubectl-logs-like reads by tests. The log outlives the pod object.
func LogTail(workDir, namespace, pod, container string, n int) ([]string, error) {
	return tailFile(LogPath(workDir, namespace, pod, container), n)
}

// tailMax bounds how much of a log tailFile reads.
const tailMax = 1 << 20

// tailFile returns the last n lines of the log at p, without their timestamps.
func tailFile(p string, n int) ([]string, error) {
	lines, _, err := tailEntries(p, n)
	for i, l := range lines {
		_, lines[i] = splitTimestamp(l)
	}
	return lines, err
}

// tailEntries returns the last n lines of the file at p (n < 0: all the last tailMax bytes
// hold), as written, and the offset after the last complete line.
func tailEntries(p string, n int) ([]string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	off := max(fi.Size()-tailMax, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return nil, 0, err
	}
	end := bytes.LastIndexByte(b, '\n') + 1 // a line being written is not complete yet
	b = b[:end]
	if len(b) == 0 || n == 0 {
		return nil, off + int64(end), nil
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if off > 0 {
		lines = lines[1:] // the first line is cut
	}
	if n > 0 {
		lines = lines[max(len(lines)-n, 0):]
	}
	return lines, off + int64(end), nil
}

// splitTimestamp splits a log line into its timestamp and the line the container printed; a
// line without a timestamp is returned whole with the zero time.
func splitTimestamp(line string) (time.Time, string) {
	ts, rest, ok := strings.Cut(line, " ")
	if !ok {
		return time.Time{}, line
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, line
	}
	return t, rest
}

// openLog opens a container log for appending, creating its directory.
func openLog(p string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// maxLogLine bounds one line of a log: a longer line is recorded as several, as the kubelet
// splits long lines.
const maxLogLine = 64 << 10

// logFile is one container log as the agent writes it, across the container's restarts: the
// last timestamp given, whether a process is writing it, and a signal for followers.
type logFile struct {
	mu      sync.Mutex
	last    time.Time
	writers int           // copies under way
	changed chan struct{} // closed and replaced when lines are added or a copy ends
}

// logFile returns the log at p, shared by the containers writing it and the followers reading it.
func (a *agent) logFile(p string) *logFile {
	if l, ok := a.logFiles.Load(p); ok {
		return l.(*logFile)
	}
	l, _ := a.logFiles.LoadOrStore(p, &logFile{changed: make(chan struct{})})
	return l.(*logFile)
}

// state is the signal of the next change and whether a process is writing the log: read it
// before reading the file, so that a follower that then reads to the end and finds no writer
// has every line.
func (l *logFile) state() (<-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed, l.writers > 0
}

func (l *logFile) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// record copies src, a container's stdout and stderr, into dst line by line, each line
// prefixed with its timestamp, until src ends; it closes both and then done.
func (l *logFile) record(dst *os.File, src io.ReadCloser) (done <-chan struct{}) {
	l.mu.Lock()
	l.writers++
	l.mu.Unlock()
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer dst.Close()
		defer src.Close()
		r := bufio.NewReaderSize(src, maxLogLine)
		for {
			line, err := r.ReadSlice('\n')
			if len(line) > 0 {
				l.write(dst, line)
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		l.mu.Lock()
		l.writers--
		l.notifyLocked()
		l.mu.Unlock()
	}()
	return ch
}

// write appends one line with its timestamp, later than any before it in the file.
func (l *logFile) write(dst *os.File, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now().UTC()
	if !now.After(l.last) {
		now = l.last.Add(time.Nanosecond)
	}
	l.last = now
	b := make([]byte, 0, len(line)+40)
	b = append(now.AppendFormat(b, time.RFC3339Nano), ' ')
	b = append(b, bytes.TrimSuffix(line, []byte("\n"))...)
	_, _ = dst.Write(append(b, '\n'))
	l.notifyLocked()
}

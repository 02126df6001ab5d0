package nodeagent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// logQuery is what a /containerLogs request asks for, with the kubelet's semantics.
type logQuery struct {
	tail       int       // the last lines of the log only; < 0: all
	limit      int64     // at most this many bytes; < 0: no limit
	since      time.Time // only lines stamped at or after it
	timestamps bool      // each line prefixed with its timestamp and a space
	follow     bool      // then stream new lines until the container stops
}

// parseLogQuery reads tailLines, limitBytes, sinceTime (RFC3339), sinceSeconds, timestamps and
// follow; previous is ignored (the log holds every run of the container).
func parseLogQuery(q url.Values, now time.Time) (logQuery, error) {
	lq := logQuery{tail: -1, limit: -1}
	var err error
	for _, p := range []struct {
		name string
		set  func(string) error
	}{
		{"tailLines", func(s string) (err error) { lq.tail, err = nonNegative(s); return }},
		{"limitBytes", func(s string) error { n, err := nonNegative(s); lq.limit = int64(n); return err }},
		{"sinceTime", func(s string) (err error) { lq.since, err = time.Parse(time.RFC3339Nano, s); return }},
		{"sinceSeconds", func(s string) error {
			n, err := nonNegative(s)
			lq.since = now.Add(-time.Duration(n) * time.Second)
			return err
		}},
		{"timestamps", func(s string) (err error) { lq.timestamps, err = strconv.ParseBool(s); return }},
		{"follow", func(s string) (err error) { lq.follow, err = strconv.ParseBool(s); return }},
	} {
		if s := q.Get(p.name); s != "" {
			if err = p.set(s); err != nil {
				return lq, fmt.Errorf("bad %s %q: %w", p.name, s, err)
			}
		}
	}
	return lq, nil
}

func nonNegative(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err == nil && n < 0 {
		err = errors.New("negative")
	}
	return n, err
}

// serveLogs answers GET /containerLogs/NS/POD/CONTAINER: the log's lines, the last tailLines
// of them, those stamped at or after sinceTime (or sinceSeconds ago), with their timestamps
// when timestamps=true, at most limitBytes; with follow=true it then sends each new line until
// the container's process stops (the kubelet ends a followed log when its container exits) or
// the agent stops.
func (a *agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/containerLogs/") || len(parts) != 3 {
		http.Error(w, "only GET /containerLogs/NAMESPACE/POD/CONTAINER is served", http.StatusNotFound)
		return
	}
	q, err := parseLogQuery(r.URL.Query(), time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p := LogPath(a.opts.WorkDir, parts[0], parts[1], parts[2])
	f, err := os.Open(p)
	if err != nil {
		http.Error(w, fmt.Sprintf("no log for container %s of pod %s/%s", parts[2], parts[0], parts[1]), http.StatusNotFound)
		return
	}
	defer f.Close()
	changed, writing := a.logFile(p).state() // before reading: see logFile.state
	w.Header().Set("Content-Type", "text/plain")
	out := &logOut{w: w, q: q, left: q.limit}
	var off int64
	if q.tail >= 0 {
		lines, end, err := tailEntries(p, q.tail)
		if err != nil {
			return
		}
		for _, l := range lines {
			if !out.line(l) {
				return
			}
		}
		off = end
	}
	for {
		if off, err = out.from(f, off); err != nil || out.full() {
			return
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if !q.follow || !writing {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-a.stop:
			return
		}
		changed, writing = a.logFile(p).state()
	}
}

// logOut writes the lines a logQuery selects.
type logOut struct {
	w    io.Writer
	q    logQuery
	left int64 // bytes that may still be sent; < 0: no limit
	err  error // of the last write
}

// full reports that nothing more may be sent: the byte limit is reached or the client is gone.
func (o *logOut) full() bool { return o.left == 0 || o.err != nil }

// from sends the complete lines of f from offset off on and returns the offset after them.
func (o *logOut) from(f *os.File, off int64) (int64, error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, err
	}
	r := bufio.NewReader(f)
	for {
		l, err := r.ReadString('\n')
		if err != nil { // EOF, with the start of a line being written or nothing
			return off, nil
		}
		off += int64(len(l))
		if !o.line(strings.TrimSuffix(l, "\n")) {
			return off, nil
		}
	}
}

// line sends one log line, as the file holds it, if the query selects it; false when the byte
// limit is reached.
func (o *logOut) line(entry string) bool {
	ts, text := splitTimestamp(entry)
	if !o.q.since.IsZero() && ts.Before(o.q.since) {
		return true
	}
	if o.q.timestamps {
		text = entry
	}
	text += "\n"
	if o.left >= 0 && int64(len(text)) >= o.left {
		text, o.left = text[:o.left], 0
		_, _ = io.WriteString(o.w, text)
		return false
	}
	if o.left > 0 {
		o.left -= int64(len(text))
	}
	_, o.err = io.WriteString(o.w, text)
	return o.err == nil
}

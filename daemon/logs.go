package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/logrotate"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// followInterval is how often a followed log file is looked at.
const followInterval = 200 * time.Millisecond

// maxChunk bounds one LogsResponse.
const maxChunk = 64 << 10

// Logs streams an instance's log file, rotated files first.
func (c *control) Logs(req *tetherv1.LogsRequest, stream tetherv1.Daemon_LogsServer) error {
	d, name := c.d, req.GetName()
	which := req.GetStream()
	switch which {
	case "":
		which = "stderr"
	case "stderr", "stdout":
	default:
		return status.Errorf(codes.InvalidArgument, "stream %q: want stderr or stdout", which)
	}
	path := d.sup.LogPath(name, which)
	if path == "" {
		return status.Error(codes.FailedPrecondition, "the daemon keeps no log files (no data directory)")
	}
	if !d.known(name) {
		if _, err := os.Stat(path); err != nil {
			return notFound(name)
		}
	} else if target, ok := d.networkTarget(name); ok {
		return status.Errorf(codes.FailedPrecondition,
			"plugin %q is a network plugin (%s): it has no local logs; read them where it runs", name, target)
	}
	send := func(b []byte) error {
		for len(b) > 0 {
			n := min(len(b), maxChunk)
			if err := stream.Send(&tetherv1.LogsResponse{Data: b[:n]}); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}
	data, size, err := tail(path, int(req.GetTail()))
	if err != nil {
		return status.Errorf(codes.Internal, "reading %s: %v", path, err)
	}
	if err := send(data); err != nil || !req.GetFollow() {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-d.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return follow(ctx, path, size, send)
}

// tail returns the last n lines of path and its rotated files (all of
// them for n 0, none for n < 0), and how much of path it read: where
// following it starts.
func tail(path string, n int) ([]byte, int64, error) {
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	if n < 0 {
		return nil, size, nil
	}
	files := logrotate.Files(path)
	var chunks [][]byte
	lines := 0
	for i := len(files) - 1; i >= 0; i-- {
		b, err := os.ReadFile(files[i])
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		if i == len(files)-1 {
			b = b[:min(int64(len(b)), size)]
		}
		chunks = append([][]byte{b}, chunks...)
		lines += bytes.Count(b, []byte("\n"))
		if n > 0 && lines > n {
			break
		}
	}
	all := bytes.Join(chunks, nil)
	if n == 0 {
		return all, size, nil
	}
	return lastLines(all, n), size, nil
}

// lastLines is the last n lines of b; an unfinished last line counts.
func lastLines(b []byte, n int) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// follow sends what is appended to path past offset until ctx ends,
// reopening it when it is rotated (replaced) or truncated.
func follow(ctx context.Context, path string, offset int64, send func([]byte) error) error {
	var f *os.File
	defer func() {
		if f != nil {
			_ = f.Close()
		}
	}()
	if fi, err := os.Open(path); err == nil {
		f = fi
		if st, err := f.Stat(); err == nil && st.Size() < offset {
			offset = 0 // truncated since
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return status.Errorf(codes.Internal, "reading %s: %v", path, err)
		}
	}
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	buf := make([]byte, 32<<10)
	for {
		if f != nil {
			if err := drain(f, buf, send); err != nil {
				return err
			}
		}
		switch nf, err := reopen(path, f); {
		case err != nil:
			return status.Errorf(codes.Internal, "reading %s: %v", path, err)
		case nf != f:
			if f != nil {
				if err := drain(f, buf, send); err != nil { // what was written before the rotation
					return err
				}
				_ = f.Close()
			}
			f = nf
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// drain sends what f holds past its offset.
func drain(f *os.File, buf []byte, send func([]byte) error) error {
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if serr := send(bytes.Clone(buf[:n])); serr != nil {
				return serr
			}
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.Name(), err)
		}
	}
}

// reopen returns the file to read next: f while path is still f and not
// truncated, else path opened anew (nil while it does not exist).
func reopen(path string, f *os.File) (*os.File, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	if f != nil {
		cur, err := f.Stat()
		if err != nil {
			return nil, err
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		if os.SameFile(st, cur) {
			if st.Size() < off { // truncated in place
				_, err = f.Seek(0, io.SeekStart)
				return f, err
			}
			return f, nil
		}
	}
	nf, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	return nf, err
}

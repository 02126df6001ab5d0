package tether

import (
	"context"
	"strings"

	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/logfwd"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// stderrSink is an instance that takes stderr lines sent over the stdio
// stream, so that they are re-levelled and kept for its exit error like the
// lines of its own stderr pipe.
type stderrSink interface {
	stderrLine(line string)
}

// startStdio reads a go-plugin plugin instance's stdio stream, which
// carries what its program printed in chunks of any size, and passes it on
// line by line until ctx ends or the stream does.
func (c *Client) startStdio(ctx context.Context, ep Endpoint) {
	stream, err := goplugin.StreamStdio(pinTo(ctx, ep.key()), c.conn)
	if err != nil {
		return
	}
	stderrLine := func(s string) { c.log.Debug(strings.TrimRight(s, "\r\n"), "stream", "stderr") }
	if s, ok := ep.Instance.(stderrSink); ok {
		stderrLine = s.stderrLine
	}
	stdout := logfwd.NewLineWriter(func(line string) {
		if line = strings.TrimRight(line, "\r\n"); strings.TrimSpace(line) != "" {
			c.log.Info(line, "stream", "stdout")
		}
	})
	stderr := logfwd.NewLineWriter(stderrLine)
	go func() {
		defer stdout.Close()
		defer stderr.Close()
		for {
			d, err := stream.Recv()
			if err != nil {
				return
			}
			switch {
			case d.Channel == tetherv1.StdioData_STDOUT && c.opts.stdout != nil:
				_, _ = c.opts.stdout.Write(d.Data)
			case d.Channel == tetherv1.StdioData_STDOUT:
				_, _ = stdout.Write(d.Data)
			default:
				_, _ = stderr.Write(d.Data)
			}
		}
	}()
}

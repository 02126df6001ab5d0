package tether

import (
	"context"
	"strings"

	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/logfwd"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// startStdio reads a go-plugin plugin instance's stdio stream, which
// carries what its program printed in chunks of any size, and passes it on
// line by line until ctx ends or the stream does.
func (c *Client) startStdio(ctx context.Context, ep Endpoint) {
	stream, err := goplugin.StreamStdio(pinTo(ctx, ep.key()), c.conn)
	if err != nil {
		return
	}
	stdoutLine := func(line string) {
		if line = strings.TrimRight(line, "\r\n"); strings.TrimSpace(line) != "" {
			c.log.Info(line, "stream", "stdout")
		}
	}
	stderrLine := func(s string) { c.log.Debug(strings.TrimRight(s, "\r\n"), "stream", "stderr") }
	if s, ok := ep.Instance.(OutputSink); ok {
		stdoutLine, stderrLine = s.StdoutLine, s.StderrLine
	}
	stdout := logfwd.NewLineWriter(stdoutLine)
	stderr := logfwd.NewLineWriter(stderrLine)
	go func() {
		defer stdout.Close()
		defer stderr.Close()
		for {
			d, err := stream.Recv()
			if err != nil {
				return
			}
			if d.Channel == tetherv1.StdioData_STDOUT {
				_, _ = stdout.Write(d.Data)
			} else {
				_, _ = stderr.Write(d.Data)
			}
		}
	}()
}

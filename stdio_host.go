package tether

import (
	"context"

	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// stderrSink is an instance that takes stderr lines sent over the stdio
// stream, so that they are re-levelled and kept for its exit error like the
// lines of its own stderr pipe.
type stderrSink interface {
	stderrLine(line string)
}

// startStdio reads a go-plugin plugin instance's stdio stream, which
// carries what its program printed, until ctx ends or the stream does.
func (c *Client) startStdio(ctx context.Context, key string) {
	stream, err := goplugin.StreamStdio(pinTo(c.outgoing(ctx), key), c.conn)
	if err != nil {
		return
	}
	var sinkLine func(string)
	for _, in := range c.pool.instances() {
		if in.Network+":"+in.Address == key {
			if s, ok := in.Instance.(stderrSink); ok {
				sinkLine = s.stderrLine
			}
		}
	}
	if sinkLine == nil {
		sinkLine = func(s string) { c.log.Debug(s, "stream", "stderr") }
	}
	go func() {
		for {
			d, err := stream.Recv()
			if err != nil {
				return
			}
			switch {
			case d.Channel == tetherv1.StdioData_STDOUT && c.opts.stdout != nil:
				_, _ = c.opts.stdout.Write(d.Data)
			case d.Channel == tetherv1.StdioData_STDOUT:
				c.log.Info(string(d.Data), "stream", "stdout")
			default:
				sinkLine(string(d.Data))
			}
		}
	}()
}

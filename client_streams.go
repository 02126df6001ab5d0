package tether

// The streams a host opens to each admitted instance besides its calls:
// the callback tunnel of a host that provides callbacks, and go-plugin's
// stdio stream of a go-plugin plugin.

import (
	"context"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/logfwd"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/tunnel"
)

// callbackHost serves the host's callback services to a plugin's
// instances, each over a Callbacks/Tunnel stream on that instance's own
// connection: every instance behind one client gets its own tunnel, opened
// when the instance is admitted and reopened while it stays. The streams
// carry the client's session id like every other call, which is how a
// plugin sends each callback to the host that made the call it serves.
type callbackHost struct {
	server *grpc.Server
	lis    *tunnel.Listener
	ctx    context.Context
	stop   context.CancelFunc

	mu     sync.Mutex
	closed bool
	tasks  sync.WaitGroup // the keepOpen loops
}

// newCallbackHost starts serving the callbacks registered with
// WithCallbacks; tunnels are added per instance.
func newCallbackHost(regs []func(grpc.ServiceRegistrar), tr *tracing) *callbackHost {
	srv := grpc.NewServer(tr.serverOptions()...)
	for _, register := range regs {
		register(srv)
	}
	ctx, stop := context.WithCancel(context.Background())
	h := &callbackHost{server: srv, lis: tunnel.NewListener(), ctx: ctx, stop: stop}
	go func() { _ = srv.Serve(h.lis) }()
	return h
}

// serveInstance opens the first tunnel to the instance of key (bounded by
// the client's start timeout) and keeps one open until ctx ends.
func (h *callbackHost) serveInstance(ctx context.Context, c *Client, key string) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-ctx.Done():
		case <-h.ctx.Done():
		}
		cancel()
	}()
	octx, ocancel := context.WithTimeout(ctx, c.opts.startTimeout)
	conn, err := h.open(octx, ctx, c, key)
	ocancel()
	if err != nil {
		c.log.Warn("could not open the callback tunnel; retrying", "error", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		if conn != nil {
			conn.Close()
		}
		return
	}
	h.tasks.Add(1)
	go func() {
		defer h.tasks.Done()
		h.keepOpen(ctx, c, key, conn)
	}()
}

// open starts one tunnel stream to the instance of key, living as long as
// life, and hands it to the callback server. wait bounds the opening.
func (h *callbackHost) open(wait, life context.Context, c *Client, key string) (*tunnel.Conn, error) {
	sctx, cancel := context.WithCancel(pinTo(life, key))
	stopWaiting := context.AfterFunc(wait, cancel) // gave up opening
	stream, err := tetherv1.NewCallbacksClient(c.conn).Tunnel(sctx, grpc.WaitForReady(true))
	if !stopWaiting() {
		err = context.Cause(wait)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	conn := tunnel.NewConn(stream, cancel, tunnel.Addr{Name: "host"}, tunnel.Addr{Name: "plugin"})
	if err := h.lis.Put(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// keepOpen reopens the tunnel whenever it ends, until ctx ends.
func (h *callbackHost) keepOpen(ctx context.Context, c *Client, key string, conn *tunnel.Conn) {
	backoff := 50 * time.Millisecond
	for {
		if conn != nil {
			select {
			case <-conn.Done():
			case <-ctx.Done():
				conn.Close()
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		next, err := h.open(ctx, ctx, c, key)
		if err == nil {
			conn, backoff = next, 50*time.Millisecond
			continue
		}
		conn, backoff = nil, min(2*backoff, 5*time.Second)
	}
}

// close stops the callback server and its tunnels, and waits for them.
func (h *callbackHost) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.stop()
	h.server.Stop()
	h.tasks.Wait()
}

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

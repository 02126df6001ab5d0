package tether

import (
	"context"
	"slices"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/tunnel"
)

// callbackHost serves the host's callback services to a plugin over
// Callbacks/Tunnel streams on the plugin's own connection. When a tunnel
// ends while the client is open (the plugin restarted behind the same
// address, say), it opens a new one.
type callbackHost struct {
	server *grpc.Server
	lis    *tunnel.Listener
	ctx    context.Context
	stop   context.CancelFunc
	done   chan struct{}
}

// serveCallbacks starts serving the callbacks registered with WithCallbacks.
// The first tunnel is open when it returns.
func (c *Client) serveCallbacks(ctx context.Context, regs []func(grpc.ServiceRegistrar)) error {
	if !slices.Contains(c.describe.GetFeatures(), FeatureCallbacks) {
		return &PluginError{Plugin: c.name, Kind: ErrNotImplemented,
			Detail: "the host provides callbacks but the plugin does not serve tether.v1.Callbacks"}
	}
	srv := grpc.NewServer()
	for _, register := range regs {
		register(srv)
	}
	hctx, stop := context.WithCancel(context.Background())
	h := &callbackHost{server: srv, lis: tunnel.NewListener(), ctx: hctx, stop: stop, done: make(chan struct{})}
	go func() { _ = srv.Serve(h.lis) }()
	conn, err := h.open(ctx, c.conn)
	if err != nil {
		stop()
		srv.Stop()
		return err
	}
	c.callbacks = h
	go h.keepOpen(c.conn, conn)
	return nil
}

// open starts one tunnel stream and hands it to the callback server.
func (h *callbackHost) open(ctx context.Context, cc grpc.ClientConnInterface) (*tunnel.Conn, error) {
	sctx, cancel := context.WithCancel(h.ctx)
	stream, err := tetherv1.NewCallbacksClient(cc).Tunnel(sctx, grpc.WaitForReady(true))
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

// keepOpen reopens the tunnel whenever it ends, until close.
func (h *callbackHost) keepOpen(cc grpc.ClientConnInterface, conn *tunnel.Conn) {
	defer close(h.done)
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-conn.Done():
		case <-h.ctx.Done():
			conn.Close()
			return
		}
		for {
			select {
			case <-h.ctx.Done():
				return
			case <-time.After(backoff):
			}
			next, err := h.open(h.ctx, cc)
			if err == nil {
				conn, backoff = next, 50*time.Millisecond
				break
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// close stops the callback server and its tunnels, and waits for them.
func (h *callbackHost) close() {
	h.stop()
	h.server.Stop()
	<-h.done
}

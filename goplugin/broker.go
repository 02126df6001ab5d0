package goplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/execruntime"
	gpwire "github.com/tetherplug/tether/internal/goplugin"
)

// GRPCBroker is the host's side of go-plugin's gRPC broker for one
// launched go-plugin plugin: go-plugin's *plugin.GRPCBroker, method for
// method. Its methods are safe for concurrent use.
type GRPCBroker struct {
	plugin string
	env    execruntime.BrokerEnv
	stream grpc.BidiStreamingClient[gpwire.ConnInfo, gpwire.ConnInfo]
	cancel context.CancelFunc // ends the stream
	nextID atomic.Uint32
	sendMu sync.Mutex // one Send at a time on the stream
	dialMu sync.Mutex // multiplexed dials knock one at a time
	wg     sync.WaitGroup

	mu      sync.Mutex
	done    chan struct{} // closed when the broker ends
	why     error         // why it ended
	infos   map[uint32]*pendingInfo
	acks    map[uint32]chan gpwire.Knock
	closers map[io.Closer]struct{} // listeners, servers and connections to close with the broker
	conns   []*grpc.ClientConn     // Dial's connections, closed with the broker
	mux     muxState               // multiplexed mode's listeners
	seq     int                    // numbers the host's socket files
}

// pendingInfo is a plugin's announcement of an id it accepts (classic
// mode), kept until Dial takes it or DialTimeout passes.
type pendingInfo struct {
	ch chan gpwire.ConnInfo // buffered 1
}

// newBroker opens the broker stream on c's connection.
func newBroker(c *tether.Client, env execruntime.BrokerEnv) (*GRPCBroker, error) {
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := gpwire.StartStream(ctx, c.Conn())
	if err != nil {
		cancel()
		return nil, err
	}
	return startBroker(c.Name(), env, stream, cancel), nil
}

// startBroker runs the broker of plugin on stream; cancel ends the stream.
func startBroker(plugin string, env execruntime.BrokerEnv, stream grpc.BidiStreamingClient[gpwire.ConnInfo, gpwire.ConnInfo], cancel context.CancelFunc) *GRPCBroker {
	b := &GRPCBroker{plugin: plugin, env: env, stream: stream, cancel: cancel, done: make(chan struct{}),
		infos: map[uint32]*pendingInfo{}, acks: map[uint32]chan gpwire.Knock{}, closers: map[io.Closer]struct{}{}}
	b.mux.init()
	b.wg.Add(1)
	go b.receive()
	return b
}

// NextId returns an id not returned before by this broker, to pass to the
// plugin for a connection it is to dial (Accept) or that it accepts
// (Dial). The name is go-plugin's.
func (b *GRPCBroker) NextId() uint32 { return b.nextID.Add(1) }

// Accept listens for the plugin's connection of id (the plugin calls its
// broker's Dial(id)). In classic mode the listener is a new socket,
// announced to the plugin; in multiplexed mode it takes the yamux stream
// the plugin opens after knocking for id. Closing the listener, or the
// broker, ends it.
func (b *GRPCBroker) Accept(id uint32) (net.Listener, error) {
	if err := b.alive(); err != nil {
		return nil, err
	}
	if b.env.Session != nil {
		return b.muxListen(id)
	}
	return b.classicListen(id)
}

// AcceptAndServe accepts the plugin's connections of id and serves the gRPC
// server newServer makes on them, until the server stops or the broker is
// closed; then it returns nil. newServer gets the server options it must
// pass to grpc.NewServer (the brokered connection's TLS credentials with
// automatic mutual TLS). Hosts usually start it with go, as with go-plugin.
func (b *GRPCBroker) AcceptAndServe(id uint32, newServer func([]grpc.ServerOption) *grpc.Server) error {
	ln, err := b.Accept(id)
	if err != nil {
		return err
	}
	var opts []grpc.ServerOption
	if b.env.ServerTLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(b.env.ServerTLS)))
	}
	s := newServer(opts)
	stop := &funcCloser{s.Stop}
	if !b.track(stop) {
		_ = ln.Close()
		return b.alive()
	}
	defer b.untrack(stop)
	err = s.Serve(ln)
	if b.alive() != nil || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Dial connects to the plugin's brokered server of id (the plugin calls its
// broker's Accept(id) or AcceptAndServe(id, ...)). It waits at most
// DialTimeout for the plugin to serve it, then fails with ErrDialTimeout.
// The connection uses the main connection's TLS; the broker closes it
// when it ends.
func (b *GRPCBroker) Dial(id uint32) (*grpc.ClientConn, error) { return b.DialWithOptions(id) }

// DialWithOptions is Dial with gRPC dial options of the host's, applied
// after the broker's.
func (b *GRPCBroker) DialWithOptions(id uint32, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if err := b.alive(); err != nil {
		return nil, err
	}
	var dial func(context.Context, string) (net.Conn, error)
	var err error
	if b.env.Session != nil {
		dial, err = b.muxDialer(id)
	} else {
		dial, err = b.classicDialer(id)
	}
	if err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if b.env.ClientTLS != nil {
		creds = credentials.NewTLS(b.env.ClientTLS)
	}
	opts = append([]grpc.DialOption{grpc.WithContextDialer(dial), grpc.WithTransportCredentials(creds)}, opts...)
	conn, err := grpc.NewClient("passthrough:///goplugin-broker", opts...)
	if err != nil {
		return nil, b.errorf(id, "could not set up the connection: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.why != nil {
		_ = conn.Close()
		return nil, b.why
	}
	b.conns = append(b.conns, conn)
	conn.Connect() // as go-plugin's grpc.Dial: connect now, on the stream just opened in multiplexed mode
	return conn, nil
}

// Close ends the broker: its stream, its listeners (their sockets
// removed), the servers AcceptAndServe runs and the connections Dial made.
// The plugin's broker ends with it, as with go-plugin. It returns nil,
// also when called again.
func (b *GRPCBroker) Close() error {
	b.end(fmt.Errorf("goplugin: plugin %s: %w", b.plugin, ErrBrokerClosed))
	b.wg.Wait()
	return nil
}

// end closes everything once, recording why.
func (b *GRPCBroker) end(why error) {
	b.mu.Lock()
	if b.why != nil {
		b.mu.Unlock()
		return
	}
	b.why = why
	close(b.done)
	closers, conns := b.closers, b.conns
	b.closers, b.conns = nil, nil
	b.mu.Unlock()
	b.cancel()
	for c := range closers {
		_ = c.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// alive is nil while the broker runs, and why it ended after.
func (b *GRPCBroker) alive() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.why
}

// receive reads the stream until it ends, then ends the broker.
func (b *GRPCBroker) receive() {
	defer b.wg.Done()
	for {
		var m gpwire.ConnInfo
		if err := b.stream.RecvMsg(&m); err != nil {
			b.end(fmt.Errorf("goplugin: plugin %s: %w: its stream ended: %v", b.plugin, ErrBrokerClosed, err))
			return
		}
		switch k := m.Knock; {
		case k != nil && k.Knock && !k.Ack:
			b.wg.Add(1)
			go b.answerKnock(m.ServiceID)
		case k != nil:
			b.deliverAck(m.ServiceID, *k)
		default:
			b.deliverInfo(m)
		}
	}
}

// send sends one message on the stream.
func (b *GRPCBroker) send(m *gpwire.ConnInfo) error {
	b.sendMu.Lock()
	defer b.sendMu.Unlock()
	if err := b.stream.Send(m); err != nil {
		return fmt.Errorf("goplugin: plugin %s: %w: %v", b.plugin, ErrBrokerClosed, err)
	}
	return nil
}

// track registers c to be closed with the broker; false when it has ended.
func (b *GRPCBroker) track(c io.Closer) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.why != nil {
		return false
	}
	b.closers[c] = struct{}{}
	return true
}

func (b *GRPCBroker) untrack(c io.Closer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.closers, c)
}

// errorf is an error about one brokered id.
func (b *GRPCBroker) errorf(id uint32, format string, args ...any) error {
	return fmt.Errorf("goplugin: plugin %s: broker id %d: "+format, append([]any{b.plugin, id}, args...)...)
}

// funcCloser makes a function an io.Closer; used as a pointer, so that it
// can be a map key.
type funcCloser struct{ f func() }

func (c *funcCloser) Close() error { c.f(); return nil }

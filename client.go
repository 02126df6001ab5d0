package tether

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// Client is a host's handle on one loaded plugin: one gRPC connection, the
// versions negotiated on it, and, for a launched plugin, its process.
type Client struct {
	name     string
	conn     *grpc.ClientConn
	protocol int
	// describe is the plugin's own description; nil for plugins that do not
	// serve tether's Describe (go-plugin plugins).
	describe *tetherv1.DescribeResponse
	chosen   map[string]int
	proc     *process
	hs       HandshakeLine
	log      *slog.Logger
	kill     time.Duration

	stopStdio context.CancelFunc
	callbacks *callbackHost
	// reflected caches what server reflection said (see Implements): the
	// services listed, and the methods of those asked about.
	reflectMu    sync.Mutex
	reflected    map[string][]string
	reflectedAll map[string]bool

	closeOnce sync.Once
	closeErr  error
}

type endpoint struct {
	network, address string
	creds            credentials.TransportCredentials
	// failFast: the first failed connection attempt ends the load (for
	// launched plugins, which listen before they print their handshake).
	failFast bool
}

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }

// connect dials an endpoint, asks the plugin to describe itself and
// negotiates interface versions.
func connect(ctx context.Context, ep endpoint, name string, protocol int, o *options, proc *process) (*Client, error) {
	c := &Client{name: name, protocol: protocol, proc: proc, log: o.logger.With("plugin", name), kill: o.killTimeout}
	session := newSession() // lead: host side of sessions
	dialOpts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(ep.creds),
		grpc.WithChainUnaryInterceptor(sessionUnary(session), c.unaryErrors),    // lead: host side of sessions
		grpc.WithChainStreamInterceptor(sessionStream(session), c.streamErrors), // lead: host side of sessions
	}, o.dialOptions...)
	target := ep.address
	if ep.network == "unix" {
		target = "unix://" + ep.address
	}
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, &PluginError{Plugin: name, Kind: ErrNotPlugin, Detail: "bad address " + ep.address, Err: err}
	}
	c.conn = conn
	// A launched plugin listens before it prints its handshake, so a first
	// connection that fails (a TLS certificate that does not verify, say)
	// will not get better: fail at once with its error rather than retry
	// until the start timeout.
	desc, err := tetherv1.NewPluginClient(conn).Describe(ctx, &tetherv1.DescribeRequest{}, grpc.WaitForReady(!ep.failFast))
	switch status.Code(err) {
	case codes.OK:
		c.describe = desc
		if err := c.negotiate(o.wants); err != nil {
			conn.Close()
			return nil, err
		}
		if len(o.callbacks) > 0 {
			if err := c.serveCallbacks(ctx, o.callbacks); err != nil {
				conn.Close()
				return nil, err
			}
		}
	case codes.Unimplemented:
		// A go-plugin plugin: it knows only the global protocol version,
		// which stands for the version of every interface, and sends what
		// its program prints through the stdio stream.
		if len(o.callbacks) > 0 {
			conn.Close()
			return nil, &PluginError{Plugin: name, Kind: ErrNotImplemented,
				Detail: "the host provides callbacks but the plugin is not a tether plugin"}
		}
		c.chosen = map[string]int{}
		for _, w := range o.wants {
			if !slices.Contains(w.Versions, protocol) {
				conn.Close()
				return nil, &VersionError{Plugin: name, Interface: w.Interface, HostVersions: w.Versions, PluginVersions: []int{protocol}}
			}
			c.chosen[w.Interface] = protocol
		}
		c.startStdio(o)
	default:
		conn.Close()
		e := &PluginError{Plugin: name, Kind: ErrNotPlugin, Detail: "it accepted no gRPC connection", Err: err}
		if ctx.Err() != nil {
			e.Kind, e.Detail = ErrStartTimeout, "it accepted no gRPC connection in time"
		}
		return nil, e
	}
	return c, nil
}

// lead: host side of sessions. newSession returns a new host session id:
// 128 random bits as 32 lowercase hex characters.
func newSession() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// lead: host side of sessions. sessionUnary and sessionStream send the
// session id with every call.
func sessionUnary(id string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(metadata.AppendToOutgoingContext(ctx, SessionMetadataKey, id), method, req, reply, cc, opts...)
	}
}

func sessionStream(id string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(metadata.AppendToOutgoingContext(ctx, SessionMetadataKey, id), desc, cc, method, opts...)
	}
}

// negotiate picks the highest version shared per interface asked for.
func (c *Client) negotiate(wants []Want) error {
	served := map[string][]int{}
	for _, in := range c.describe.Interfaces {
		served[in.Name] = append(served[in.Name], int(in.Version))
	}
	c.chosen = map[string]int{}
	for name, vs := range served {
		c.chosen[name] = slices.Max(vs)
	}
	for _, w := range wants {
		v := highestShared(w.Versions, served[w.Interface])
		if v == 0 {
			return &VersionError{Plugin: c.name, Interface: w.Interface, HostVersions: w.Versions, PluginVersions: served[w.Interface]}
		}
		c.chosen[w.Interface] = v
	}
	return nil
}

func (c *Client) startStdio(o *options) {
	ctx, cancel := context.WithCancel(context.Background())
	c.stopStdio = cancel
	stream, err := goplugin.StreamStdio(ctx, c.conn)
	if err != nil {
		return
	}
	go func() {
		for {
			d, err := stream.Recv()
			if err != nil {
				return
			}
			switch {
			case d.Channel == tetherv1.StdioData_STDOUT && o.stdout != nil:
				_, _ = o.stdout.Write(d.Data)
			case d.Channel == tetherv1.StdioData_STDOUT:
				c.log.Info(string(d.Data), "stream", "stdout")
			case c.proc != nil:
				c.proc.stderr.Line(string(d.Data))
			default:
				c.log.Debug(string(d.Data), "stream", "stderr")
			}
		}
	}()
}

// Name is the plugin's name in logs and errors.
func (c *Client) Name() string { return c.name }

// Conn is the gRPC connection to the plugin. Generated gRPC clients accept
// it directly; Dispense is the checked way to get one.
func (c *Client) Conn() grpc.ClientConnInterface { return c.conn }

// ProtocolVersion is the negotiated application protocol version.
func (c *Client) ProtocolVersion() int { return c.protocol }

// Version returns the negotiated version of an interface, and false when the
// plugin does not serve it.
func (c *Client) Version(iface string) (int, bool) {
	v, ok := c.chosen[iface]
	return v, ok
}

// Interfaces returns each interface the plugin serves with the version in
// use. For go-plugin plugins it lists what the host asked for.
func (c *Client) Interfaces() map[string]int {
	m := make(map[string]int, len(c.chosen))
	for k, v := range c.chosen {
		m[k] = v
	}
	return m
}

// Handshake is the handshake line the plugin printed when it was launched:
// protocol versions, network, address and, with automatic mutual TLS, its
// certificate. It is the zero HandshakeLine for a plugin the host did not
// launch.
func (c *Client) Handshake() HandshakeLine { return c.hs }

// Pid is the plugin's process id, or 0 when the host did not launch it.
func (c *Client) Pid() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.pid()
}

// Dispense returns a typed client for an interface the plugin serves, built
// by newClient (a generated NewXxxClient function) over the plugin's
// connection. It fails with ErrNotImplemented when the plugin does not serve
// the interface.
func Dispense[C any](c *Client, iface string, newClient func(grpc.ClientConnInterface) C) (C, error) {
	var zero C
	if _, ok := c.chosen[iface]; !ok {
		return zero, &PluginError{Plugin: c.name, Kind: ErrNotImplemented,
			Detail: fmt.Sprintf("it does not serve interface %q", iface)}
	}
	return newClient(c.conn), nil
}

// Ping checks the plugin's health service.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: HealthService})
	if err != nil {
		return err
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("plugin %s: health is %v", c.name, resp.Status)
	}
	return nil
}

// Exited is closed when the plugin process has exited and been reaped, and
// its socket directory removed. For a plugin the host did not launch it is
// never closed.
func (c *Client) Exited() <-chan struct{} {
	if c.proc == nil {
		return nil
	}
	return c.proc.exited
}

// ExitError describes how the plugin exited, or is nil while it runs.
func (c *Client) ExitError() error {
	if c.proc == nil || !c.proc.hasExited() {
		return nil
	}
	return c.exitError("")
}

func (c *Client) exitError(detail string) *PluginError {
	e := &PluginError{Plugin: c.name, Kind: ErrPluginExited, Detail: detail,
		Exited: c.proc.hasExited(), ExitCode: c.proc.exitCode(), Output: c.proc.stderr.Tail()}
	if e.ExitCode < 0 {
		e.Err = c.proc.waitErr // "signal: killed", which ExitCode -1 does not say
	}
	return e
}

// Kill stops the plugin: it asks the plugin's controller to shut down, waits,
// then sends SIGTERM, waits, then SIGKILL, each wait bounded by the kill
// timeout, and reaps the process. It closes the connection in any case and
// is safe to call more than once.
func (c *Client) Kill(ctx context.Context) error {
	c.closeOnce.Do(func() { c.closeErr = c.kill_(ctx) })
	return c.closeErr
}

// Close is Kill with a background context; it makes Client an io.Closer.
func (c *Client) Close() error { return c.Kill(context.Background()) }

var _ io.Closer = (*Client)(nil)

func (c *Client) kill_(ctx context.Context) error {
	if c.stopStdio != nil {
		defer c.stopStdio()
	}
	if c.callbacks != nil {
		c.callbacks.close()
	}
	if c.proc == nil {
		return c.conn.Close()
	}
	if !c.proc.hasExited() {
		sctx, cancel := context.WithTimeout(ctx, c.kill)
		err := goplugin.Shutdown(sctx, c.conn)
		cancel()
		if err == nil {
			c.proc.waitExit(c.kill)
		}
	}
	c.conn.Close()
	c.proc.terminate(c.kill)
	return nil
}

// unaryErrors and streamErrors turn call failures into typed errors: a call
// to a method the plugin lacks wraps ErrNotImplemented; a call that fails
// because the plugin died wraps ErrPluginExited with its exit status and
// last stderr lines.
func (c *Client) unaryErrors(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil {
		return c.typedError(ctx, method, err)
	}
	return nil
}

func (c *Client) streamErrors(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, c.typedError(ctx, method, err)
	}
	return &typedStream{ClientStream: s, c: c, ctx: ctx, method: method}, nil
}

// typedStream types the errors of a streaming call. They surface on the
// receiving side: a method the plugin lacks, or the plugin dying mid-stream.
type typedStream struct {
	grpc.ClientStream
	c      *Client
	ctx    context.Context
	method string
}

func (s *typedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil && err != io.EOF {
		return s.c.typedError(s.ctx, s.method, err)
	}
	return err
}

func (c *Client) typedError(ctx context.Context, method string, err error) error {
	switch status.Code(err) {
	case codes.Unimplemented:
		return &callError{&PluginError{Plugin: c.name, Kind: ErrNotImplemented,
			Detail: "method " + method, Err: err}, err}
	case codes.Unavailable, codes.Canceled, codes.Internal:
		// The caller's own cancellation or deadline is not the plugin's
		// doing: do not make it wait to find out whether the plugin died.
		if ctx.Err() == nil && c.proc != nil && c.connectionLost() && c.proc.waitExit(callExitWait) {
			e := c.exitError("during call " + method)
			if e.Err == nil {
				e.Err = err
			}
			return &callError{e, err}
		}
	}
	return err
}

// connectionLost tells a dropped connection from a plugin that answered
// with an error itself: the connection leaves READY soon after its transport
// breaks, and stays READY otherwise.
func (c *Client) connectionLost() bool {
	if c.proc.hasExited() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), connLostWait)
	defer cancel()
	for state := c.conn.GetState(); state == connectivity.Ready; state = c.conn.GetState() {
		if !c.conn.WaitForStateChange(ctx, state) {
			return c.proc.hasExited()
		}
	}
	return true
}

// connLostWait bounds how long a call that failed with an error the plugin
// may have sent itself waits to see the connection drop.
const connLostWait = 100 * time.Millisecond

// callExitWait is how long a call failing with a connection error waits
// to learn whether the plugin exited (the process exit is reported a little
// after the connection drops, later still on a loaded machine). A plugin
// that itself answers Unavailable, Canceled or Internal costs its caller
// connLostWait, not this wait.
const callExitWait = time.Second

// callError is the *PluginError of a failed call (errors.As finds it) that
// keeps the call's gRPC status visible to status.FromError and status.Code.
type callError struct {
	*PluginError
	status error // the call's own error
}

func (e *callError) Unwrap() error { return e.PluginError }

func (e *callError) GRPCStatus() *status.Status { return status.Convert(e.status) }

package tether

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver/manual"

	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// Client is a host's handle on one loaded plugin: one logical gRPC
// connection to however many instances its runtime reports (one launched
// process, a restarted one on a new socket, several replicas), the versions
// negotiated with the first instance, and the runtime that runs them.
//
// What Dispense returns keeps working when the runtime replaces an instance:
// the connection's resolver is fed the new endpoint, which is described and
// admitted before it receives calls.
type Client struct {
	name    string
	target  Target
	opts    *options
	log     *slog.Logger
	session string // the host session id, sent with every call when the host provides callbacks
	// sessionMD is the outgoing metadata of a call that brings none: the
	// session id, built once (see outgoing).
	sessionMD metadata.MD

	conn      *grpc.ClientConn
	res       *manual.Resolver
	admission *admission
	dials     dialProgress // how far connections got, for a start that times out
	runtime   Runtime

	// Set once, by the first admitted instance, before Open returns;
	// fitMu orders that before later instances' checks.
	fitMu    sync.Mutex
	protocol int
	describe *tetherv1.DescribeResponse // nil for go-plugin plugins
	chosen   map[string]int
	first    Endpoint

	callbacks *callbackHost
	fast      *fastRouter // nil when the host does not use the fast transport

	endOnce sync.Once
	ended   chan struct{}
	endErr  error

	// reflected caches what server reflection said (see Implements).
	reflectMu    sync.Mutex
	reflected    map[string][]string
	reflectedAll map[string]bool

	closeOnce sync.Once
	closeErr  error

	observed observation // what WithObserver's observers attached (observe.go)
	life     lifecycle   // exits and restarts, for Restarts
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newClient builds the client's connection; nothing is dialled until the
// runtime reports endpoints.
func newClient(name string, t Target, o *options, b RuntimeBuilder) (*Client, error) {
	sc, err := serviceConfigJSON(o.retries)
	if err != nil {
		return nil, badTarget(t.Raw, err.Error(), nil)
	}
	c := &Client{name: name, target: t, opts: o, log: o.logger.With("plugin", name),
		session: newSessionID(), ended: make(chan struct{})}
	if len(o.callbacks) > 0 {
		c.sessionMD = metadata.Pairs(SessionMetadataKey, c.session)
	}
	fast, why, err := o.fastWanted()
	if err != nil {
		return nil, badTarget(t.Raw, err.Error(), nil)
	}
	if why != "" {
		c.log.Info("fast transport off: calls use gRPC", "reason", why)
	}
	if fast {
		c.fast = newFastRouter(c)
	}
	c.admission = newAdmission(admissionHooks{plugin: name, log: c.log, describeTimeout: o.startTimeout,
		describe: c.describeInstance, admitted: c.startInstanceExtras, changed: c.fast.rebuild,
		refused: c.instanceRefused})
	c.res = manual.NewBuilderWithScheme("tether")
	c.res.InitialState(c.admission.update(nil))
	o = c.observe(o)
	// The host's own options come first: its interceptors then run outside
	// tether's (they see typed errors), and tether's transport options
	// (resolver, dialer, credentials, balancer) are the ones that apply.
	// The runtime's defaults come before them, so the host's win.
	var dialOpts []grpc.DialOption
	if d, ok := b.(RuntimeDialOptions); ok {
		dialOpts = d.DialOptions()
	}
	dialOpts = append(append(append(dialOpts, o.tracing.dialOptions()...), o.dialOptions...),
		grpc.WithChainUnaryInterceptor(o.unaryInts...),
		grpc.WithChainStreamInterceptor(o.streamInts...),
		grpc.WithResolvers(c.res),
		grpc.WithContextDialer(c.dials.dialEndpoint),
		grpc.WithTransportCredentials(perEndpointCreds{&c.dials}),
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithIdleTimeout(0), // the instances' connections are the runtime's to end
		grpc.WithChainUnaryInterceptor(c.unaryErrors),
		grpc.WithChainStreamInterceptor(c.streamErrors),
	)
	conn, err := grpc.NewClient("tether:///"+name, dialOpts...)
	if err != nil {
		c.observedClosed()
		return nil, &PluginError{Plugin: name, Kind: ErrHost, Detail: "could not set up its connection", Err: err}
	}
	c.conn = conn
	conn.Connect()
	return c, nil
}

// updateEndpoints feeds the runtime's endpoints to the connection.
func (c *Client) updateEndpoints(eps []Endpoint) {
	c.fast.prepare(eps) // fast connections come up beside the gRPC ones
	c.dials.setDialers(eps)
	c.life.update(eps)
	state := c.admission.update(eps)
	// Take removed instances out of rotation now: the connection applies
	// the new addresses a moment later.
	c.admission.doRefresh()
	c.res.UpdateState(state)
}

// sink is the client's EndpointSink, what it gives its runtime.
type sink struct{ c *Client }

func (s sink) UpdateEndpoints(eps []Endpoint) { s.c.updateEndpoints(eps) }

func (s sink) Ended(err error) {
	s.c.endOnce.Do(func() {
		s.c.endErr = err
		close(s.c.ended)
	})
	s.c.admission.end(err)
}

// outgoing adds the session id to a call's metadata. A call that brings no
// outgoing metadata of its own (most calls) gets the client's sessionMD,
// shared read-only by every call as gRPC's metadata contract allows: two
// allocations per call instead of AppendToOutgoingContext's four. A call
// with metadata gets a copy of it with the session id appended.
func (c *Client) outgoing(ctx context.Context) context.Context {
	if c.sessionMD == nil {
		return ctx // no callbacks offered: nothing for a plugin to route
	}
	md, ok := metadata.FromOutgoingContext(ctx) // a copy, or nil without allocating
	if !ok {
		return metadata.NewOutgoingContext(ctx, c.sessionMD)
	}
	md.Append(SessionMetadataKey, c.session)
	return metadata.NewOutgoingContext(ctx, md)
}

// Name is the plugin's name in logs and errors.
func (c *Client) Name() string { return c.name }

// Target is the target the plugin was loaded from.
func (c *Client) Target() Target { return c.target }

// Conn is the gRPC connection to the plugin. Generated gRPC clients accept
// it directly; Dispense is the checked way to get one.
// Its calls go over the fast local transport when the plugin offers it
// (see WithTransport), over gRPC otherwise.
func (c *Client) Conn() grpc.ClientConnInterface {
	if c.fast == nil {
		return c.conn
	}
	return calls{c}
}

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

// Instances lists the plugin's instances as the client knows them now: which
// take calls, and why the others do not.
func (c *Client) Instances() []InstanceInfo { return c.admission.instances() }

// Handshake is the handshake line the first instance printed when it was
// launched. It is the zero HandshakeLine for a plugin the host did not
// launch.
func (c *Client) Handshake() HandshakeLine {
	if h, ok := c.first.Instance.(HandshakeReporter); ok {
		return h.Handshake()
	}
	return HandshakeLine{}
}

// Pid is the process id of an instance taking calls (the first one found),
// or 0 when the host runs no local process for the plugin.
func (c *Client) Pid() int {
	for _, in := range c.admission.instances() {
		if in.Instance != nil && in.Instance.Pid() != 0 && (in.Admitted || in.Instance.ExitError() == nil) {
			return in.Instance.Pid()
		}
	}
	return 0
}

// Dispense returns a typed client for an interface the plugin serves, built
// by newClient (a generated NewXxxClient function) over the plugin's
// connection. It fails with ErrNotImplemented when the plugin does not serve
// the interface. The stub keeps working across instance replacements.
func Dispense[C any](c *Client, iface string, newClient func(grpc.ClientConnInterface) C) (C, error) {
	var zero C
	if _, ok := c.chosen[iface]; !ok {
		return zero, &PluginError{Plugin: c.name, Kind: ErrNotImplemented,
			Detail: fmt.Sprintf("it does not serve interface %q", iface)}
	}
	return newClient(c.Conn()), nil
}

// Ping checks the health service of an instance taking calls.
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

// Exited is closed when the plugin has ended for good: its runtime will
// report no more instances (a launched process exited and is not
// restarted, or the client was closed). For a remote plugin it is closed
// only by Kill or Close.
func (c *Client) Exited() <-chan struct{} { return c.ended }

// ExitError describes how the plugin ended, or is nil while it runs.
func (c *Client) ExitError() error {
	select {
	case <-c.ended:
		return c.endErr
	default:
		return nil
	}
}

// Kill stops the plugin: it asks each instance's controller to shut down,
// waits, and has the runtime end what it started (for a launched process:
// SIGTERM, wait, SIGKILL to its process group, each wait bounded by the kill
// timeout, and the process reaped). It closes the connection in any case and
// is safe to call more than once. A Client from Attach only disconnects:
// the plugin is not its to stop. It returns nil once everything is gone;
// an error wrapping ctx's when ctx ended first (what the runtime started is
// then killed without grace), or the runtime's own failure.
func (c *Client) Kill(ctx context.Context) error {
	c.closeOnce.Do(func() { c.closeErr = c.shutdown(ctx) })
	return c.closeErr
}

// Close is Kill with a background context; it makes Client an io.Closer.
func (c *Client) Close() error { return c.Kill(context.Background()) }

var _ io.Closer = (*Client)(nil)

func (c *Client) shutdown(ctx context.Context) error {
	if c.callbacks != nil {
		c.callbacks.close()
	}
	var err error
	if c.runtime != nil {
		err = c.runtime.Close(ctx, c.stopInstance)
	}
	sink{c}.Ended(nil)
	c.fast.closeAll()
	c.admission.stopAll()
	c.observedClosed()
	if cerr := c.conn.Close(); err == nil && cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("plugin %s: kill: %w", c.name, err)
	}
	return nil
}

// disconnect closes the client's side only: callbacks, streams and the
// connection, leaving the runtime's instances as they are.
func (c *Client) disconnect() error {
	if c.callbacks != nil {
		c.callbacks.close()
	}
	sink{c}.Ended(nil)
	c.fast.closeAll()
	c.admission.stopAll()
	c.observedClosed()
	return c.conn.Close()
}

// stopInstance asks one instance's controller to shut down.
func (c *Client) stopInstance(ctx context.Context, ep Endpoint) error {
	return goplugin.Shutdown(pinTo(ctx, ep.key()), c.conn)
}

package tether

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tetherplug/tether/internal/fastrpc"
	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// Implementation is one version of one interface a plugin serves: the name
// and version hosts ask for, and a function that registers the gRPC services
// making up that version.
type Implementation struct {
	Interface string
	Version   int
	Register  func(grpc.ServiceRegistrar)
}

// Implement is shorthand for an Implementation.
func Implement(iface string, version int, register func(grpc.ServiceRegistrar)) Implementation {
	return Implementation{Interface: iface, Version: version, Register: register}
}

// ServeConfig describes a plugin program. The zero value plus at least one
// Implementation is a working plugin.
type ServeConfig struct {
	// Handshake must match the host's. The zero value is the default.
	Handshake HandshakeConfig
	// ProtocolVersions lists every application protocol version served; the
	// highest one the host also offers is chosen. Empty means just
	// Handshake.ProtocolVersion.
	ProtocolVersions []int
	// Name is how the plugin names itself in Describe; optional.
	Name string
	// Implementations are the interfaces and versions the plugin serves.
	Implementations []Implementation
	// Logger receives tether's own messages. Nil means Logger(), JSON on
	// stderr, which the host re-levels into its own logger.
	Logger *slog.Logger
	// GRPCOptions are passed to grpc.NewServer. They apply to gRPC only,
	// and cannot be read back: a plugin given any serves no fast transport
	// (it logs so), and its hosts call it over gRPC.
	GRPCOptions []grpc.ServerOption
	// UnaryInterceptors and StreamInterceptors intercept the calls the
	// plugin serves, on both transports, in the order given (the first is
	// outermost).
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor
	// ShutdownTimeout bounds a graceful stop before in-flight calls are cut
	// off. Zero means 2 seconds.
	ShutdownTimeout time.Duration
	// Host, if set, is how the plugin's handlers call services the host
	// provides (callbacks). See HostConn.
	Host *HostConn
	// TracerProvider and Propagator, when either is set, trace the calls
	// the plugin serves and its callbacks (otelgrpc, both transports); a
	// nil TracerProvider is OpenTelemetry's global one, a nil Propagator
	// W3C Trace Context and Baggage. Left nil, Serve sets tracing up from
	// the environment (OTEL_* variables, EnvTracing): see
	// docs/observability.md.
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	// NoReflection leaves gRPC server reflection out, for a plugin that
	// does not publish its schema: hosts do not need it (Describe lists
	// every method), but tools such as tether call and grpcurl then need
	// the plugin's .proto files (tether call --proto).
	NoReflection bool
}

func (c ServeConfig) versions() []int {
	vs := slices.Clone(c.ProtocolVersions)
	if len(vs) == 0 {
		vs = []int{c.Handshake.withDefaults().ProtocolVersion}
	}
	slices.Sort(vs)
	slices.Reverse(vs)
	return vs
}

// Server is the plugin side of tether: a gRPC server carrying the plugin's
// interfaces and the services every plugin serves (health, controller, stdio,
// reflection and tether's Describe). Serve uses one for launched plugins;
// network plugins use one directly with their own listener.
type Server struct {
	grpc     *grpc.Server
	fast     *fastrpc.Server // nil when the fast transport cannot be offered
	noFast   string          // why fast is nil
	health   *health.Server
	describe *tetherv1.DescribeResponse
	timeout  time.Duration
	log      *slog.Logger
	host     *HostConn
	metrics  *serverMetrics // nil when off

	stopOnce sync.Once
	shutdown chan struct{} // closed when a host asks the plugin to shut down
	drain    sync.Once
	draining chan struct{} // closed when the server starts stopping
}

// AcceptedKeepalive is the keepalive policy of every tether plugin's server:
// it accepts a host's pings every 10 seconds or more, with or without calls
// in flight.
var AcceptedKeepalive = keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}

// NewServer builds a Server from cfg. Extra gRPC server options (such as
// credentials) are appended to cfg.GRPCOptions.
func NewServer(cfg ServeConfig, opts ...grpc.ServerOption) *Server {
	log := cfg.Logger
	if log == nil {
		log = Logger()
	}
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	metrics := newServerMetrics()
	cfg = metrics.intercept(cfg) // outermost, on both transports
	host := cfg.Host
	if host == nil {
		host = NewHostConn()
	}
	// Hosts of network plugins ping idle connections every 30 s (see the
	// network package); grpc-go's default policy would close them for it.
	// The host's options come after, so they may say otherwise.
	tr := cfg.tracing()
	host.setTracing(tr)
	gopts := append(append([]grpc.ServerOption{grpc.KeepaliveEnforcementPolicy(AcceptedKeepalive),
		grpc.ChainUnaryInterceptor(cfg.UnaryInterceptors...), grpc.ChainStreamInterceptor(cfg.StreamInterceptors...)},
		tr.serverOptions()...), cfg.GRPCOptions...)
	gs := grpc.NewServer(append(gopts, opts...)...)
	s := &Server{
		grpc:     gs,
		health:   health.NewServer(),
		timeout:  timeout,
		log:      log,
		shutdown: make(chan struct{}),
		draining: make(chan struct{}),
		host:     host,
		metrics:  metrics,
		describe: &tetherv1.DescribeResponse{Name: cfg.Name, TetherProtocol: 1, Features: []string{FeatureCallbacks}},
	}
	for _, v := range cfg.versions() {
		s.describe.ProtocolVersions = append(s.describe.ProtocolVersions, uint32(v))
	}
	s.fast, s.noFast = newFastServer(cfg, tr)
	both := registrars{gs}
	if s.fast != nil {
		both = append(both, s.fast)
	}
	rec := &recordingRegistrar{server: both, registered: map[string]bool{}}
	for _, impl := range cfg.Implementations {
		rec.services = nil
		impl.Register(rec)
		s.describe.Interfaces = append(s.describe.Interfaces, &tetherv1.Interface{
			Name: impl.Interface, Version: uint32(impl.Version), Services: rec.services,
		})
	}
	metrics.count(s.describe.Interfaces)
	healthpb.RegisterHealthServer(both, drainingHealth{Server: s.health, draining: s.draining})
	s.health.SetServingStatus(HealthService, healthpb.HealthCheckResponse_SERVING)
	goplugin.RegisterController(both, controller{s: s})
	tetherv1.RegisterPluginServer(both, describer{s: s})
	// On gRPC alone (grpcOnlyServices, which hosts route by): go-plugin's
	// stdio stream, the callback tunnels and reflection.
	goplugin.RegisterStdio(gs, stdio{s: s})
	tetherv1.RegisterCallbacksServer(gs, callbackServer{host: host})
	if !cfg.NoReflection {
		goplugin.RegisterReflection(gs)
	}
	return s
}

// GRPCServer returns the underlying gRPC server, for registering services
// outside any interface.
func (s *Server) GRPCServer() *grpc.Server { return s.grpc }

// Health is the plugin's grpc.health.v1 server. A plugin may report
// itself (service "") or one of its services NOT_SERVING while it cannot
// do its work; hosts of network plugins then send it no new calls until it
// is SERVING again (see docs/network.md). On Stop every service turns
// NOT_SERVING for good.
func (s *Server) Health() *health.Server { return s.health }

// Host is the plugin's connection to its hosts' callback services.
func (s *Server) Host() *HostConn { return s.host }

// Serve accepts connections on lis until Stop or a host's Shutdown.
func (s *Server) Serve(lis net.Listener) error { return s.grpc.Serve(lis) }

// ShutdownRequested is closed when a host asked the plugin to shut down
// through the controller service.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdown }

// Stop stops gracefully: it marks the health service NOT_SERVING, ends the
// callback tunnels and lets in-flight calls finish for up to the configured
// shutdown timeout. Then it closes every connection, cancelling the calls
// still running, and returns at most handlerGrace later even when handlers
// ignore their context and never return.
func (s *Server) Stop() { s.stop(nil) }

// stop is Stop, cut short (no more graceful wait) when abort is closed.
func (s *Server) stop(abort <-chan struct{}) {
	s.health.Shutdown()
	s.drain.Do(func() { close(s.draining) }) // health watches and stdio streams end
	s.host.closeAll()
	// GracefulStop returns when every handler has returned, even after the
	// Stop that aborts it: done tells when nothing runs any more.
	done := make(chan struct{})
	fastCtx, fastAbort := context.WithCancel(context.Background())
	defer fastAbort()
	go func() {
		var wg sync.WaitGroup
		if s.fast != nil {
			wg.Go(func() { _ = s.fast.Stop(fastCtx) })
		}
		s.grpc.GracefulStop()
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
		s.log.Warn("graceful stop timed out; closing connections", "timeout_seconds", s.timeout.Seconds())
	case <-abort:
	}
	s.grpc.Stop()
	fastAbort()
	select {
	case <-done:
	case <-time.After(handlerGrace):
		s.log.Warn("handlers still running after their calls were cancelled; not waiting for them", "waited_seconds", handlerGrace.Seconds())
	}
}

// handlerGrace is how long a stop that cancelled the calls in flight waits
// for their handlers to return before it returns anyway: enough for a
// handler that watches its context to clean up and log, and short enough
// for a plugin to be gone well within 2 s of its host.
const handlerGrace = 250 * time.Millisecond

// recordingRegistrar registers services and records their names and methods
// for Describe. A service registered by several implementations (one
// service in two interface versions) is registered once.
type recordingRegistrar struct {
	server     grpc.ServiceRegistrar
	registered map[string]bool
	services   []*tetherv1.Service
}

func (r *recordingRegistrar) RegisterService(sd *grpc.ServiceDesc, impl any) {
	if !r.registered[sd.ServiceName] {
		r.server.RegisterService(sd, impl)
		r.registered[sd.ServiceName] = true
	}
	svc := &tetherv1.Service{Name: sd.ServiceName}
	for _, m := range sd.Methods {
		svc.Methods = append(svc.Methods, m.MethodName)
	}
	for _, st := range sd.Streams {
		svc.Methods = append(svc.Methods, st.StreamName)
	}
	r.services = append(r.services, svc)
}

// controller serves go-plugin's controller service: Shutdown.
type controller struct {
	s *Server
}

func (c controller) Shutdown(context.Context, *tetherv1.ControllerEmpty) (*tetherv1.ControllerEmpty, error) {
	c.s.stopOnce.Do(func() { close(c.s.shutdown) })
	return &tetherv1.ControllerEmpty{}, nil
}

// stdio serves go-plugin's stdio stream. A tether plugin leaves its real
// stdout and stderr alone (the host reads them directly), so the stream
// carries nothing and ends when the plugin stops.
type stdio struct {
	s *Server
}

func (st stdio) StreamStdio(_ *emptypb.Empty, stream grpc.ServerStreamingServer[tetherv1.StdioData]) error {
	select {
	case <-stream.Context().Done():
	case <-st.s.shutdown:
	case <-st.s.draining:
	}
	return nil
}

type describer struct {
	tetherv1.UnimplementedPluginServer
	s *Server
}

func (d describer) Describe(context.Context, *tetherv1.DescribeRequest) (*tetherv1.DescribeResponse, error) {
	return d.s.describe, nil
}

// drainingHealth is grpc-go's health server whose Watch streams end (status
// OK) once the server stops and the watcher has been sent a status other
// than SERVING. Without this, a host watching health (client-side health
// checking does) would keep a graceful stop waiting for its stream until
// the shutdown timeout, although every call had finished.
type drainingHealth struct {
	*health.Server
	draining <-chan struct{} // closed when the server starts stopping
}

func (h drainingHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	ws := &watchStream{Health_WatchServer: stream, ctx: ctx, changed: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- h.Server.Watch(req, ws) }()
	select {
	case err := <-done:
		return err
	case <-h.draining:
	}
	for !ws.final() {
		select {
		case err := <-done:
			return err
		case <-ws.changed:
		}
	}
	cancel()
	<-done
	return nil
}

// watchStream is a Watch stream that remembers the last status sent.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx     context.Context
	changed chan struct{} // a status was sent

	mu   sync.Mutex
	sent bool
	last healthpb.HealthCheckResponse_ServingStatus
}

func (w *watchStream) Context() context.Context { return w.ctx }

func (w *watchStream) Send(r *healthpb.HealthCheckResponse) error {
	err := w.Health_WatchServer.Send(r)
	if err == nil {
		w.mu.Lock()
		w.sent, w.last = true, r.GetStatus()
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
	return err
}

// final reports whether the watcher was told something other than SERVING.
func (w *watchStream) final() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent && w.last != healthpb.HealthCheckResponse_SERVING
}

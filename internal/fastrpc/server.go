package fastrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// ServerOption configures a Server.
type ServerOption func(*serverOptions)

type serverOptions struct {
	maxRecv, maxSend int
	maxStreams       int
	unary            []grpc.UnaryServerInterceptor
	stream           []grpc.StreamServerInterceptor
	stats            stats.Handler
}

// WithServerMaxRecvMsgSize sets the largest message the server accepts
// (default DefaultMaxMsgSize); a larger one fails the call with
// ResourceExhausted and leaves the connection up.
func WithServerMaxRecvMsgSize(n int) ServerOption { return func(o *serverOptions) { o.maxRecv = n } }

// WithServerMaxSendMsgSize sets the largest message the server sends
// (default DefaultMaxMsgSize).
func WithServerMaxSendMsgSize(n int) ServerOption { return func(o *serverOptions) { o.maxSend = n } }

// WithMaxConcurrentStreams bounds the calls in flight on one connection
// (default 1024); calls beyond it fail with ResourceExhausted.
func WithMaxConcurrentStreams(n int) ServerOption { return func(o *serverOptions) { o.maxStreams = n } }

// WithUnaryInterceptors adds unary server interceptors; the first given is
// the outermost, as with grpc.ChainUnaryInterceptor.
func WithUnaryInterceptors(is ...grpc.UnaryServerInterceptor) ServerOption {
	return func(o *serverOptions) { o.unary = append(o.unary, is...) }
}

// WithStreamInterceptors adds stream server interceptors; the first given is
// the outermost, as with grpc.ChainStreamInterceptor.
func WithStreamInterceptors(is ...grpc.StreamServerInterceptor) ServerOption {
	return func(o *serverOptions) { o.stream = append(o.stream, is...) }
}

// ErrServerStopped is returned by Serve once Stop or Close was called.
var ErrServerStopped = errors.New("fastrpc: the server was stopped")

// Server serves services registered as on a grpc.Server (it is a
// grpc.ServiceRegistrar, so generated RegisterXxxServer functions work) over
// the fastrpc framing.
type Server struct {
	opts     serverOptions
	unary    grpc.UnaryServerInterceptor
	stream   grpc.StreamServerInterceptor
	services map[string]*service
	workers  *workers

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*serverTransport]struct{}
	stopping  bool
	closed    bool
	handlers  sync.WaitGroup // calls in flight
	readers   sync.WaitGroup // connection reader goroutines
}

type service struct {
	impl    any
	methods map[string]*grpc.MethodDesc
	streams map[string]*grpc.StreamDesc
}

var _ grpc.ServiceRegistrar = (*Server)(nil)

// NewServer returns a Server with no services.
func NewServer(opts ...ServerOption) *Server {
	s := &Server{
		opts:      serverOptions{maxRecv: DefaultMaxMsgSize, maxSend: DefaultMaxMsgSize, maxStreams: 1024},
		services:  map[string]*service{},
		listeners: map[net.Listener]struct{}{},
		conns:     map[*serverTransport]struct{}{},
		workers:   newWorkers(),
	}
	for _, o := range opts {
		o(&s.opts)
	}
	s.unary = chainUnary(s.opts.unary)
	s.stream = chainStream(s.opts.stream)
	return s
}

// RegisterService registers a service and its implementation; like
// grpc.Server it panics on a duplicate or on an implementation that does not
// satisfy desc.HandlerType, and must be called before Serve.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	if _, dup := s.services[desc.ServiceName]; dup {
		panic(fmt.Sprintf("fastrpc: service %s registered twice", desc.ServiceName))
	}
	if err := checkImpl(desc, impl); err != nil {
		panic(err)
	}
	svc := &service{impl: impl, methods: map[string]*grpc.MethodDesc{}, streams: map[string]*grpc.StreamDesc{}}
	for i := range desc.Methods {
		svc.methods[desc.Methods[i].MethodName] = &desc.Methods[i]
	}
	for i := range desc.Streams {
		svc.streams[desc.Streams[i].StreamName] = &desc.Streams[i]
	}
	s.services[desc.ServiceName] = svc
}

// lookup splits "/pkg.Service/Method" and finds its handler.
func (s *Server) lookup(full string) (*service, *grpc.MethodDesc, *grpc.StreamDesc, string) {
	name, method, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok || !strings.HasPrefix(full, "/") {
		return nil, nil, nil, fmt.Sprintf("malformed method name: %q", full)
	}
	svc := s.services[name]
	if svc == nil {
		return nil, nil, nil, fmt.Sprintf("unknown service %s", name)
	}
	if md := svc.methods[method]; md != nil {
		return svc, md, nil, ""
	}
	if sd := svc.streams[method]; sd != nil {
		return svc, nil, sd, ""
	}
	return nil, nil, nil, fmt.Sprintf("unknown method %s for service %s", method, name)
}

// Serve accepts connections on lis until Stop or Close, and returns
// ErrServerStopped then, or the listener's error.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		_ = lis.Close()
		return ErrServerStopped
	}
	s.listeners[lis] = struct{}{}
	s.mu.Unlock()
	for {
		nc, err := lis.Accept()
		if err != nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			delete(s.listeners, lis)
			if s.stopping {
				return ErrServerStopped
			}
			return err
		}
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			_ = nc.Close()
			continue
		}
		t := newServerTransport(s, nc)
		s.conns[t] = struct{}{}
		s.readers.Add(1)
		s.mu.Unlock()
		go t.serve()
	}
}

func (s *Server) removeConn(t *serverTransport) {
	s.mu.Lock()
	delete(s.conns, t)
	s.mu.Unlock()
	s.readers.Done()
}

// Stop stops accepting, tells every client to open no new calls here, waits
// for the calls in flight until ctx ends, then closes everything. It
// returns ctx's error when calls were still running.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	s.closeListeners()
	conns := make([]*serverTransport, 0, len(s.conns))
	for t := range s.conns {
		conns = append(conns, t)
	}
	s.mu.Unlock()
	for _, t := range conns {
		t.goAway()
	}
	drained := make(chan struct{})
	go func() { s.handlers.Wait(); close(drained) }()
	var err error
	select {
	case <-drained:
		// The drained calls' last frames may still wait behind a write.
		for _, t := range conns {
			t.flushed(ctx)
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Close()
	return err
}

// Close closes the listeners and connections at once; calls in flight see
// their context canceled and their clients codes.Unavailable. It waits for
// the connections' readers, not for handlers.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.workers.stop()
	}
	s.stopping = true
	s.closeListeners()
	for t := range s.conns {
		t.close(ErrServerStopped)
	}
	s.mu.Unlock()
	s.readers.Wait()
}

func (s *Server) closeListeners() {
	for l := range s.listeners {
		_ = l.Close()
	}
}

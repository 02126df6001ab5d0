package metrics

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
)

// maxUnknownMethods bounds, per client, the methods counted under their
// own name while the plugin has answered them nothing but Unimplemented:
// a caller of tether serve can name any method, and each would be a
// series. Calls to more such methods count under method="other".
const maxUnknownMethods = 16

// otherMethod is the method label of calls beyond maxUnknownMethods.
const otherMethod = "other"

// numCodes is the number of gRPC codes, OK to Unauthenticated.
const numCodes = int(codes.Unauthenticated) + 1

// clientMetrics counts one client's calls. Its series, cached per method
// and code so that a call costs no label lookup, are the Collector's,
// shared by the clients of one plugin name.
type clientMetrics struct {
	m      *Collector
	c      *tether.Client
	plugin string

	methods sync.Map // method name → *methodMetrics
	// Guarded by m.mu: closed (no series are made for a closed client, so
	// that a late call does not bring back what its close removed), and
	// unknown, the methods labelled while only Unimplemented came back.
	closed  bool
	unknown int
}

// methodMetrics are one method's series.
type methodMetrics struct {
	duration prometheus.Observer
	calls    [numCodes]atomic.Pointer[prometheus.Counter]
	name     string
}

// refused counts a refused instance.
func (cm *clientMetrics) refused(err error) {
	cm.m.mu.Lock()
	defer cm.m.mu.Unlock()
	if !cm.closed {
		cm.m.refusals.WithLabelValues(cm.plugin, refusalReason(err)).Inc()
	}
}

func (cm *clientMetrics) close() { cm.m.forget(cm) }

// record counts a call that ended with code after it started at start.
func (cm *clientMetrics) record(method string, code codes.Code, start time.Time) {
	mm := cm.method(method, code)
	if mm == nil {
		return
	}
	mm.duration.Observe(time.Since(start).Seconds())
	if int(code) < numCodes {
		if c := mm.calls[code].Load(); c != nil {
			(*c).Inc()
			return
		}
	}
	cm.m.mu.Lock()
	defer cm.m.mu.Unlock()
	if cm.closed {
		return
	}
	c := cm.m.calls.WithLabelValues(cm.plugin, mm.name, code.String())
	if int(code) < numCodes {
		mm.calls[code].Store(&c)
	}
	c.Inc()
}

// method returns the series of a method, made at its first call; nil once
// the client is closed.
func (cm *clientMetrics) method(method string, code codes.Code) *methodMetrics {
	if mm, ok := cm.methods.Load(method); ok {
		return mm.(*methodMetrics)
	}
	cm.m.mu.Lock()
	defer cm.m.mu.Unlock()
	if cm.closed {
		return nil
	}
	if mm, ok := cm.methods.Load(method); ok {
		return mm.(*methodMetrics)
	}
	name := method
	if code == codes.Unimplemented {
		if cm.unknown >= maxUnknownMethods {
			name = otherMethod
		} else {
			cm.unknown++
		}
	}
	mm := &methodMetrics{name: name, duration: cm.m.duration.WithLabelValues(cm.plugin, name)}
	if name != otherMethod {
		cm.methods.Store(method, mm)
	}
	return mm
}

// codeOf is the gRPC code of a call's error; the caller's own cancellation
// or deadline counts as Canceled or DeadlineExceeded.
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	code := status.Code(err)
	if code == codes.Unknown {
		switch {
		case errors.Is(err, context.Canceled):
			return codes.Canceled
		case errors.Is(err, context.DeadlineExceeded):
			return codes.DeadlineExceeded
		}
	}
	return code
}

// unary counts a unary call.
func (cm *clientMetrics) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoke(ctx, method, req, reply, cc, opts...)
	cm.record(method, codeOf(err), start)
	return err
}

// stream counts a streaming call when it ends: at its status, or when its
// context ends first.
func (cm *clientMetrics) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	start := time.Now()
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		cm.record(method, codeOf(err), start)
		return nil, err
	}
	ms := &countedStream{ClientStream: s, cm: cm, method: method, start: start, oneReply: !desc.ServerStreams}
	ms.stop = context.AfterFunc(ctx, func() { ms.finish(codeOf(ctx.Err())) })
	return ms, nil
}

// countedStream counts its call once, when it ends.
type countedStream struct {
	grpc.ClientStream
	cm       *clientMetrics
	method   string
	start    time.Time
	oneReply bool // the call ends with its first reply
	stop     func() bool
	done     atomic.Bool
}

func (s *countedStream) finish(code codes.Code) {
	if s.done.CompareAndSwap(false, true) {
		s.stop()
		s.cm.record(s.method, code, s.start)
	}
}

// SendMsg counts the call when sending fails for another reason than its
// end (whose status RecvMsg gives).
func (s *countedStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && err != io.EOF {
		s.finish(codeOf(err))
	}
	return err
}

// RecvMsg counts the call at its status.
func (s *countedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		if s.oneReply {
			s.finish(codes.OK)
		}
	case err == io.EOF:
		s.finish(codes.OK)
	default:
		s.finish(codeOf(err))
	}
	return err
}

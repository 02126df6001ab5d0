package kube

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
)

// A call that finds no instance fails with tether.ErrUnavailable, whose Err
// is the client's last connection error: at 0 replicas, a stale
// "connection refused" from a pod that is gone. The runtime knows better
// (the Service lists no ready endpoint): its interceptors, outside the
// client's, put a *NoEndpointsError in its place. They find the runtime
// by the plugin's name, the one its errors carry.

// following holds the loaded kube runtimes by plugin name.
var following struct {
	sync.Mutex
	byName map[string]map[*runtime]bool
}

// track records (on) or forgets a loaded runtime.
func track(r *runtime, on bool) {
	following.Lock()
	defer following.Unlock()
	if following.byName == nil {
		following.byName = map[string]map[*runtime]bool{}
	}
	set := following.byName[r.env.Name]
	switch {
	case on && set == nil:
		following.byName[r.env.Name] = map[*runtime]bool{r: true}
	case on:
		set[r] = true
	default:
		delete(set, r)
		if len(set) == 0 {
			delete(following.byName, r.env.Name)
		}
	}
}

// noEndpoints is the error of the Service of plugin name when every loaded
// runtime of that name follows a Service that lists no ready endpoint, nil
// otherwise.
func noEndpoints(name string) *NoEndpointsError {
	following.Lock()
	defer following.Unlock()
	var e *NoEndpointsError
	for r := range following.byName[name] {
		if len(r.follow.addresses()) > 0 {
			return nil
		}
		e = &NoEndpointsError{Service: r.name, Namespace: r.ns, Desired: -1}
	}
	return e
}

// explain puts the Service's lack of ready endpoints in place of the cause
// of an ErrUnavailable call error, when that is why.
func explain(err error) error {
	var pe *tether.PluginError
	if err == nil || !errors.As(err, &pe) || pe.Kind != tether.ErrUnavailable {
		return err
	}
	ne := noEndpoints(pe.Plugin)
	if ne == nil {
		return err
	}
	cp := *pe
	cp.Err = ne
	return &callError{PluginError: &cp, status: err}
}

// callError is an explained call error that keeps the call's gRPC status.
type callError struct {
	*tether.PluginError
	status error
}

func (e *callError) Unwrap() error { return e.PluginError }

// GRPCStatus is the call's own status (codes.Unavailable).
func (e *callError) GRPCStatus() *status.Status { return status.Convert(e.status) }

func explainUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return explain(invoker(ctx, method, req, reply, cc, opts...))
}

func explainStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, explain(err)
	}
	return explainedStream{s}, nil
}

// explainedStream explains the errors a stream's receiving side returns.
type explainedStream struct{ grpc.ClientStream }

func (s explainedStream) RecvMsg(m any) error { return explain(s.ClientStream.RecvMsg(m)) }

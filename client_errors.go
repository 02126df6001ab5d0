package tether

import (
	"context"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// unaryErrors and streamErrors add the host's session id to every call and
// turn call failures into typed errors: a call to a method the plugin lacks
// wraps ErrNotImplemented; a call that fails because the plugin died wraps
// ErrPluginExited with its exit status and last stderr lines (ErrUnavailable
// when the runtime is replacing it); a call that found no instance wraps
// ErrUnavailable.
func (c *Client) unaryErrors(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if c.opts.waitForReady {
		opts = append(opts, grpc.WaitForReady(true))
	}
	err := invoker(c.outgoing(ctx), method, req, reply, cc, opts...)
	if err != nil {
		return c.typedError(ctx, method, err)
	}
	return nil
}

func (c *Client) streamErrors(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if c.opts.waitForReady {
		opts = append(opts, grpc.WaitForReady(true))
	}
	s, err := streamer(c.outgoing(ctx), desc, cc, method, opts...)
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
	lost   func() bool // whether its connection dropped; nil: the gRPC connection's
}

func (s *typedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil && err != io.EOF {
		return s.c.typedErrorOn(s.ctx, s.method, err, s.lost)
	}
	return err
}

// typedError types the error of a call over the gRPC connection.
func (c *Client) typedError(ctx context.Context, method string, err error) error {
	return c.typedErrorOn(ctx, method, err, nil)
}

// typedErrorOn types the error of a call; lost reports whether the call's
// connection dropped (nil: the gRPC connection's state tells).
func (c *Client) typedErrorOn(ctx context.Context, method string, err error, lost func() bool) error {
	code := status.Code(err)
	switch code {
	case codes.Unimplemented:
		return &callError{&PluginError{Plugin: c.name, Kind: ErrNotImplemented, Detail: "method " + method, Err: err}, err}
	case codes.Unavailable, codes.Canceled, codes.Internal:
		// The caller's own cancellation or deadline is not the plugin's
		// doing: do not make it wait to find out whether the plugin died.
		if ctx.Err() != nil {
			return err
		}
		if strings.HasPrefix(status.Convert(err).Message(), noInstanceMessage) {
			// The call went nowhere: the balancer had no instance for it.
			if pe, ok := c.ExitError().(*PluginError); ok {
				e := *pe
				e.Detail = "call " + method + " after the plugin ended"
				return &callError{&e, err}
			}
			return &callError{&PluginError{Plugin: c.name, Kind: ErrUnavailable, Detail: "call " + method,
				Err: c.unavailable()}, err}
		}
		if lost == nil {
			lost = c.connectionLost
		}
		if e := c.exitDuringCall(method, err, lost); e != nil {
			return &callError{e, err}
		}
		if code == codes.Unavailable && !c.admission.anyAdmitted() {
			return &callError{&PluginError{Plugin: c.name, Kind: ErrUnavailable, Detail: "call " + method,
				Err: c.unavailable()}, err}
		}
	}
	return err
}

// unavailable is why no instance takes calls: the runtime's own reason
// (UnavailableExplainer) when it has one, else the admission's.
func (c *Client) unavailable() error {
	if u, ok := c.runtime.(UnavailableExplainer); ok {
		if err := u.Unavailable(); err != nil {
			return err
		}
	}
	return c.admission.unavailable()
}

// exitDuringCall returns the exit of an instance that ended while the call
// was in flight, waiting a little for it when the connection dropped (the
// exit is reported shortly after the socket closes), or nil.
func (c *Client) exitDuringCall(method string, callErr error, lost func() bool) *PluginError {
	eps := c.admission.exitable()
	if len(eps) == 0 {
		return nil
	}
	if ep, ok := firstExited(eps, 0); ok {
		return c.exitError(ep, method, callErr)
	}
	if !lost() {
		return nil
	}
	if ep, ok := firstExited(eps, callExitWait); ok {
		return c.exitError(ep, method, callErr)
	}
	return nil
}

// exitError is the error of a call cut off by an instance's exit.
func (c *Client) exitError(ep Endpoint, method string, callErr error) *PluginError {
	inst := ep.Instance
	var e PluginError
	if pe, ok := inst.ExitError().(*PluginError); ok {
		e = *pe
	} else {
		e = PluginError{Plugin: c.name, Kind: ErrPluginExited, Err: inst.ExitError()}
	}
	e.Detail = "during call " + method
	if e.Err == nil {
		e.Err = callErr
	}
	if ep.Replaceable && !c.admission.hasEnded() {
		// The runtime is bringing up another instance: the call may be
		// retried, which is what ErrUnavailable says.
		e.Kind, e.Detail = ErrUnavailable, "its instance exited during call "+method+"; the runtime is replacing it"
	}
	return &e
}

// firstExited waits up to d for the instance of one of eps to exit.
func firstExited(eps []Endpoint, d time.Duration) (Endpoint, bool) {
	for _, ep := range eps {
		select {
		case <-ep.Instance.Exited():
			return ep, true
		default:
		}
	}
	if d <= 0 {
		return Endpoint{}, false
	}
	found := make(chan Endpoint, len(eps))
	stop := make(chan struct{})
	defer close(stop)
	for _, ep := range eps {
		go func() {
			select {
			case <-ep.Instance.Exited():
				found <- ep
			case <-stop:
			}
		}()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case ep := <-found:
		return ep, true
	case <-t.C:
		return Endpoint{}, false
	}
}

// connectionLost tells a dropped connection from a plugin that answered
// with an error itself: the connection leaves READY soon after its transport
// breaks, and stays READY otherwise.
func (c *Client) connectionLost() bool {
	ctx, cancel := context.WithTimeout(context.Background(), connLostWait)
	defer cancel()
	for state := c.conn.GetState(); state == connectivity.Ready; state = c.conn.GetState() {
		if !c.conn.WaitForStateChange(ctx, state) {
			return false
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

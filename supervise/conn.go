package supervise

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
)

// Conn is a grpc.ClientConnInterface to one supervised instance, whatever
// incarnation of it runs: pass it to generated NewXxxClient functions. See
// Supervisor.Conn.
type Conn struct{ in *instance }

// Invoke makes a unary call on the current incarnation.
func (c *Conn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	cl, err := c.current(ctx, opts)
	if err != nil {
		return err
	}
	return cl.Conn().Invoke(ctx, method, args, reply, opts...)
}

// NewStream starts a streaming call on the current incarnation.
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cl, err := c.current(ctx, opts)
	if err != nil {
		return nil, err
	}
	return cl.Conn().NewStream(ctx, desc, method, opts...)
}

// current returns the running incarnation, waiting for one if the call
// asked for wait-for-ready.
func (c *Conn) current(ctx context.Context, opts []grpc.CallOption) (*tether.Client, error) {
	wait := false
	for _, o := range opts {
		if ff, ok := o.(grpc.FailFastCallOption); ok {
			wait = !ff.FailFast
		}
	}
	for {
		c.in.mu.Lock()
		cl, up, state, why := c.in.client, c.in.up, c.in.state, c.in.lastErr
		c.in.mu.Unlock()
		if cl != nil {
			return cl, nil
		}
		if !wait {
			return nil, unavailable(c.in.spec.Name, state, why)
		}
		select {
		case <-up:
		case <-c.in.done:
			return nil, unavailable(c.in.spec.Name, StateStopped, why)
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
}

// unavailableError is the error of a call made while no incarnation runs:
// a *tether.PluginError wrapping tether.ErrUnavailable, with gRPC status
// Unavailable.
type unavailableError struct{ *tether.PluginError }

func (e unavailableError) Unwrap() error { return e.PluginError }

func (e unavailableError) GRPCStatus() *status.Status {
	return status.New(codes.Unavailable, e.Error())
}

func unavailable(name string, state State, why error) error {
	return unavailableError{&tether.PluginError{Plugin: name, Kind: tether.ErrUnavailable,
		Detail: "the instance is " + string(state), Err: why}}
}

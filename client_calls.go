package tether

import (
	"context"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/fastrpc"
)

// calls is the plugin's connection as Conn and Dispense give it: each call
// goes over the fast transport when an admitted instance offers it, over
// gRPC otherwise, with the same metadata, interceptors and typed errors.
type calls struct{ c *Client }

var _ grpc.ClientConnInterface = calls{}

// Invoke performs a unary call.
func (k calls) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	c := k.c
	f := c.fast.pick(ctx, method)
	if f == nil || forcesCodec(opts) {
		return c.conn.Invoke(ctx, method, args, reply, opts...)
	}
	if len(c.opts.unaryInts) == 0 {
		return c.invokeFast(ctx, f, method, args, reply, opts)
	}
	invoke := func(ctx context.Context, method string, args, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		return c.invokeFast(ctx, f, method, args, reply, opts)
	}
	for i := len(c.opts.unaryInts) - 1; i >= 0; i-- {
		in, next := c.opts.unaryInts[i], invoke
		invoke = func(ctx context.Context, method string, args, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
			return in(ctx, method, args, reply, cc, next, opts...)
		}
	}
	return invoke(ctx, method, args, reply, nil, opts...)
}

// NewStream opens a streaming call.
func (k calls) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c := k.c
	f := c.fast.pick(ctx, method)
	if f == nil || forcesCodec(opts) {
		return c.conn.NewStream(ctx, desc, method, opts...)
	}
	stream := func(ctx context.Context, desc *grpc.StreamDesc, _ *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return c.newFastStream(ctx, f, desc, method, opts)
	}
	for i := len(c.opts.streamInts) - 1; i >= 0; i-- {
		in, next := c.opts.streamInts[i], stream
		stream = func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return in(ctx, desc, cc, method, next, opts...)
		}
	}
	return stream(ctx, desc, nil, method, opts...)
}

func (c *Client) invokeFast(ctx context.Context, f *fastrpc.ClientConn, method string, args, reply any, opts []grpc.CallOption) error {
	if err := f.Invoke(c.outgoing(ctx), method, args, reply, opts...); err != nil {
		return c.typedErrorOn(ctx, method, err, f.Down)
	}
	return nil
}

func (c *Client) newFastStream(ctx context.Context, f *fastrpc.ClientConn, desc *grpc.StreamDesc, method string, opts []grpc.CallOption) (grpc.ClientStream, error) {
	s, err := f.NewStream(c.outgoing(ctx), desc, method, opts...)
	if err != nil {
		return nil, c.typedErrorOn(ctx, method, err, f.Down)
	}
	return &typedStream{ClientStream: s, c: c, ctx: ctx, method: method, lost: f.Down}, nil
}

// forcesCodec reports a call that brings its own codec (tether serve's
// proxy passes frames through undecoded): the fast transport speaks
// protobuf alone, so such calls go over gRPC.
func forcesCodec(opts []grpc.CallOption) bool {
	for _, o := range opts {
		switch o.(type) {
		case grpc.ForceCodecCallOption, grpc.ForceCodecV2CallOption, grpc.CustomCodecCallOption:
			return true
		}
	}
	return false
}

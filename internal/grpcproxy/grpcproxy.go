// Package grpcproxy is a transparent gRPC proxy: a grpc.Server whose every
// call, whatever its method and shape (unary, client, server or
// bidirectional streams), is forwarded as raw frames over one upstream
// grpc.ClientConnInterface, with no knowledge of the services. Metadata
// passes both ways (headers and trailers), and so do deadlines,
// cancellation and the upstream's status with its details.
//
// Hooks change what reaches the upstream: methods the proxy answers itself
// (Config.Answer) and methods it refuses (Config.Refuse).
package grpcproxy

import (
	"context"
	"errors"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Config says where a Proxy forwards calls and which it handles itself.
type Config struct {
	// Upstream is the connection every forwarded call goes over. Required.
	Upstream grpc.ClientConnInterface
	// Answer maps full method names ("/pkg.Service/Method") to handlers the
	// proxy runs instead of forwarding. A handler's stream takes and gives
	// generated protobuf messages as an ordinary server stream does.
	Answer map[string]grpc.StreamHandler
	// Refuse maps full method names to why they are refused: such a call
	// fails with codes.PermissionDenied and that reason, and never reaches
	// the upstream.
	Refuse map[string]string
}

// Proxy forwards the calls of a server to its upstream.
type Proxy struct {
	cfg Config
}

// New returns a Proxy for cfg. It fails when cfg has no upstream, or a
// method is both answered and refused.
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("grpcproxy: no upstream connection")
	}
	for m := range cfg.Answer {
		if _, ok := cfg.Refuse[m]; ok {
			return nil, errors.New("grpcproxy: method " + m + " is both answered and refused")
		}
	}
	return &Proxy{cfg: cfg}, nil
}

// ServerOptions are the options that make a grpc.Server forward to the
// proxy's upstream: pass them to grpc.NewServer with any others (transport
// credentials, keepalive). The server must have no services registered.
func (p *Proxy) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.UnknownServiceHandler(p.handle), grpc.ForceServerCodec(Codec{})}
}

// NewServer is grpc.NewServer with the proxy's options and opts.
func (p *Proxy) NewServer(opts ...grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(p.ServerOptions(), opts...)...)
}

// handle runs one call: answered, refused, or forwarded.
func (p *Proxy) handle(srv any, down grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(down)
	if !ok {
		return status.Error(codes.Internal, "grpcproxy: call without a method")
	}
	if h, ok := p.cfg.Answer[method]; ok {
		return h(srv, down)
	}
	if why, ok := p.cfg.Refuse[method]; ok {
		return status.Error(codes.PermissionDenied, "the proxy refuses "+method+": "+why)
	}
	return forward(p.cfg.Upstream, method, down)
}

// Frame is one message, carried as the bytes it was on the wire.
type Frame struct{ Data []byte }

// Codec passes Frames through as bytes, and encodes other protobuf
// messages as the proto codec does (for answered methods). It is named
// "proto" so that both sides see the content type they expect.
type Codec struct{}

// Marshal returns a Frame's bytes, or a message's encoding.
func (Codec) Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case *Frame:
		return m.Data, nil
	case proto.Message:
		return proto.Marshal(m)
	}
	return nil, status.Errorf(codes.Internal, "grpcproxy: cannot marshal %T", v)
}

// Unmarshal keeps a copy of data in a Frame, or decodes it into a message.
func (Codec) Unmarshal(data []byte, v any) error {
	switch m := v.(type) {
	case *Frame:
		m.Data = append(m.Data[:0], data...)
		return nil
	case proto.Message:
		return proto.Unmarshal(data, m)
	}
	return status.Errorf(codes.Internal, "grpcproxy: cannot unmarshal into %T", v)
}

// Name is "proto".
func (Codec) Name() string { return "proto" }

var _ encoding.Codec = Codec{}

// bidi is the shape every forwarded call takes upstream: gRPC's wire format
// is the same for all four, and the shapes' rules are the endpoints'.
var bidi = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// forward relays one call of any shape to upstream.
func forward(upstream grpc.ClientConnInterface, method string, down grpc.ServerStream) error {
	ctx, cancel := context.WithCancel(down.Context()) // carries the caller's deadline and cancellation
	defer cancel()
	in, _ := metadata.FromIncomingContext(ctx)
	out := metadata.MD{}
	for k, vs := range in {
		if !hopHeader(k) {
			out[k] = vs
		}
	}
	up, err := upstream.NewStream(metadata.NewOutgoingContext(ctx, out), bidi, method, grpc.ForceCodec(Codec{}))
	if err != nil {
		return passStatus(err)
	}
	go func() {
		// Ends when the caller half-closes, or when ctx ends (the call's
		// end cancels it, which makes down.RecvMsg return).
		_ = pump(down.RecvMsg, up.SendMsg, up.CloseSend)
	}()
	if md, err := up.Header(); err == nil && len(md) > 0 {
		if err := down.SendHeader(md); err != nil {
			return err
		}
	}
	err = pump(up.RecvMsg, down.SendMsg, func() error { return nil })
	down.SetTrailer(up.Trailer())
	return passStatus(err)
}

// hopHeader reports whether a metadata key belongs to one hop only:
// HTTP/2 pseudo-headers, and what gRPC sets on each connection itself.
func hopHeader(k string) bool {
	switch k {
	case "content-type", "user-agent", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding":
		return true
	}
	return strings.HasPrefix(k, ":")
}

// passStatus is the upstream's error as the status it carried (code,
// message and details as they came), or nil.
func passStatus(err error) error {
	if err == nil {
		return nil
	}
	return status.Convert(err).Err()
}

// pump copies messages from recv to send until recv ends; at io.EOF it
// calls done and returns nil.
func pump(recv, send func(any) error, done func() error) error {
	for {
		f := &Frame{}
		if err := recv(f); err != nil {
			if errors.Is(err, io.EOF) {
				return done()
			}
			return err
		}
		if err := send(f); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the other side ended; its status comes from RecvMsg
			}
			return err
		}
	}
}

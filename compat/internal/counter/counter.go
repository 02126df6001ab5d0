// Package counter is the interface of the broker tests, in the shape of
// go-plugin's examples/bidirectional: a Counter plugin whose Put adds to a
// stored value through the host's AddHelper service, which the plugin
// reaches through go-plugin's broker (the host passes its broker id in the
// call). Share goes the other way: the plugin serves a brokered Counter
// and returns its id for the host to Dial.
//
// The services are described by hand over protobuf's well-known types, so
// the tests need no generated code.
package counter

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ProtocolVersion and the magic cookie of the counter application.
const (
	ProtocolVersion = 1
	CookieKey       = "COUNTER_PLUGIN"
	CookieValue     = "7d1c0b5e"
)

// Handshake is the counter application's handshake in go-plugin's terms.
var Handshake = plugin.HandshakeConfig{ProtocolVersion: ProtocolVersion, MagicCookieKey: CookieKey, MagicCookieValue: CookieValue}

// Counter is what the plugin serves.
type Counter interface {
	// Put sets key to value plus what key held, the sum computed by the
	// host's AddHelper served on broker id addServer; it returns the sum.
	Put(ctx context.Context, key string, value int64, addServer uint32) (int64, error)
	// Get returns what key holds.
	Get(ctx context.Context, key string) (int64, error)
	// Share serves a Counter of the same store on a new broker id and
	// returns the id.
	Share(ctx context.Context) (uint32, error)
}

// AddHelper is what the host serves the plugin through the broker.
type AddHelper interface {
	Sum(ctx context.Context, a, b int64) (int64, error)
}

// Service names.
const (
	CounterService   = "counter.Counter"
	AddHelperService = "counter.AddHelper"
)

// RegisterCounter registers impl as the Counter service on s.
func RegisterCounter(s grpc.ServiceRegistrar, impl Counter) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: CounterService,
		HandlerType: (*Counter)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Put", Handler: unary(newStruct, func(ctx context.Context, in *structpb.Struct) (*wrapperspb.Int64Value, error) {
				f := in.GetFields()
				v, err := impl.Put(ctx, f["key"].GetStringValue(), int64(f["value"].GetNumberValue()), uint32(f["add_server"].GetNumberValue()))
				return wrapperspb.Int64(v), err
			})},
			{MethodName: "Get", Handler: unary(func() *wrapperspb.StringValue { return new(wrapperspb.StringValue) }, func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.Int64Value, error) {
				v, err := impl.Get(ctx, in.GetValue())
				return wrapperspb.Int64(v), err
			})},
			{MethodName: "Share", Handler: unary(func() *emptypb.Empty { return new(emptypb.Empty) }, func(ctx context.Context, _ *emptypb.Empty) (*wrapperspb.UInt32Value, error) {
				id, err := impl.Share(ctx)
				return wrapperspb.UInt32(id), err
			})},
		},
	}, impl)
}

func newStruct() *structpb.Struct { return new(structpb.Struct) }

// RegisterAddHelper registers impl as the AddHelper service on s.
func RegisterAddHelper(s grpc.ServiceRegistrar, impl AddHelper) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: AddHelperService,
		HandlerType: (*AddHelper)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Sum", Handler: unary(newStruct, func(ctx context.Context, in *structpb.Struct) (*wrapperspb.Int64Value, error) {
				f := in.GetFields()
				v, err := impl.Sum(ctx, int64(f["a"].GetNumberValue()), int64(f["b"].GetNumberValue()))
				return wrapperspb.Int64(v), err
			})},
		},
	}, impl)
}

// unary makes a method handler of a typed function.
func unary[Req proto.Message, Resp proto.Message](newReq func() Req, f func(context.Context, Req) (Resp, error)) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		in := newReq()
		if err := dec(in); err != nil {
			return nil, err
		}
		return f(ctx, in)
	}
}

// CounterClient calls a Counter over cc.
type CounterClient struct{ CC grpc.ClientConnInterface }

// Put calls Counter/Put.
func (c CounterClient) Put(ctx context.Context, key string, value int64, addServer uint32) (int64, error) {
	in, err := structpb.NewStruct(map[string]any{"key": key, "value": value, "add_server": addServer})
	if err != nil {
		return 0, err
	}
	out := new(wrapperspb.Int64Value)
	err = c.CC.Invoke(ctx, "/"+CounterService+"/Put", in, out)
	return out.GetValue(), err
}

// Get calls Counter/Get.
func (c CounterClient) Get(ctx context.Context, key string) (int64, error) {
	out := new(wrapperspb.Int64Value)
	err := c.CC.Invoke(ctx, "/"+CounterService+"/Get", wrapperspb.String(key), out)
	return out.GetValue(), err
}

// Share calls Counter/Share.
func (c CounterClient) Share(ctx context.Context) (uint32, error) {
	out := new(wrapperspb.UInt32Value)
	err := c.CC.Invoke(ctx, "/"+CounterService+"/Share", &emptypb.Empty{}, out)
	return out.GetValue(), err
}

// AddHelperClient calls an AddHelper over cc.
type AddHelperClient struct{ CC grpc.ClientConnInterface }

// Sum calls AddHelper/Sum.
func (c AddHelperClient) Sum(ctx context.Context, a, b int64) (int64, error) {
	in, err := structpb.NewStruct(map[string]any{"a": a, "b": b})
	if err != nil {
		return 0, err
	}
	out := new(wrapperspb.Int64Value)
	err = c.CC.Invoke(ctx, "/"+AddHelperService+"/Sum", in, out)
	return out.GetValue(), err
}

// NewCounterClient returns a Counter client over cc, as a generated
// NewXxxClient function does.
func NewCounterClient(cc grpc.ClientConnInterface) CounterClient { return CounterClient{CC: cc} }

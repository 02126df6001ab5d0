// Command gpcounter is a go-plugin gRPC plugin in the shape of go-plugin's
// examples/bidirectional, for tether's broker tests: Counter.Put dials the
// host's AddHelper through go-plugin's broker, and Counter.Share serves a
// brokered Counter for the host to dial.
//
// With COUNTER_HIDE_MULTIPLEX=1 it behaves as a plugin built on go-plugin
// older than v1.6: it never sees PLUGIN_MULTIPLEX_GRPC, so it neither
// multiplexes nor says it can.
//
// With COUNTER_ANNOUNCE=network,address it announces every listener of its
// broker at that address instead of its own (a plugin announcing an
// address outside its private directory or off this machine), for the
// host's refusal of it.
package main

import (
	"context"
	"os"
	"strings"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tetherplug/tether/compat/internal/counter"
)

// store is the plugin's Counter.
type store struct {
	broker *plugin.GRPCBroker
	mu     sync.Mutex
	values map[string]int64
}

func (s *store) Put(ctx context.Context, key string, value int64, addServer uint32) (int64, error) {
	conn, err := s.broker.Dial(addServer)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	sum, err := counter.AddHelperClient{CC: conn}.Sum(ctx, s.values[key], value)
	if err != nil {
		return 0, err
	}
	s.values[key] = sum
	return sum, nil
}

func (s *store) Get(_ context.Context, key string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values[key], nil
}

func (s *store) Share(context.Context) (uint32, error) {
	id := s.broker.NextId()
	go s.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		srv := grpc.NewServer(opts...)
		counter.RegisterCounter(srv, s)
		return srv
	})
	return id, nil
}

// counterPlugin is the go-plugin Plugin of the Counter interface.
type counterPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (counterPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	counter.RegisterCounter(s, &store{broker: b, values: map[string]int64{}})
	return nil
}

func (counterPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return counter.CounterClient{CC: c}, nil
}

func main() {
	if os.Getenv("COUNTER_HIDE_MULTIPLEX") == "1" {
		_ = os.Unsetenv("PLUGIN_MULTIPLEX_GRPC")
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: counter.Handshake,
		Plugins:         map[string]plugin.Plugin{"counter": counterPlugin{}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			if network, address, ok := strings.Cut(os.Getenv("COUNTER_ANNOUNCE"), ","); ok {
				opts = append(opts, grpc.StreamInterceptor(announceAt(network, address)))
			}
			return plugin.DefaultGRPCServer(opts)
		},
	})
}

// announceAt rewrites the address of each listener the plugin's broker
// announces on its stream (a plugin.ConnInfo with an address) to network
// and address.
func announceAt(network, address string) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if info.FullMethod != "/plugin.GRPCBroker/StartStream" {
			return h(srv, ss)
		}
		return h(srv, &rewritingStream{ServerStream: ss, network: network, address: address})
	}
}

// rewritingStream is a broker stream whose announcements it rewrites.
type rewritingStream struct {
	grpc.ServerStream
	network, address string
}

func (s *rewritingStream) SendMsg(m any) error {
	if pm, ok := m.(proto.Message); ok {
		r := pm.ProtoReflect()
		fields := r.Descriptor().Fields()
		addr := fields.ByName("address")
		if addr != nil && r.Get(addr).String() != "" {
			r.Set(fields.ByName("network"), protoreflect.ValueOfString(s.network))
			r.Set(addr, protoreflect.ValueOfString(s.address))
		}
	}
	return s.ServerStream.SendMsg(m)
}

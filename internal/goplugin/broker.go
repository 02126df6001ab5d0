package goplugin

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

// go-plugin's broker service, plugin.GRPCBroker: one bidirectional stream
// (StartStream) per connection, opened by the host, on which each side
// announces the brokered connections it accepts (classic mode) or knocks
// before it opens one (multiplexed mode).
const (
	BrokerService     = "plugin.GRPCBroker"
	BrokerFile        = "plugin/grpc_broker.proto"
	StartStreamMethod = "/" + BrokerService + "/StartStream"
)

// ConnInfo is go-plugin's plugin.ConnInfo, one message of the broker
// stream. It is encoded by hand (connInfoCodec), field for field as
// go-plugin's generated code encodes it, so that no proto name of
// go-plugin's is registered (see the package comment).
type ConnInfo struct {
	ServiceID uint32 // the brokered connection's id (go-plugin's service_id)
	// Network and Address are where a classic-mode connection is to be
	// dialled: "unix" and a socket path, or "tcp" and host:port.
	Network, Address string
	// Knock is set in multiplexed mode only.
	Knock *Knock
}

// Knock is go-plugin's plugin.ConnInfo.Knock: a side that is about to open
// a multiplexed stream for an id knocks (Knock), and the side accepting it
// acknowledges (Knock and Ack), with Error set when it has no listener for
// the id.
type Knock struct {
	Knock, Ack bool
	Error      string
}

// BrokerStreamDesc describes StartStream for grpc.ClientConnInterface.NewStream.
var BrokerStreamDesc = grpc.StreamDesc{StreamName: "StartStream", ServerStreams: true, ClientStreams: true}

// StartStream opens plugin.GRPCBroker/StartStream on cc. The stream lives
// until ctx ends or the connection closes.
func StartStream(ctx context.Context, cc grpc.ClientConnInterface, opts ...grpc.CallOption) (grpc.BidiStreamingClient[ConnInfo, ConnInfo], error) {
	opts = append(opts, grpc.ForceCodec(connInfoCodec{}))
	stream, err := cc.NewStream(ctx, &BrokerStreamDesc, StartStreamMethod, opts...)
	if err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[ConnInfo, ConnInfo]{ClientStream: stream}, nil
}

// connInfoCodec encodes ConnInfo as protobuf. Its name is "proto", so the
// call's content type is the usual application/grpc+proto.
type connInfoCodec struct{}

func (connInfoCodec) Name() string { return "proto" }

func (connInfoCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(*ConnInfo)
	if !ok {
		return nil, fmt.Errorf("goplugin: broker codec cannot marshal %T", v)
	}
	return m.marshal(), nil
}

func (connInfoCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(*ConnInfo)
	if !ok {
		return fmt.Errorf("goplugin: broker codec cannot unmarshal into %T", v)
	}
	*m = ConnInfo{}
	return m.unmarshal(data)
}

// marshal encodes m as go-plugin's plugin.ConnInfo: proto3, zero values
// left out.
func (m *ConnInfo) marshal() []byte {
	var b []byte
	if m.ServiceID != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.ServiceID))
	}
	b = appendString(b, 2, m.Network)
	b = appendString(b, 3, m.Address)
	if m.Knock != nil {
		var k []byte
		k = appendBool(k, 1, m.Knock.Knock)
		k = appendBool(k, 2, m.Knock.Ack)
		k = appendString(k, 3, m.Knock.Error)
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, k)
	}
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBool(b []byte, num protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

// unmarshal decodes a plugin.ConnInfo, skipping fields it does not know.
func (m *ConnInfo) unmarshal(b []byte) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.ServiceID = uint32(v)
		case num == 2 && typ == protowire.BytesType:
			m.Network = string(raw)
		case num == 3 && typ == protowire.BytesType:
			m.Address = string(raw)
		case num == 4 && typ == protowire.BytesType:
			k := &Knock{}
			if err := k.unmarshal(raw); err != nil {
				return err
			}
			m.Knock = k
		}
		return nil
	})
}

func (k *Knock) unmarshal(b []byte) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			k.Knock = v != 0
		case num == 2 && typ == protowire.VarintType:
			k.Ack = v != 0
		case num == 3 && typ == protowire.BytesType:
			k.Error = string(raw)
		}
		return nil
	})
}

// eachField calls f with each field of a protobuf message: its number and
// wire type, and its value (v for varints, raw for length-delimited
// fields). Other wire types are skipped.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("goplugin: bad ConnInfo: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var v uint64
		var raw []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			raw, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("goplugin: bad ConnInfo field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := f(num, typ, v, raw); err != nil {
			return err
		}
	}
	return nil
}

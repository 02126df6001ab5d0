package goplugin

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// connInfoDescriptor is go-plugin's plugin.ConnInfo as its
// grpc_broker.proto declares it.
func connInfoDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	s := proto.String
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: s(name), JsonName: s(name), Number: proto.Int32(num),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: typ.Enum()}
		if typeName != "" {
			f.TypeName = s(typeName)
		}
		return f
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: s(BrokerFile), Package: s("plugin"), Syntax: s("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: s("ConnInfo"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("service_id", 1, descriptorpb.FieldDescriptorProto_TYPE_UINT32, ""),
				field("network", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				field("address", 3, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				field("knock", 4, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".plugin.ConnInfo.Knock"),
			},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name: s("Knock"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("knock", 1, descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""),
					field("ack", 2, descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""),
					field("error", 3, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				},
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("ConnInfo")
}

// TestConnInfoWire: the hand-written ConnInfo codec reads what protobuf
// writes for go-plugin's plugin.ConnInfo, and protobuf reads what it
// writes, field for field.
func TestConnInfoWire(t *testing.T) {
	md := connInfoDescriptor(t)
	for _, in := range []ConnInfo{
		{},
		{ServiceID: 7, Network: "unix", Address: "/tmp/tether-1/h7-1.sock"},
		{ServiceID: 1 << 31, Knock: &Knock{Knock: true}},
		{ServiceID: 3, Knock: &Knock{Knock: true, Ack: true, Error: "no listener for id 3"}},
		{ServiceID: 4, Knock: &Knock{}},
	} {
		b, err := connInfoCodec{}.Marshal(&in)
		if err != nil {
			t.Fatal(err)
		}
		dyn := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(b, dyn); err != nil {
			t.Fatalf("%+v: protobuf cannot read the codec's bytes: %v", in, err)
		}
		f := md.Fields()
		if got := uint32(dyn.Get(f.ByName("service_id")).Uint()); got != in.ServiceID {
			t.Errorf("%+v: service_id = %d", in, got)
		}
		if dyn.Get(f.ByName("network")).String() != in.Network || dyn.Get(f.ByName("address")).String() != in.Address {
			t.Errorf("%+v: network, address = %v, %v", in, dyn.Get(f.ByName("network")), dyn.Get(f.ByName("address")))
		}
		if has := dyn.Has(f.ByName("knock")); has != (in.Knock != nil) {
			t.Errorf("%+v: knock present = %v", in, has)
		}
		back, err := proto.Marshal(dyn)
		if err != nil {
			t.Fatal(err)
		}
		var out ConnInfo
		if err := (connInfoCodec{}).Unmarshal(back, &out); err != nil {
			t.Fatalf("%+v: the codec cannot read protobuf's bytes: %v", in, err)
		}
		if out.ServiceID != in.ServiceID || out.Network != in.Network || out.Address != in.Address ||
			(out.Knock == nil) != (in.Knock == nil) || (in.Knock != nil && *out.Knock != *in.Knock) {
			t.Errorf("round trip through protobuf: %+v, want %+v", out, in)
		}
	}
	if err := (connInfoCodec{}).Unmarshal([]byte{0x0a, 0x05, 'a'}, &ConnInfo{}); err == nil {
		t.Error("a truncated message decodes without error")
	}
}

package goplugin

import (
	"sync"

	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// files holds the descriptors of go-plugin's controller and stdio proto
// files (package plugin), built on first use (reflection only: a plugin's
// start-up does not pay for them) and never added to
// protoregistry.GlobalFiles.
var files = sync.OnceValue(buildFiles)

// fileProtos describes go-plugin's two files. Field numbers and types match
// go-plugin's, and tether's wire messages in proto/tether/v1/goplugin.proto.
func fileProtos() []*descriptorpb.FileDescriptorProto {
	s := proto.String
	method := func(name, in, out string, serverStreams bool) *descriptorpb.MethodDescriptorProto {
		m := &descriptorpb.MethodDescriptorProto{Name: s(name), InputType: s(in), OutputType: s(out)}
		if serverStreams {
			m.ServerStreaming = proto.Bool(true)
		}
		return m
	}
	field := func(name string, number int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{
			Name:     s(name),
			JsonName: s(name),
			Number:   proto.Int32(number),
			Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			Type:     typ.Enum(),
		}
		if typeName != "" {
			f.TypeName = s(typeName)
		}
		return f
	}
	value := func(name string, number int32) *descriptorpb.EnumValueDescriptorProto {
		return &descriptorpb.EnumValueDescriptorProto{Name: s(name), Number: proto.Int32(number)}
	}
	controller := &descriptorpb.FileDescriptorProto{
		Name:        s(ControllerFile),
		Package:     s("plugin"),
		Syntax:      s("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: s("Empty")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   s("GRPCController"),
			Method: []*descriptorpb.MethodDescriptorProto{method("Shutdown", ".plugin.Empty", ".plugin.Empty", false)},
		}},
	}
	stdio := &descriptorpb.FileDescriptorProto{
		Name:       s(StdioFile),
		Package:    s("plugin"),
		Syntax:     s("proto3"),
		Dependency: []string{"google/protobuf/empty.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: s("StdioData"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("channel", 1, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".plugin.StdioData.Channel"),
				field("data", 2, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
			},
			EnumType: []*descriptorpb.EnumDescriptorProto{{
				Name:  s("Channel"),
				Value: []*descriptorpb.EnumValueDescriptorProto{value("INVALID", 0), value("STDOUT", 1), value("STDERR", 2)},
			}},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   s("GRPCStdio"),
			Method: []*descriptorpb.MethodDescriptorProto{method("StreamStdio", ".google.protobuf.Empty", ".plugin.StdioData", true)},
		}},
	}
	return []*descriptorpb.FileDescriptorProto{controller, stdio}
}

// buildFiles turns fileProtos into a private registry. Its imports
// (google/protobuf/empty.proto) resolve through protoregistry.GlobalFiles.
// The protos are fixed, so an error is a programming mistake.
func buildFiles() *protoregistry.Files {
	reg := new(protoregistry.Files)
	for _, fdp := range fileProtos() {
		fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
		if err != nil {
			panic("goplugin: invalid descriptor " + fdp.GetName() + ": " + err.Error())
		}
		if err := reg.RegisterFile(fd); err != nil {
			panic("goplugin: " + err.Error())
		}
	}
	return reg
}

// resolver finds descriptors in protoregistry.GlobalFiles first and then in
// the private files, so that reflection describes every registered service
// and also go-plugin's. When go-plugin is linked into the same program, its
// own descriptors of the same services are found first; they are equivalent.
type resolver struct{}

func (resolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := protoregistry.GlobalFiles.FindFileByPath(path); err == nil {
		return fd, nil
	}
	return files().FindFileByPath(path)
}

func (resolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := protoregistry.GlobalFiles.FindDescriptorByName(name); err == nil {
		return d, nil
	}
	return files().FindDescriptorByName(name)
}

// RegisterReflection registers gRPC server reflection (grpc.reflection.v1
// and v1alpha, like reflection.Register) on s, listing s's services and
// describing them from the global registry plus go-plugin's controller and
// stdio files.
func RegisterReflection(s reflection.GRPCServer) {
	opts := reflection.ServerOptions{
		Services:           s,
		DescriptorResolver: resolver{},
		ExtensionResolver:  protoregistry.GlobalTypes,
	}
	v1reflectiongrpc.RegisterServerReflectionServer(s, reflection.NewServerV1(opts))
	v1alphareflectiongrpc.RegisterServerReflectionServer(s, reflection.NewServer(opts))
}

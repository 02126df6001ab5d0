package goplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tetherplug/tether/internal/dynamic"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/reflectclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakePlugin records Shutdown calls and streams a fixed stdout and stderr
// chunk.
type fakePlugin struct{ shutdowns chan struct{} }

func (p fakePlugin) Shutdown(context.Context, *tetherv1.ControllerEmpty) (*tetherv1.ControllerEmpty, error) {
	p.shutdowns <- struct{}{}
	return &tetherv1.ControllerEmpty{}, nil
}

func (fakePlugin) StreamStdio(_ *emptypb.Empty, stream grpc.ServerStreamingServer[tetherv1.StdioData]) error {
	for _, d := range []*tetherv1.StdioData{
		{Channel: tetherv1.StdioData_STDOUT, Data: []byte("out\n")},
		{Channel: tetherv1.StdioData_STDERR, Data: []byte("err\n")},
	} {
		if err := stream.Send(d); err != nil {
			return err
		}
	}
	return nil
}

// serve starts a gRPC server on loopback with the controller, stdio and
// reflection services and returns a connection to it and the plugin.
func serve(t *testing.T) (*grpc.ClientConn, fakePlugin) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := fakePlugin{shutdowns: make(chan struct{}, 4)}
	srv := grpc.NewServer()
	RegisterController(srv, p)
	RegisterStdio(srv, p)
	RegisterReflection(srv)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return conn, p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestClientHelpers(t *testing.T) {
	conn, p := serve(t)
	if err := Shutdown(ctx(t), conn); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.shutdowns:
	default:
		t.Fatal("Shutdown returned without the server seeing the call")
	}
	stream, err := StreamStdio(ctx(t), conn)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		d, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.GetChannel().String()+" "+string(d.GetData()))
	}
	if want := []string{"STDOUT out\n", "STDERR err\n"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("StreamStdio gave %q, want %q", got, want)
	}
}

// TestReflection checks what `tether inspect` and `tether call` rely on:
// reflection lists go-plugin's services and describes them with go-plugin's
// names, and calls built from those descriptors reach the handlers.
func TestReflection(t *testing.T) {
	conn, p := serve(t)
	rc, err := reflectclient.New(ctx(t), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	services := strings.Join(rc.Services(), " ")
	for _, want := range []string{ControllerService, StdioService} {
		if !strings.Contains(services, want) {
			t.Errorf("reflection lists %s, missing %s", services, want)
		}
	}
	ctrl, err := rc.Service(ControllerService)
	if err != nil {
		t.Fatal(err)
	}
	shutdown := ctrl.Methods().ByName("Shutdown")
	if shutdown == nil || shutdown.Input().FullName() != "plugin.Empty" || shutdown.Output().FullName() != "plugin.Empty" {
		t.Fatalf("Shutdown = %v, want plugin.Empty in and out", shutdown)
	}
	st, err := rc.Service(StdioService)
	if err != nil {
		t.Fatal(err)
	}
	stream := st.Methods().ByName("StreamStdio")
	if stream == nil || !stream.IsStreamingServer() || stream.IsStreamingClient() ||
		stream.Input().FullName() != "google.protobuf.Empty" || stream.Output().FullName() != "plugin.StdioData" {
		t.Fatalf("StreamStdio = %v, want a server stream of plugin.StdioData for google.protobuf.Empty", stream)
	}

	var out bytes.Buffer
	sink := dynamic.JSONSink(&out, rc.Types(), false, false)
	if err := dynamic.Call(ctx(t), conn, shutdown, dynamic.JSONSource(strings.NewReader("{}"), rc.Types()), sink); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.shutdowns:
	default:
		t.Fatal("a call built from reflection did not reach Shutdown")
	}
	if err := dynamic.Call(ctx(t), conn, stream, dynamic.JSONSource(strings.NewReader("{}"), rc.Types()), sink); err != nil {
		t.Fatal(err)
	}
	want := "{}\n" + `{"channel":"STDOUT","data":"b3V0Cg=="}` + "\n" + `{"channel":"STDERR","data":"ZXJyCg=="}` + "\n"
	if out.String() != want {
		t.Errorf("dynamic calls wrote\n%s\nwant\n%s", out.String(), want)
	}
}

// TestReflectionV1Alpha asks the older reflection service for go-plugin's
// files by symbol and by name. Its messages are v1's on the wire.
func TestReflectionV1Alpha(t *testing.T) {
	conn, _ := serve(t)
	stream, err := conn.NewStream(ctx(t), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true},
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *rpb.ServerReflectionRequest) []string {
		t.Helper()
		if err := stream.SendMsg(req); err != nil {
			t.Fatal(err)
		}
		resp := new(rpb.ServerReflectionResponse)
		if err := stream.RecvMsg(resp); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fdp := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(b, fdp); err != nil {
				t.Fatal(err)
			}
			names = append(names, fdp.GetName())
		}
		return names
	}
	got := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: ControllerService + ".Shutdown"}})
	if len(got) != 1 || got[0] != ControllerFile {
		t.Errorf("file containing Shutdown: %v, want [%s]", got, ControllerFile)
	}
	got = ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileByFilename{FileByFilename: StdioFile}})
	if strings.Join(got, " ") != StdioFile+" google/protobuf/empty.proto" {
		t.Errorf("file %s: %v, want it and google/protobuf/empty.proto", StdioFile, got)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := stream.RecvMsg(new(rpb.ServerReflectionResponse)); !errors.Is(err, io.EOF) {
		t.Errorf("after CloseSend: %v, want EOF", err)
	}
}

// TestDescriptorsMatchWireMessages checks that the private descriptors of
// go-plugin's messages and tether's wire messages encode the same way, and
// that the service descriptions agree with the descriptors.
func TestDescriptorsMatchWireMessages(t *testing.T) {
	pairs := []struct {
		name string
		wire protoreflect.MessageDescriptor
	}{
		{"plugin.Empty", (&tetherv1.ControllerEmpty{}).ProtoReflect().Descriptor()},
		{"plugin.StdioData", (&tetherv1.StdioData{}).ProtoReflect().Descriptor()},
	}
	for _, p := range pairs {
		d, err := files().FindDescriptorByName(protoreflect.FullName(p.name))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := shape(d.(protoreflect.MessageDescriptor)), shape(p.wire); got != want {
			t.Errorf("%s is %s, but %s is %s", p.name, got, p.wire.FullName(), want)
		}
	}
	for _, sd := range []*grpc.ServiceDesc{&ControllerDesc, &StdioDesc} {
		d, err := files().FindDescriptorByName(protoreflect.FullName(sd.ServiceName))
		if err != nil {
			t.Fatal(err)
		}
		svc := d.(protoreflect.ServiceDescriptor)
		if svc.ParentFile().Path() != sd.Metadata {
			t.Errorf("%s: Metadata %v, file %s", sd.ServiceName, sd.Metadata, svc.ParentFile().Path())
		}
		if n := svc.Methods().Len(); n != len(sd.Methods)+len(sd.Streams) {
			t.Errorf("%s: descriptor has %d methods, ServiceDesc %d", sd.ServiceName, n, len(sd.Methods)+len(sd.Streams))
		}
		for _, m := range sd.Methods {
			if md := svc.Methods().ByName(protoreflect.Name(m.MethodName)); md == nil || md.IsStreamingClient() || md.IsStreamingServer() {
				t.Errorf("%s/%s: descriptor %v, want a unary method", sd.ServiceName, m.MethodName, md)
			}
		}
		for _, s := range sd.Streams {
			md := svc.Methods().ByName(protoreflect.Name(s.StreamName))
			if md == nil || md.IsStreamingClient() != s.ClientStreams || md.IsStreamingServer() != s.ServerStreams {
				t.Errorf("%s/%s: descriptor %v, want streams client %v server %v", sd.ServiceName, s.StreamName, md, s.ClientStreams, s.ServerStreams)
			}
		}
	}
}

// shape is what decides a message's encoding: each field's number, name,
// kind and cardinality, and the numbers and names of enum values.
func shape(md protoreflect.MessageDescriptor) string {
	var b strings.Builder
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		fmt.Fprintf(&b, "%d:%s %s %s;", f.Number(), f.Name(), f.Cardinality(), f.Kind())
		if e := f.Enum(); e != nil {
			vals := e.Values()
			for j := range vals.Len() {
				fmt.Fprintf(&b, " %s=%d", vals.Get(j).Name(), vals.Get(j).Number())
			}
			b.WriteString(";")
		}
	}
	return "{" + b.String() + "}"
}

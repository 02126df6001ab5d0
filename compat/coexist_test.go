package compat_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/reflectclient"
	"github.com/tetherplug/tether/tethertest"
)

// conflictVar is the protobuf runtime's switch for name conflicts at
// registration; unset, a conflict panics at start-up.
const conflictVar = "GOLANG_PROTOBUF_REGISTRATION_CONFLICT"

// Both libraries are linked into this test binary.
var _, _ = plugin.Serve, tether.Serve

// TestLinksWithStrictRegistration runs this test binary again with the
// protobuf runtime's strictest conflict policy, which is also its default:
// a program importing both tether and go-plugin must start and run.
func TestLinksWithStrictRegistration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestGoPluginNamesAreGoPlugins$", "-test.v", "-test.count", "1")
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, conflictVar+"=")
	}), conflictVar+"=panic")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestGoPluginNamesAreGoPlugins") {
		t.Fatalf("the test binary with %s=panic: %v\n%s", conflictVar, err, out)
	}
}

// TestGoPluginNamesAreGoPlugins checks that the proto package "plugin" in
// the global registries is go-plugin's alone, and that tether's wire
// messages encode exactly as go-plugin's.
func TestGoPluginNamesAreGoPlugins(t *testing.T) {
	protoregistry.GlobalFiles.RangeFilesByPackage("plugin", func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(fd.Path(), "internal/plugin/") {
			t.Errorf("file %s of package plugin is not go-plugin's", fd.Path())
		}
		return true
	})
	for _, p := range []struct {
		name string
		wire proto.Message
	}{
		{"plugin.Empty", &tetherv1.ControllerEmpty{}},
		{"plugin.StdioData", &tetherv1.StdioData{}},
	} {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(p.name))
		if err != nil {
			t.Fatalf("go-plugin's %s is not registered: %v", p.name, err)
		}
		if got, want := shape(p.wire.ProtoReflect().Descriptor()), shape(mt.Descriptor()); got != want {
			t.Errorf("%T is %s, go-plugin's %s is %s", p.wire, got, p.name, want)
		}
	}

	// Bytes tether sends decode as go-plugin's message, and back.
	b, err := proto.Marshal(&tetherv1.StdioData{Channel: tetherv1.StdioData_STDERR, Data: []byte("line\n")})
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := protoregistry.GlobalTypes.FindMessageByName("plugin.StdioData")
	theirs := mt.New()
	if err := proto.Unmarshal(b, theirs.Interface()); err != nil {
		t.Fatal(err)
	}
	fields := theirs.Descriptor().Fields()
	channel := theirs.Get(fields.ByName("channel")).Enum()
	if name := fields.ByName("channel").Enum().Values().ByNumber(channel).Name(); name != "STDERR" || string(theirs.Get(fields.ByName("data")).Bytes()) != "line\n" {
		t.Errorf("go-plugin reads tether's StdioData as %v", theirs)
	}
	back, err := proto.Marshal(theirs.Interface())
	if err != nil {
		t.Fatal(err)
	}
	ours := new(tetherv1.StdioData)
	if err := proto.Unmarshal(back, ours); err != nil || ours.GetChannel() != tetherv1.StdioData_STDERR || string(ours.GetData()) != "line\n" {
		t.Errorf("tether reads go-plugin's StdioData as %v (%v)", ours, err)
	}

	// tether's service descriptions agree with go-plugin's services.
	for _, sd := range []*grpc.ServiceDesc{&goplugin.ControllerDesc, &goplugin.StdioDesc} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(sd.ServiceName))
		if err != nil {
			t.Fatalf("go-plugin's %s is not registered: %v", sd.ServiceName, err)
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		var ours []string
		for _, m := range sd.Methods {
			ours = append(ours, m.MethodName+" unary")
		}
		for _, s := range sd.Streams {
			ours = append(ours, fmt.Sprintf("%s client %v server %v", s.StreamName, s.ClientStreams, s.ServerStreams))
		}
		var theirs []string
		for i := range methods.Len() {
			m := methods.Get(i)
			if !m.IsStreamingClient() && !m.IsStreamingServer() {
				theirs = append(theirs, string(m.Name())+" unary")
			} else {
				theirs = append(theirs, fmt.Sprintf("%s client %v server %v", m.Name(), m.IsStreamingClient(), m.IsStreamingServer()))
			}
		}
		if !slices.Equal(ours, theirs) {
			t.Errorf("%s: tether serves %v, go-plugin %v", sd.ServiceName, ours, theirs)
		}
	}
}

// TestTetherServerBesideGoPlugin runs a tether plugin server in this
// program, which links go-plugin: reflection describes go-plugin's
// services, and Shutdown sent with go-plugin's own message type stops it.
func TestTetherServerBesideGoPlugin(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := tether.NewServer(tether.ServeConfig{Logger: slog.New(slog.DiscardHandler)})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() { srv.GRPCServer().Stop(); tethertest.Recv(t, served, 10*time.Second) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	rc, err := reflectclient.New(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, name := range []string{goplugin.ControllerService, goplugin.StdioService} {
		if !slices.Contains(rc.Services(), name) {
			t.Errorf("reflection lists %v, missing %s", rc.Services(), name)
		}
		if _, err := rc.Service(name); err != nil {
			t.Errorf("reflection does not describe %s: %v", name, err)
		}
	}

	mt, err := protoregistry.GlobalTypes.FindMessageByName("plugin.Empty")
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Invoke(ctx, goplugin.ShutdownMethod, mt.New().Interface(), mt.New().Interface()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.ShutdownRequested():
	case <-ctx.Done():
		t.Fatal("Shutdown did not reach the tether server")
	}
}

// shape is what decides a message's encoding: each field's number, name,
// cardinality and kind, and the names and numbers of enum values.
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

package tether_test

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/dynamic"
	"github.com/tetherplug/tether/internal/reflectclient"
	"github.com/tetherplug/tether/tethertest"
)

// TestNoGoPluginNamesRegistered checks what lets a host link tether and
// hashicorp/go-plugin into one program: go-plugin's generated code
// registers the proto package "plugin" in the global registries, and the
// protobuf runtime panics at start-up if tether registered any of it too.
func TestNoGoPluginNamesRegistered(t *testing.T) {
	if n := protoregistry.GlobalFiles.NumFilesByPackage("plugin"); n != 0 {
		t.Errorf("%d files of package plugin are registered", n)
	}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if fd.Package() == "plugin" || strings.HasPrefix(string(fd.Package()), "plugin.") || strings.HasPrefix(fd.Path(), "plugin/") {
			t.Errorf("file %s (package %s) is registered", fd.Path(), fd.Package())
		}
		return true
	})
	for _, name := range []protoreflect.FullName{"plugin.Empty", "plugin.StdioData", "plugin.StdioData.Channel", "plugin.GRPCController", "plugin.GRPCStdio"} {
		if d, err := protoregistry.GlobalFiles.FindDescriptorByName(name); err == nil {
			t.Errorf("%s is registered, in %s", name, d.ParentFile().Path())
		}
	}
	for _, name := range []protoreflect.FullName{"plugin.Empty", "plugin.StdioData"} {
		if _, err := protoregistry.GlobalTypes.FindMessageByName(name); err == nil {
			t.Errorf("message type %s is registered", name)
		}
	}
	if _, err := protoregistry.GlobalTypes.FindEnumByName("plugin.StdioData.Channel"); err == nil {
		t.Error("enum type plugin.StdioData.Channel is registered")
	}
}

// TestServerDescribesGoPluginServices checks that a tether server still
// serves go-plugin's controller and stdio services under their names and
// describes them through reflection, so that `tether inspect` lists them
// and `tether call PLUGIN plugin.GRPCController/Shutdown '{}'` stops it.
func TestServerDescribesGoPluginServices(t *testing.T) {
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
	for _, want := range []string{"plugin.GRPCController", "plugin.GRPCStdio", "tether.v1.Plugin", "grpc.health.v1.Health"} {
		if !slices.Contains(rc.Services(), want) {
			t.Errorf("reflection lists %v, missing %s", rc.Services(), want)
		}
	}
	stdio, err := rc.Service("plugin.GRPCStdio")
	if err != nil {
		t.Fatal(err)
	}
	if m := stdio.Methods().ByName("StreamStdio"); m == nil || m.Output().FullName() != "plugin.StdioData" {
		t.Errorf("plugin.GRPCStdio/StreamStdio = %v, want a stream of plugin.StdioData", m)
	}
	ctrl, err := rc.Service("plugin.GRPCController")
	if err != nil {
		t.Fatal(err)
	}
	shutdown := ctrl.Methods().ByName("Shutdown")
	if shutdown == nil {
		t.Fatal("plugin.GRPCController has no Shutdown")
	}
	var out strings.Builder
	in := dynamic.JSONSource(strings.NewReader("{}"), rc.Types())
	if err := dynamic.Call(ctx, conn, shutdown, in, dynamic.JSONSink(&out, rc.Types(), false, false)); err != nil {
		t.Fatal(err)
	}
	if out.String() != "{}\n" {
		t.Errorf("Shutdown answered %q, want {}", out.String())
	}
	select {
	case <-srv.ShutdownRequested():
	case <-ctx.Done():
		t.Fatal("Shutdown called through reflection did not reach the server")
	}
}

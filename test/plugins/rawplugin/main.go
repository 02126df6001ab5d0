// Command rawplugin is the least a program can do and still load in a
// tether host: print the handshake line and serve one gRPC service (the
// greeter example's v1) on a Unix socket, with no Describe, no reflection,
// no controller and no cookie check. Tests use it for what a host must do
// without those.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"google.golang.org/grpc"

	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

type greeter struct {
	greeterv1.UnimplementedGreeterServer
}

func (greeter) Greet(_ context.Context, req *greeterv1.GreetRequest) (*greeterv1.GreetResponse, error) {
	return &greeterv1.GreetResponse{Message: "raw hello, " + req.GetName()}, nil
}

func main() {
	dir := os.Getenv("PLUGIN_UNIX_SOCKET_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	lis, err := net.Listen("unix", filepath.Join(dir, fmt.Sprintf("raw-%d.sock", os.Getpid())))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	greeterv1.RegisterGreeterServer(srv, greeter{})
	fmt.Printf("1|1|unix|%s|grpc|\n", lis.Addr())
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Command rawecho is the baseline tether's benchmarks compare against: the
// Echo service on a plain grpc.NewServer, with none of tether's services or
// handshake. It listens on the Unix socket path given as its only argument,
// prints "ready" on stdout once it accepts connections, and serves until it
// is signalled.
//
//	rawecho /tmp/dir/echo.sock
package main

import (
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rawecho SOCKET")
		os.Exit(2)
	}
	lis, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawecho:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	echov1.RegisterEchoServer(srv, plugintest.EchoServer{})
	fmt.Println("ready")
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "rawecho:", err)
		os.Exit(1)
	}
}

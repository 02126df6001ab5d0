// Command rawecho is the baseline tether's benchmarks compare against: the
// Echo service on a plain grpc.NewServer, with none of tether's services or
// handshake. It listens on the Unix socket path given as its first argument,
// prints "ready" on stdout once it accepts connections, and serves until it
// is signalled.
//
// With a second argument, the path of a Unix socket where the host serves
// Echo, it relays every call to the host over a second connection of its
// own (plugintest.Relay): the way a plain gRPC plugin calls back its host.
//
//	rawecho /tmp/dir/echo.sock [/tmp/dir/host.sock]
package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

func main() {
	if len(os.Args) != 2 && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: rawecho SOCKET [HOST-SOCKET]")
		os.Exit(2)
	}
	lis, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawecho:", err)
		os.Exit(1)
	}
	var impl echov1.EchoServer = plugintest.EchoServer{}
	if len(os.Args) == 3 {
		conn, err := grpc.NewClient("unix://"+os.Args[2], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "rawecho:", err)
			os.Exit(1)
		}
		defer conn.Close()
		impl = plugintest.Relay{Host: echov1.NewEchoClient(conn), Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	}
	srv := grpc.NewServer()
	echov1.RegisterEchoServer(srv, impl)
	fmt.Println("ready")
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "rawecho:", err)
		os.Exit(1)
	}
}

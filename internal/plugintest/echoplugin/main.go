// Command echoplugin is the plugin tether's tests and benchmarks launch. It
// serves the Echo interface (versions 1 and 2) and, through the ECHO_MODE
// environment variable, misbehaves in the ways tests need:
//
//	garbage    print a line that is not a handshake, then sleep
//	hang       print nothing and sleep
//	exit3      print to stderr and exit with status 3
//	chatty     print to stdout and stderr after the handshake, repeatedly
//	panic      start normally, then panic on the first Unary call
//	v3         serve protocol version 3 only
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

type panicky struct{ plugintest.EchoServer }

func (panicky) Unary(context.Context, *echov1.Message) (*echov1.Message, error) {
	panic("echoplugin: asked to panic")
}

func main() {
	var impl echov1.EchoServer = plugintest.EchoServer{}
	cfg := tether.ServeConfig{Name: "echo"}
	switch os.Getenv("ECHO_MODE") {
	case "garbage":
		fmt.Println("hello, I am not a plugin")
		time.Sleep(time.Hour)
	case "hang":
		time.Sleep(time.Hour)
	case "exit3":
		fmt.Fprintln(os.Stderr, "echoplugin: something went wrong")
		os.Exit(3)
	case "chatty":
		go func() {
			for i := 0; ; i++ {
				time.Sleep(20 * time.Millisecond)
				fmt.Printf("stdout line %d\n", i)
				fmt.Fprintf(os.Stderr, "stderr line %d\n", i)
			}
		}()
	case "panic":
		impl = panicky{}
	case "v3":
		cfg.ProtocolVersions = []int{3}
	}
	register := func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, impl) }
	cfg.Implementations = []tether.Implementation{
		tether.Implement("echo", 1, register),
		tether.Implement("echo", 2, register),
	}
	tether.Serve(cfg)
}

// Command hostprog is a minimal tether host for tests of what happens to a
// plugin when its host dies: it launches the plugin named by its argument,
// prints the plugin's process id on stdout, and blocks until killed (or
// until the plugin exits, which it reports on stderr with status 1).
//
// With -block-in-callback it provides the plugin an Echo callback service
// that never answers, calls the plugin's Echo.Unary (which the callback test
// plugin answers by calling back), and prints "blocked" once the callback
// has reached it: the plugin is then blocked inside a callback.
//
//	hostprog [-block-in-callback] PLUGIN
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// blockingEcho is a callback service whose Unary reports that it was
// reached and then waits for its caller to give up.
type blockingEcho struct {
	echov1.UnimplementedEchoServer
	reached chan struct{}
}

func (b *blockingEcho) Unary(ctx context.Context, _ *echov1.Message) (*echov1.Message, error) {
	b.reached <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

func main() {
	block := flag.Bool("block-in-callback", false, "leave the plugin blocked inside a callback")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: hostprog [-block-in-callback] PLUGIN")
		os.Exit(2)
	}
	opts := []tether.Option{tether.WithStartTimeout(20 * time.Second)}
	cb := &blockingEcho{reached: make(chan struct{}, 1)}
	if *block {
		opts = append(opts, tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, cb) }))
	}
	c, err := tether.Launch(context.Background(), flag.Arg(0), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostprog:", err)
		os.Exit(1)
	}
	fmt.Println(c.Pid())
	if *block {
		echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hostprog:", err)
			os.Exit(1)
		}
		go func() { _, _ = echo.Unary(context.Background(), &echov1.Message{Text: "block"}) }()
		<-cb.reached
		fmt.Println("blocked")
	}
	<-c.Exited()
	fmt.Fprintln(os.Stderr, "hostprog:", c.ExitError())
	os.Exit(1)
}

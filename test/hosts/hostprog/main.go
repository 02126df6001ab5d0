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
// With -call-until MSG it calls the plugin's Echo.Unary in the background
// and prints MSG once the plugin has logged a record with message MSG (the
// echo plugin's stuck mode logs "stuck in handler"): the plugin is then
// inside that call's handler.
//
//	hostprog [-block-in-callback] [-call-until MSG] PLUGIN
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
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

// awaitLog is a slog handler that writes records to stderr and closes seen
// once a record with message msg arrives.
type awaitLog struct {
	slog.Handler
	msg  string
	once *sync.Once
	seen chan struct{}
}

func (a awaitLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == a.msg {
		a.once.Do(func() { close(a.seen) })
	}
	return a.Handler.Handle(ctx, r)
}

func (a awaitLog) WithAttrs(as []slog.Attr) slog.Handler {
	a.Handler = a.Handler.WithAttrs(as)
	return a
}

func (a awaitLog) WithGroup(name string) slog.Handler {
	a.Handler = a.Handler.WithGroup(name)
	return a
}

func main() {
	block := flag.Bool("block-in-callback", false, "leave the plugin blocked inside a callback")
	until := flag.String("call-until", "", "call Echo.Unary and print this once the plugin logs it")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: hostprog [-block-in-callback] [-call-until MSG] PLUGIN")
		os.Exit(2)
	}
	opts := []tether.Option{tether.WithStartTimeout(20 * time.Second)}
	seen := awaitLog{Handler: slog.NewTextHandler(os.Stderr, nil), msg: *until, once: new(sync.Once), seen: make(chan struct{})}
	if *until != "" {
		opts = append(opts, tether.WithLogger(slog.New(seen)))
	}
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
	if *until != "" {
		echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hostprog:", err)
			os.Exit(1)
		}
		go func() { _, _ = echo.Unary(context.Background(), &echov1.Message{Text: "call"}) }()
		<-seen.seen
		fmt.Println(*until)
	}
	<-c.Exited()
	fmt.Fprintln(os.Stderr, "hostprog:", c.ExitError())
	os.Exit(1)
}

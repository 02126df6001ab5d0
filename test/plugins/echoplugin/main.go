// Command echoplugin is the plugin tether's tests and benchmarks launch. It
// serves the Echo interface (versions 1 and 2) and, through the ECHO_MODE
// environment variable, misbehaves in the ways tests need:
//
//	garbage     print a line that is not a handshake, then sleep
//	hang        print nothing and sleep
//	exit3       print to stderr and exit with status 3
//	chatty      print to stdout and stderr after the handshake, repeatedly
//	            (from the first call on)
//	panic       start normally, then panic on the first Unary call, or in
//	            ServerStream after the first message
//	v3          serve protocol version 3 only
//	logs        on each Unary call, log a slog JSON line, an hclog JSON line
//	            and a plain line on stderr
//	stubborn    serve without tether.Serve, ignoring SIGTERM and the
//	            controller's Shutdown (only SIGKILL stops it)
//	deaf        print a handshake line for a socket that accepts no calls
//	unaskedcert serve TLS and put a certificate on the handshake line
//	elsewhere   print a handshake naming a TCP address off this machine
//	wrongcert   serve TLS with a certificate other than the one on its handshake line
//	            although the host did not ask for TLS
//	stuck       on each Unary call, log "stuck in handler" and then sleep 60 s,
//	            ignoring the call's context
//	ticker      print "tick N" on stderr every 20 ms from the start, N from 0
//
// With ECHO_CPUPROFILE=PREFIX, in any mode, it writes a CPU profile of its
// first ECHO_CPUPROFILE_SECONDS seconds (default 10) to PREFIX.PID.
//
// In every mode, a Unary call with text "exit:N" makes the process exit
// with status N, and one with text "freeze" makes it stop itself
// (SIGSTOP): a hung plugin that answers nothing, health checks included
// (Unix only: on Windows the call fails with codes.Unimplemented). One with
// text "metadata:KEY" answers with the values of request metadata KEY,
// joined by commas.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// controlled obeys the "exit:N" and "freeze" calls, and passes the others on.
type controlled struct{ echov1.EchoServer }

func (c controlled) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	if code, ok := strings.CutPrefix(m.GetText(), "exit:"); ok {
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	if m.GetText() == "freeze" {
		if err := freeze(); err != nil {
			return nil, err
		}
	}
	if key, ok := strings.CutPrefix(m.GetText(), "metadata:"); ok {
		md, _ := metadata.FromIncomingContext(ctx)
		return &echov1.Message{Text: strings.Join(md.Get(key), ",")}, nil
	}
	return c.EchoServer.Unary(ctx, m)
}

// panicky panics in its calls, after logging logFirst lines.
type panicky struct {
	plugintest.EchoServer
	logFirst int
}

func (p panicky) Unary(context.Context, *echov1.Message) (*echov1.Message, error) {
	for i := range p.logFirst {
		tether.Logger().Info("handling the request, step by step", "step", i, "of", p.logFirst)
	}
	panic("echoplugin: asked to panic")
}

func (panicky) ServerStream(m *echov1.Message, s grpc.ServerStreamingServer[echov1.Message]) error {
	if err := s.Send(m); err != nil {
		return err
	}
	panic("echoplugin: asked to panic mid-stream")
}

// logging logs one line in each format the host understands on every call.
type logging struct{ plugintest.EchoServer }

func (logging) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	tether.Logger().Warn("slog line", "count", 7, "who", "echo")
	fmt.Fprintln(os.Stderr, `{"@level":"error","@message":"hclog line","@module":"echo.sub","@timestamp":"2026-11-22T03:00:00.000000Z","path":"/x"}`)
	fmt.Fprintln(os.Stderr, "plain line")
	return m, nil
}

// stuck is a handler that ignores its context.
type stuck struct{ plugintest.EchoServer }

func (stuck) Unary(context.Context, *echov1.Message) (*echov1.Message, error) {
	tether.Logger().Info(stuckMessage)
	time.Sleep(60 * time.Second)
	return &echov1.Message{}, nil
}

// stuckMessage is what a stuck handler logs when it starts.
const stuckMessage = "stuck in handler"

// chatter prints a numbered line on stdout and on stderr every 20 ms.
func chatter() {
	for i := 0; ; i++ {
		time.Sleep(20 * time.Millisecond)
		fmt.Printf("stdout line %d\n", i)
		fmt.Fprintf(os.Stderr, "stderr line %d\n", i)
	}
}

// ticker prints a numbered line on stderr every 20 ms.
func ticker() {
	for i := 0; ; i++ {
		fmt.Fprintf(os.Stderr, "tick %d\n", i)
		time.Sleep(20 * time.Millisecond)
	}
}

func main() {
	profileCPU()
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
		// Start on the first call, which comes after the host has read the
		// handshake line: earlier output would be taken for the handshake.
		var once sync.Once
		cfg.GRPCOptions = append(cfg.GRPCOptions, grpc.ChainUnaryInterceptor(
			func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
				once.Do(func() { go chatter() })
				return next(ctx, req)
			}))
	case "panic":
		impl = panicky{}
	case "logpanic":
		impl = panicky{logFirst: 15}
	case "logs":
		impl = logging{}
	case "stuck":
		impl = stuck{}
	case "ticker":
		go ticker()
	case "v3":
		cfg.ProtocolVersions = []int{3}
	}
	impl = controlled{impl}
	register := func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, impl) }
	cfg.Implementations = []tether.Implementation{
		tether.Implement("echo", 1, register),
		tether.Implement("echo", 2, register),
	}
	if os.Getenv("ECHO_MODE") == "v1only" {
		cfg.Implementations = cfg.Implementations[:1]
	}
	switch os.Getenv("ECHO_MODE") {
	case "stubborn":
		serveStubborn(cfg)
	case "unaskedcert":
		serveUnaskedCert(cfg)
	case "deaf":
		serveDeaf()
	case "quickexit":
		serveQuickExit()
	case "elsewhere":
		serveElsewhere()
	case "wrongcert":
		serveWrongCert(cfg)
	}
	tether.Serve(cfg)
}

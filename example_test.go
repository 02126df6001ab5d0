package tether_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

// handshake is shared by an application's host and its plugins: plugins
// refuse to run under a host with another cookie.
var handshake = tether.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "GREETER_PLUGIN",
	MagicCookieValue: "hello",
}

type english struct {
	greeterv1.UnimplementedGreeterServer
}

func (english) Greet(_ context.Context, r *greeterv1.GreetRequest) (*greeterv1.GreetResponse, error) {
	return &greeterv1.GreetResponse{Message: "Hello, " + r.GetName() + "!"}, nil
}

// The main function of a plugin program: it serves version 1 of the
// greeter interface and logs through tether.Logger, which the host turns
// into records of its own logger.
func ExampleServe() {
	tether.Logger().Info("starting", "language", "en")
	tether.Serve(tether.ServeConfig{
		Handshake: handshake,
		Name:      "greeter-en",
		Implementations: []tether.Implementation{
			tether.Implement("greeter", 1, func(s grpc.ServiceRegistrar) {
				greeterv1.RegisterGreeterServer(s, english{})
			}),
		},
	})
}

// A host launches a plugin program, dispenses a typed client for an
// interface and calls it.
func ExampleLaunch() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := tether.Launch(ctx, "./bin/plugins/greeter-en",
		tether.WithHandshake(handshake),
		tether.WithInterface("greeter", 1),
		tether.WithLogger(slog.Default()),
		tether.WithStartTimeout(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"})
	if err != nil {
		log.Fatal(err)
	}
	v, _ := client.Version("greeter")
	fmt.Printf("%s (greeter v%d)\n", resp.GetMessage(), v)
}

// Every failure to load or call a plugin is a *PluginError or a
// *VersionError wrapping one of the sentinel errors.
func ExamplePluginError() {
	_, err := tether.Launch(context.Background(), "/bin/true", tether.WithStartTimeout(10*time.Second))
	var pe *tether.PluginError
	var ve *tether.VersionError
	switch {
	case errors.As(err, &ve):
		fmt.Println("no shared version of", ve.Interface, "host:", ve.HostVersions, "plugin:", ve.PluginVersions)
	case errors.Is(err, tether.ErrNotPlugin) && errors.As(err, &pe):
		fmt.Printf("%s is not a plugin (exit status %d, printed %q)\n", pe.Plugin, pe.ExitCode, pe.Output)
	case err != nil:
		fmt.Println(err)
	}
	// Output: true is not a plugin (exit status 0, printed "")
}

// A host that takes where its plugin runs from configuration: the same code
// loads a local program (a path or exec:///abs/path) or, once their runtimes
// are registered, a plugin reached over the network or in Kubernetes. With
// WithRestart a local plugin that dies is started again, and the stub keeps
// working; calls made meanwhile fail with ErrUnavailable.
func ExampleOpen() {
	target := os.Getenv("GREETER_PLUGIN") // "./bin/plugins/greeter-en", "exec:///opt/greeter-en", ...
	ctx := context.Background()
	client, err := tether.Open(ctx, target,
		tether.WithHandshake(handshake),
		tether.WithInterface("greeter", 1),
		tether.WithRestart()) // refused, with an error naming it, for targets that are not programs
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"})
	switch {
	case errors.Is(err, tether.ErrUnavailable):
		log.Print("the plugin is being restarted; try again")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(resp.GetMessage())
	}
}

// fixedRuntime reaches a plugin that something else runs, at one Unix
// socket: the smallest runtime there is.
type fixedRuntime struct{}

func (fixedRuntime) Scheme() string { return "fixed" }

func (fixedRuntime) Build(_ context.Context, t tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	env.Endpoints.UpdateEndpoints([]tether.Endpoint{{Network: "unix", Address: t.Path}})
	return fixedRuntime{}, nil
}

// Close leaves the plugin alone: this runtime did not start it.
func (fixedRuntime) Close(context.Context, func(context.Context, tether.Endpoint) error) error {
	return nil
}

// A runtime registers under its scheme, and Open then reaches plugins by
// targets of that scheme; Describe, version negotiation, balancing and
// callbacks work as for any other runtime.
func ExampleRegisterRuntime() {
	tether.RegisterRuntime(fixedRuntime{})
	client, err := tether.Open(context.Background(), "fixed:///run/greeter.sock",
		tether.WithInterface("greeter", 1))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
}

// A host exports what another host process needs to attach to the plugin
// it launched; the other process attaches, calls it, and on Close only
// disconnects: the plugin keeps serving its launching host.
func ExampleClient_ReattachConfig() {
	ctx := context.Background()
	client, err := tether.Launch(ctx, "./bin/plugins/greeter-en",
		tether.WithHandshake(handshake), tether.WithAutoMTLS(), tether.WithInterface("greeter", 1))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() // stops the plugin, for every attached host too
	cfg, err := client.ReattachConfig()
	if err != nil {
		log.Fatal(err)
	}
	// Holds a private key: WriteFile makes it readable by its owner only.
	if err := cfg.WriteFile("/run/greeter/reattach.json"); err != nil {
		log.Fatal(err)
	}

	// In the other host process:
	cfg, err = tether.ReadReattachConfig("/run/greeter/reattach.json")
	if err != nil {
		log.Fatal(err)
	}
	attached, err := tether.Attach(ctx, cfg, tether.WithHandshake(handshake), tether.WithInterface("greeter", 1))
	if err != nil {
		log.Fatal(err) // ErrUnavailable when the plugin is gone; the plugin is never touched
	}
	defer attached.Close() // disconnects only
	greeter, err := tether.Dispense(attached, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		log.Fatal(err)
	}
	r, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "again"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.GetMessage())
}

// A host calls a launched tether plugin over the fast local transport by
// default. Interceptors given with WithUnaryInterceptors apply whichever
// transport carries the call; WithTransport(TransportGRPC), or
// TETHER_TRANSPORT=grpc in the environment, keeps the calls on gRPC.
func ExampleWithTransport() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	timed := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		err := invoke(ctx, method, req, reply, cc, opts...)
		slog.Debug("plugin call", "method", method, "took", time.Since(start), "error", err)
		return err
	}
	for _, tr := range []tether.Transport{tether.TransportFast, tether.TransportGRPC} {
		client, err := tether.Launch(ctx, "./bin/plugins/greeter-en",
			tether.WithHandshake(handshake),
			tether.WithInterface("greeter", 1),
			tether.WithTransport(tr),
			tether.WithUnaryInterceptors(timed))
		if err != nil {
			log.Fatal(err)
		}
		greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"}); err != nil {
			log.Fatal(err)
		}
		fmt.Println("calls went over", client.Transport())
		_ = client.Close()
	}
}

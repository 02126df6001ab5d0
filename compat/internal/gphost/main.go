// Command gphost is a greeter host written with hashicorp/go-plugin, for
// tether's interoperability tests: it loads the plugin named on its command
// line in gRPC mode, pings it, dispenses the greeter, greets, kills the
// plugin, and prints what happened, one fact per line.
//
// It is a program of its own so that the tests drive a go-plugin host
// process, as users run one.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/tetherplug/tether/compat/internal/shared"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

func main() {
	autoMTLS := flag.Bool("automtls", false, "use go-plugin's automatic mutual TLS")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gphost [-automtls] PLUGIN")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *autoMTLS); err != nil {
		fmt.Fprintln(os.Stderr, "gphost:", err)
		os.Exit(1)
	}
}

func run(path string, autoMTLS bool) error {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  shared.Handshake,
		Plugins:          shared.Plugins(nil),
		Cmd:              exec.Command(path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         autoMTLS,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclog.Debug}),
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		return err
	}
	fmt.Println("protocol:", client.Protocol())
	if err := rpc.Ping(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	fmt.Println("ping: ok")
	raw, err := rpc.Dispense("greeter")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := raw.(greeterv1.GreeterClient).Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"})
	if err != nil {
		return fmt.Errorf("greet: %w", err)
	}
	fmt.Println("greet:", resp.GetMessage())
	client.Kill()
	fmt.Println("exited:", client.Exited())
	return nil
}

// Command greeter-host-v2 is a host that knows versions 1 and 2 of the
// greeter interface. It loads every plugin named on its command line,
// greets through whichever version the plugin serves best, and says
// farewell only where the plugin implements it (version 2):
//
//	greeter-host-v2 [-name Ada] ./bin/plugins/greeter-en ./bin/plugins/greeter-v2
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	greeterv2 "github.com/tetherplug/tether/examples/greeter/greeterpb/v2"
	"github.com/tetherplug/tether/examples/greeter/internal/greeting"
)

func main() {
	name := flag.String("name", "Ada", "who to greet")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: greeter-host-v2 [-name NAME] PLUGIN...")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	failed := false
	for _, path := range flag.Args() {
		lines, err := visit(path, *name, logger)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: error: %v\n", filepath.Base(path), err)
			failed = true
			continue
		}
		for _, l := range lines {
			fmt.Printf("%s: %s\n", filepath.Base(path), l)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// visit greets and, where the plugin can, says farewell.
func visit(path, name string, logger *slog.Logger) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := tether.Launch(ctx, path,
		tether.WithHandshake(greeting.Handshake),
		tether.WithInterface("greeter", 1, 2), // the highest shared version wins
		tether.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	defer client.Close()

	version, _ := client.Version("greeter")
	if version == 1 {
		g, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
		if err != nil {
			return nil, err
		}
		resp, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: name})
		if err != nil {
			return nil, err
		}
		return []string{"v1 " + resp.GetMessage(), "v1 (no farewell: the plugin serves greeter v1 only)"}, nil
	}

	g, err := tether.Dispense(client, "greeter", greeterv2.NewGreeterClient)
	if err != nil {
		return nil, err
	}
	resp, err := g.Greet(ctx, &greeterv2.GreetRequest{Name: name})
	if err != nil {
		return nil, err
	}
	lines := []string{fmt.Sprintf("v%d %s", version, resp.GetMessage())}
	// Ask before calling: Describe already listed the plugin's methods.
	if ok, _ := client.Implements(ctx, greeterv2.Greeter_Farewell_FullMethodName); ok {
		bye, err := g.Farewell(ctx, &greeterv2.FarewellRequest{Name: name})
		if err != nil {
			return nil, err
		}
		lines = append(lines, fmt.Sprintf("v%d %s", version, bye.GetMessage()))
	}
	return lines, nil
}

// Command greeter-host loads every greeter plugin named on its command line,
// asks each to greet the same person, and prints one line per plugin:
//
//	greeter-host [-name Ada] ./bin/plugins/greeter-en ./bin/plugins/greeter-fr
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
	"github.com/tetherplug/tether/examples/greeter/internal/greeting"
)

func main() {
	name := flag.String("name", "Ada", "who to greet")
	verbose := flag.Bool("v", false, "show the plugins' debug logs")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: greeter-host [-name NAME] PLUGIN...")
		os.Exit(2)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	failed := false
	for _, path := range flag.Args() {
		msg, err := greet(path, *name, logger)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: error: %v\n", filepath.Base(path), err)
			failed = true
			continue
		}
		fmt.Printf("%s: %s\n", filepath.Base(path), msg)
	}
	if failed {
		os.Exit(1)
	}
}

func greet(path, name string, logger *slog.Logger) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := tether.Launch(ctx, path,
		tether.WithHandshake(greeting.Handshake),
		tether.WithInterface("greeter", 1),
		tether.WithLogger(logger))
	if err != nil {
		return "", err
	}
	defer client.Close()
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		return "", err
	}
	resp, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: name})
	if err != nil {
		return "", err
	}
	return resp.GetMessage(), nil
}

// Command greeter-host loads every greeter plugin whose target is named on
// its command line (a path, exec:///abs/path, or any registered runtime's
// target), asks each to greet the same person, and prints one line per
// plugin, labelled with the plugin's name:
//
//	greeter-host [-name Ada] ./bin/plugins/greeter-en exec://$PWD/bin/plugins/greeter-fr
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
		fmt.Fprintln(os.Stderr, "usage: greeter-host [-name NAME] TARGET...")
		os.Exit(2)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	failed := false
	for _, target := range flag.Args() {
		msg, err := greet(target, *name, logger)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: error: %v\n", label(target), err)
			failed = true
			continue
		}
		fmt.Printf("%s: %s\n", label(target), msg)
	}
	if failed {
		os.Exit(1)
	}
}

// label names a plugin in the output: its program's file name, or the
// target itself for other runtimes (and targets that do not parse).
func label(target string) string {
	t, err := tether.ParseTarget(target)
	if err != nil || t.Scheme != "exec" {
		return target
	}
	return filepath.Base(t.Path)
}

func greet(target, name string, logger *slog.Logger) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := tether.Open(ctx, target,
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

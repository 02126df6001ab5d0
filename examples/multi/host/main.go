// Command multi-host loads a plugin serving greeter and counter, dispenses
// both interfaces from the one client and calls each:
//
//	multi-host ./bin/plugins/greeter-counter
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	counterv1 "github.com/tetherplug/tether/examples/multi/counterpb/v1"
	"github.com/tetherplug/tether/examples/multi/shared"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: multi-host PLUGIN")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "multi-host:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := tether.Launch(ctx, path,
		tether.WithHandshake(shared.Handshake),
		tether.WithInterface("greeter", 1),
		tether.WithInterface("counter", 1))
	if err != nil {
		return err
	}
	defer client.Close()

	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		return err
	}
	counter, err := tether.Dispense(client, "counter", counterv1.NewCounterClient)
	if err != nil {
		return err
	}
	hi, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"})
	if err != nil {
		return err
	}
	fmt.Println("greeter:", hi.GetMessage())
	for _, d := range []int64{2, 3} {
		sum, err := counter.Add(ctx, &counterv1.AddRequest{Delta: d})
		if err != nil {
			return err
		}
		fmt.Printf("counter: +%d = %d\n", d, sum.GetTotal())
	}
	return nil
}

// Command host is the host of an application outside the tether
// repository: it launches the greeter plugin named on its command line and
// prints its greeting.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"

	"example.com/app/handshake"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: host PLUGIN")
		os.Exit(2)
	}
	msg, err := greet(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "host:", err)
		os.Exit(1)
	}
	fmt.Println(msg)
}

func greet(plugin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := tether.Launch(ctx, plugin, tether.WithHandshake(handshake.Config), tether.WithInterface("greeter", 1))
	if err != nil {
		return "", err
	}
	defer client.Close()
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		return "", err
	}
	resp, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "downstream"})
	if err != nil {
		return "", err
	}
	return resp.GetMessage(), nil
}

// Command attachhost is a second host for tests of reattaching: it attaches,
// with tether.Attach, to the echo plugin another host launched, from the
// reattach config file named by -config, and calls its Echo.Unary:
//
//	attachhost -config PATH [-version N]
//
// Once attached it prints "attached PID TEXT" (the plugin's pid and the
// answer to a first call), then, for every line it reads on stdin, calls
// Echo.Unary with it and prints the answer, or "error: ..." when the call
// fails. At the end of stdin it closes its Client, prints "closed" and exits
// 0. A failed attach prints "attachhost: ERROR" on stderr and exits 3.
// -version asks for that version of "echo" (default 1).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

func main() {
	path := flag.String("config", "", "reattach config file")
	version := flag.Int("version", 1, "version of the echo interface to ask for")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "usage: attachhost -config PATH [-version N]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, echo, err := attach(ctx, *path, *version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "attachhost:", err)
		os.Exit(3)
	}
	m, err := echo.Unary(ctx, &echov1.Message{Text: "first"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "attachhost: first call:", err)
		os.Exit(1)
	}
	fmt.Println("attached", c.Pid(), m.GetText())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		m, err := echo.Unary(ctx, &echov1.Message{Text: in.Text()})
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(m.GetText())
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "attachhost: close:", err)
		os.Exit(1)
	}
	fmt.Println("closed")
}

func attach(ctx context.Context, path string, version int) (*tether.Client, echov1.EchoClient, error) {
	cfg, err := tether.ReadReattachConfig(path)
	if err != nil {
		return nil, nil, err
	}
	c, err := tether.Attach(ctx, cfg, tether.WithInterface("echo", version))
	if err != nil {
		return nil, nil, err
	}
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		_ = c.Close()
		return nil, nil, err
	}
	return c, echo, nil
}

// Command runhost is a host for tests of `tether run`: it opens the echo
// plugin at the target named by its argument (run://NAME, through the run://
// runtime the daemon package registers) and calls its Echo.Unary:
//
//	runhost TARGET
//
// Once open it prints "opened", then, for every line it reads on stdin,
// calls Echo.Unary with it and prints the answer, or "error: unavailable
// ERROR" when the call failed with tether.ErrUnavailable and "error: ERROR"
// otherwise. A line "wait:TEXT" makes the call with grpc.WaitForReady, bounded
// by 20 s. At the end of stdin it closes its Client, prints "closed" and
// exits 0. A failed open prints "runhost: ERROR" on stderr and exits 3.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	_ "github.com/tetherplug/tether/daemon" // the run:// runtime
	"github.com/tetherplug/tether/internal/pb/echov1"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: runhost TARGET")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	c, err := tether.Open(ctx, os.Args[1], tether.WithInterface("echo", 1))
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "runhost:", err)
		os.Exit(3)
	}
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runhost:", err)
		os.Exit(3)
	}
	fmt.Println("opened")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(call(echo, in.Text()))
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "runhost: close:", err)
		os.Exit(1)
	}
	fmt.Println("closed")
}

// call makes one call and says how it went, on one line.
func call(echo echov1.EchoClient, line string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var opts []grpc.CallOption
	if text, ok := strings.CutPrefix(line, "wait:"); ok {
		line, opts = text, append(opts, grpc.WaitForReady(true))
	}
	m, err := echo.Unary(ctx, &echov1.Message{Text: line}, opts...)
	switch {
	case errors.Is(err, tether.ErrUnavailable):
		return "error: unavailable " + oneLine(err)
	case err != nil:
		return "error: " + oneLine(err)
	}
	return m.GetText()
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// Command hostprog is a minimal tether host for tests of what happens to a
// plugin when its host dies: it launches the plugin named by its argument,
// prints the plugin's process id on stdout, and blocks until killed (or
// until the plugin exits, which it reports on stderr with status 1).
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tetherplug/tether"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hostprog PLUGIN")
		os.Exit(2)
	}
	c, err := tether.Launch(context.Background(), os.Args[1], tether.WithStartTimeout(20*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostprog:", err)
		os.Exit(1)
	}
	fmt.Println(c.Pid())
	<-c.Exited()
	fmt.Fprintln(os.Stderr, "hostprog:", c.ExitError())
	os.Exit(1)
}

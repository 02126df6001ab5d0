// Command greeter-fr is a greeter plugin that greets in French.
package main

import "github.com/tetherplug/tether/examples/greeter/internal/greeting"

func main() { greeting.Serve("greeter-fr", "Bonjour, %s !") }

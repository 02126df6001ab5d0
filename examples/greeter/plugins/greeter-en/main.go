// Command greeter-en is a greeter plugin that greets in English.
package main

import "github.com/tetherplug/tether/examples/greeter/internal/greeting"

func main() { greeting.Serve("greeter-en", "Hello, %s!") }

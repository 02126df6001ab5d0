// Command greeter-v2 is a greeter plugin that serves versions 1 and 2 of the
// greeter interface side by side, in Spanish.
package main

import "github.com/tetherplug/tether/examples/greeter/internal/greeting"

func main() { greeting.ServeV1V2("greeter-v2", "¡Hola, %s!", "¡Adiós, %s!") }

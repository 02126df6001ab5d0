package catalog_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/catalog"
	"github.com/tetherplug/tether/discover"
	greeterv2 "github.com/tetherplug/tether/examples/greeter/greeterpb/v2"
)

// Load every plugin in a directory, report the broken ones, and say
// farewell through each plugin that serves greeter v2.
func ExampleLoad() {
	ctx := context.Background()
	found, err := discover.Dir("./plugins")
	if err != nil {
		log.Fatal(err)
	}
	cat := catalog.Load(ctx, found, catalog.Config{
		Handshake:   tether.HandshakeConfig{MagicCookieKey: "GREETER_PLUGIN", MagicCookieValue: "hello"}, // your application's cookie
		Parallelism: 8,
	})
	defer cat.Close()
	for _, e := range cat.Broken() {
		log.Printf("%s: %v", e.Plugin.Name, e.Err)
	}
	for _, e := range cat.Implementing("greeter", 2) {
		g, err := tether.Dispense(e.Client, "greeter", greeterv2.NewGreeterClient)
		if err != nil {
			log.Fatal(err)
		}
		bye, err := g.Farewell(ctx, &greeterv2.FarewellRequest{Name: "Ada"})
		if err != nil {
			log.Printf("%s: %v", e.Plugin.Name, err)
			continue
		}
		fmt.Println(e.Plugin.Name, bye.GetMessage())
	}
}

package discover_test

import (
	"fmt"
	"log"

	"github.com/tetherplug/tether/discover"
)

func ExampleParseManifest() {
	manifest := []byte(`
plugins:
  - name: english
    path: greeter-en
    cookie: {key: GREETER_PLUGIN, value: hello}
  - path: /opt/plugins/greeter-fr
    args: [--formal]
    protocol_versions: [2, 1]
`)
	plugins, err := discover.ParseManifest(manifest, "/etc/greeter")
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range plugins {
		fmt.Println(p.Name, p.Path, p.Args, p.ProtocolVersions)
	}
	// Output:
	// english /etc/greeter/greeter-en [] []
	// greeter-fr /opt/plugins/greeter-fr [--formal] [2 1]
}

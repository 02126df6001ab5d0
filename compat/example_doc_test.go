package compat_test

import (
	"os"
	"strings"
	"testing"
)

// TestGoPluginDocShowsBrokerExample: the tether host code docs/go-plugin.md
// shows beside go-plugin's is Example_goPluginBroker's, which compiles.
func TestGoPluginDocShowsBrokerExample(t *testing.T) {
	src, err := os.ReadFile("example_broker_test.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/go-plugin.md")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	start := strings.Index(body, "\tclient, err := tether.Launch(")
	end := strings.Index(body, "\tif err != nil {\n\t\tlog.Fatal(err)\n\t}\n\tfmt.Println")
	if start < 0 || end < start {
		t.Fatal("example_broker_test.go no longer has the snippet's first and last lines")
	}
	var snippet strings.Builder
	for _, line := range strings.SplitAfter(body[start:end], "\n") {
		snippet.WriteString(strings.TrimPrefix(line, "\t"))
	}
	if !strings.Contains(string(doc), snippet.String()) {
		t.Errorf("docs/go-plugin.md does not show Example_goPluginBroker's code:\n%s", snippet.String())
	}
}

package tether_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	_ "github.com/tetherplug/tether/network" // tcp:// targets
)

// docQuotes fails t unless every doc file named quotes msg verbatim.
func docQuotes(t *testing.T, msg string, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), msg) {
			t.Errorf("%s does not quote the message the code prints:\n%s", f, msg)
		}
	}
}

// TestDocsQuoteMisplacedOption: the refusal of an exec option on a tcp://
// target, as docs/hosts.md and docs/architecture.md quote it, is what Open
// returns; an option given where it does nothing is an error, never
// ignored.
func TestDocsQuoteMisplacedOption(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := tether.Open(ctx, "tcp://10.0.0.7:7000", tether.WithStderr(io.Discard))
	if err == nil {
		t.Fatal("Open(tcp://..., WithStderr) succeeded; want it refused")
	}
	docQuotes(t, err.Error(), "docs/hosts.md", "docs/architecture.md")
}

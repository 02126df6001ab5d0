//go:build unix

package interop_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherplug/tether/goplugin"
)

// The host's brokered listeners in classic mode are Unix sockets only
// their owner may use (0600), in the plugin's private 0700 directory.
func TestBrokerSocketsOwnerOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, dir := launchCounter(t, ctx, goplugin.WithBroker())
	b, err := goplugin.Broker(c)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := b.Accept(b.NextId())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory %s: %v, %v; want mode 0700", dir, fi.Mode(), err)
	}
	host := hostSockets(t, dir)
	if len(host) != 1 {
		t.Fatalf("host sockets in %s = %v, want the one listener", dir, host)
	}
	fi, err := os.Stat(filepath.Join(dir, host[0]))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("host's brokered socket %s has mode %v, want 0600", host[0], fi.Mode().Perm())
	}
}

package network_test

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/tetherplug/tether/internal/netguard"
	"github.com/tetherplug/tether/internal/netguard/netguardtest"
)

// TestNetworkPluginMemoryOnePeerCanPin: one peer with a valid certificate
// opens 24 connections and, on each, 400 calls with 15 KiB of headers and
// no message, the most the limits let it hold and more: the plugin's
// resident memory grows by less than 128 MiB: 2,048 calls held (before
// the limits, all 9,600 were: 263 MiB).
func TestNetworkPluginMemoryOnePeerCanPin(t *testing.T) {
	p := startGuarded(t, nil)
	before, err := netguardtest.RSS(p.cmd.Process.Pid)
	if err != nil {
		t.Skip(err)
	}
	field := hpack.HeaderField{Name: "x-pin", Value: strings.Repeat("p", 15<<10)}
	held := 0
	for range 24 {
		h, err := netguardtest.Connect(p.addr, p.clientTLS)
		if err != nil {
			continue // over the per-address limit: closed at once
		}
		defer h.Close()
		opened, err := h.Open(400, bidiMethod, field)
		if err != nil {
			continue // a connection over the per-address limit is closed
		}
		if !h.Sync(20 * time.Second) {
			continue
		}
		held += opened - h.Resets()[http2.ErrCodeRefusedStream]
	}
	after, err := netguardtest.RSS(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resident memory %d MiB before, %d MiB after; %d calls held", before>>20, after>>20, held)
	if max := netguard.DefaultMaxConnsPerPeer * netguard.DefaultMaxStreams; held > max {
		t.Errorf("one peer holds %d calls, want at most %d", held, max)
	}
	if grew := after - before; grew > 128<<20 {
		t.Errorf("the plugin's resident memory grew by %d MiB, want under 128 MiB", grew>>20)
	}
}

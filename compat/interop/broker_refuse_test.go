package interop_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/compat/internal/counter"
	"github.com/tetherplug/tether/goplugin"
)

// A plugin that announces a brokered listener off this machine, or a Unix
// socket outside its private directory, is refused: the host's Dial fails
// at once with ErrAddressRefused naming the address, and never connects
// there (here a live socket of the test's, which must see no connection).
func TestBrokerRefusesNonLocalAddress(t *testing.T) {
	decoyDir, err := os.MkdirTemp("", "decoy-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(decoyDir) })
	decoy := filepath.Join(decoyDir, "elsewhere.sock")
	ln, err := net.Listen("unix", decoy)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reached := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			reached <- struct{}{}
			_ = c.Close()
		}
	}()
	for _, tc := range []struct{ name, network, address string }{
		{"tcp off this machine", "tcp", "10.0.0.1:1"},
		{"tcp wildcard", "tcp", "0.0.0.0:1"},
		{"unix outside its directory", "unix", decoy},
		{"unix relative path", "unix", "elsewhere.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, cc, _ := launchCounter(t, ctx, goplugin.WithBroker(),
				tether.WithEnv("COUNTER_ANNOUNCE="+tc.network+","+tc.address))
			b, err := goplugin.Broker(c)
			if err != nil {
				t.Fatal(err)
			}
			id, err := cc.Share(ctx)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			conn, err := b.Dial(id)
			if err == nil {
				_, callErr := counter.NewCounterClient(conn).Get(ctx, "apples")
				t.Fatalf("Dial of %s %s = a connection (its call: %v), want ErrAddressRefused", tc.network, tc.address, callErr)
			}
			if !errors.Is(err, goplugin.ErrAddressRefused) || !strings.Contains(err.Error(), tc.address) {
				t.Errorf("Dial of %s %s = %v; want ErrAddressRefused naming the address", tc.network, tc.address, err)
			}
			if d := time.Since(start); d >= goplugin.DialTimeout {
				t.Errorf("Dial took %v to refuse, want less than %v", d, goplugin.DialTimeout)
			}
			// The broker still serves: the plugin reaches the host's AddHelper.
			_ = putThroughHost(t, ctx, b, cc)
		})
	}
	select {
	case <-reached:
		t.Error("the host connected to a socket outside the plugin's directory")
	default:
	}
}

// In multiplexed mode, the plugin's knock for an id the host never accepts
// is refused by the host (its message reaches the plugin's call) before
// the plugin's own 5 seconds run out, so that no late acknowledgement
// leaves the host expecting a stream the plugin will not open; the next
// brokered call then works.
func TestBrokerKnockForUnacceptedID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, cc, _ := launchCounter(t, ctx, goplugin.WithMultiplexedBroker())
	b, err := goplugin.Broker(c)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = cc.Put(ctx, "apples", 1, 4242)
	if err == nil || !strings.Contains(err.Error(), "broker id 4242: the host does not accept it") {
		t.Errorf("Put through an id the host never accepts = %v; want the host's refusal", err)
	}
	if d := time.Since(start); d >= goplugin.DialTimeout {
		t.Errorf("the refusal took %v, want less than the plugin's %v", d, goplugin.DialTimeout)
	}
	_ = putThroughHost(t, ctx, b, cc)
}

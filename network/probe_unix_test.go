//go:build unix

package network_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/network"
)

// TestRefusedSingleAddressFailsAtOnce: a target of one address where
// nothing listens, or a Unix socket that does not exist, fails at once with
// its cause and ErrUnavailable, not after the start timeout.
func TestRefusedSingleAddressFailsAtOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		target string
		opts   []tether.Option
		want   []string
	}{
		{"tcp://" + boundNotListening(t), []tether.Option{network.WithInsecure()}, []string{"nothing listens at 127.0.0.1:", "connection refused"}},
		{"unix://" + filepath.Join(t.TempDir(), "none.sock"), nil, []string{"there is no socket at /", "no such file or directory"}},
	} {
		start := time.Now()
		err := openFails(t, c.target, 20*time.Second, c.opts...)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s: failed after %v, want at once", c.target, took)
		}
		if !errors.Is(err, tether.ErrUnavailable) {
			t.Errorf("%s: %v is not ErrUnavailable", c.target, err)
		}
		wantIn(t, err, c.want...)
	}
}

// TestRefusedAddressesRetried: a target of several addresses keeps being
// retried while all refuse (one may come up), until the start timeout.
func TestRefusedAddressesRetried(t *testing.T) {
	t.Parallel()
	start := time.Now()
	err := openFails(t, "tcp://"+boundNotListening(t)+","+boundNotListening(t), time.Second, network.WithInsecure())
	if took := time.Since(start); took < time.Second {
		t.Errorf("failed after %v, before the start timeout of 1s", took)
	}
	wantIn(t, err, "connection refused")
}

// TestConnectObserver: WithConnectObserver is told of every attempt to a
// tcp target's addresses: the refused ones with their error, the one that
// connects with nil; the TLS and calls work over the connections it sees.
func TestConnectObserver(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := serveTLS(t, p)
	down := boundNotListening(t)
	var mu sync.Mutex
	seen := map[string][]error{}
	c := open(t, "tcp://"+down+","+srv.addr, network.WithTLSFiles(p.clientCert, p.clientKey, p.caFile),
		network.WithConnectObserver(func(addr string, err error) {
			mu.Lock()
			defer mu.Unlock()
			seen[addr] = append(seen[addr], err)
		}))
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if errs := seen[srv.addr]; len(errs) == 0 || errs[0] != nil {
		t.Errorf("attempts to the plugin's address: %v, want a connection", errs)
	}
	if errs := seen[down]; len(errs) == 0 || errs[0] == nil || !strings.Contains(errs[0].Error(), "connection refused") {
		t.Errorf("attempts to the refusing address: %v, want connection refused", errs)
	}
}

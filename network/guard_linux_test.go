package network_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/netguard"
	"github.com/tetherplug/tether/internal/netguard/netguardtest"
	"github.com/tetherplug/tether/tethertest"
)

// nofilePkg runs a program with a low RLIMIT_NOFILE.
const nofilePkg = "github.com/tetherplug/tether/internal/netguard/netguardtest/nofile"

// underNofile is the prefix that runs a program with n descriptors at most.
func underNofile(t *testing.T, n string) []string {
	return []string{tethertest.Build(t, nofilePkg), n}
}

// TestNetworkPluginClosesSilentConnections: a connection that sends
// nothing, not even a ClientHello, is closed after the handshake timeout
// (TETHER_HANDSHAKE_TIMEOUT, here 1 s).
func TestNetworkPluginClosesSilentConnections(t *testing.T) {
	t.Parallel()
	p := startGuarded(t, nil, netguard.EnvHandshakeTimeout+"=1s")
	c := netguardtest.Silent(t, p.addr, 1)[0]
	if took := netguardtest.WaitClosed(t, c, 10*time.Second); took < 900*time.Millisecond {
		t.Errorf("a silent connection was closed after %v, before the 1 s handshake timeout", took)
	}
}

// TestNetworkPluginSilentFloodLocksNoHostOut: with 128 descriptors, 300
// silent connections (more than both the descriptors and the pending
// cap) do not lock out a host: it opens the plugin and calls within 10 s,
// the oldest silent connections having been closed to make room, which the
// plugin logs.
func TestNetworkPluginSilentFloodLocksNoHostOut(t *testing.T) {
	t.Parallel()
	p := startGuarded(t, underNofile(t, "128"))
	netguardtest.Silent(t, p.addr, 300)
	start := time.Now()
	c := open(t, "tcp://"+p.addr, p.tlsOpt, tether.WithStartTimeout(10*time.Second)) // 120 s before the guard
	call(t, c, "after 300 silent connections")
	t.Logf("opened and called in %v", time.Since(start))
	if msg := "closed a connection that had not finished its handshake, to make room"; !p.logged(msg) {
		t.Errorf("the plugin did not log %q:\n%s", msg, p.stderr)
	}
}

// TestNetworkPluginLogsAcceptErrors: when accepting fails (descriptors run
// out: 48 of them, with the guard's caps raised out of the way), the
// plugin logs why, once however many times it fails in a row.
func TestNetworkPluginLogsAcceptErrors(t *testing.T) {
	t.Parallel()
	p := startGuarded(t, underNofile(t, "48"), netguard.EnvMaxConns+"=1000", netguard.EnvMaxPending+"=1000", netguard.EnvMaxConnsPerPeer+"=1000")
	netguardtest.Silent(t, p.addr, 100)
	const msg = "accepting a connection failed; new hosts wait until it succeeds"
	deadline := time.Now().Add(10 * time.Second)
	for !p.logged(msg) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := p.stderr.String()
	if !p.logged(msg) || !strings.Contains(out, "too many open files") {
		t.Fatalf("the plugin did not log %q naming the cause within 10 s:\n%s", msg, out)
	}
	if n := strings.Count(out, msg); n != 1 {
		t.Errorf("logged %q %d times within 10 s, want once (rate-limited)", msg, n)
	}
}

package network_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/metadata"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/netguard"
	"github.com/tetherplug/tether/internal/netguard/netguardtest"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// bidiMethod is a call that waits for the request a hostile client never
// sends.
const bidiMethod = "/tether.echo.v1.Echo/Bidi"

// TestNetworkPluginRefusesExcessStreams: a client with a valid certificate
// that ignores the plugin's SETTINGS and opens 1,000 header-only calls on
// one connection gets at most 128 (the default) accepted, the rest refused
// with REFUSED_STREAM, and the plugin still serves other hosts.
func TestNetworkPluginRefusesExcessStreams(t *testing.T) {
	t.Parallel()
	p := startGuarded(t, nil)
	h := netguardtest.Dial(t, p.addr, p.clientTLS)
	if v, ok := h.Setting(http2.SettingMaxConcurrentStreams, 5*time.Second); !ok || v != netguard.DefaultMaxStreams {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (set: %v), want %d", v, ok, netguard.DefaultMaxStreams)
	}
	const n = 1000
	if opened, err := h.Open(n, bidiMethod); err != nil {
		t.Fatalf("opened %d streams, then: %v", opened, err)
	}
	if !h.WaitResets(http2.ErrCodeRefusedStream, n-netguard.DefaultMaxStreams, 10*time.Second) {
		t.Fatalf("of %d header-only streams, %d refused within 10 s (resets %v); want at most %d accepted",
			n, h.Resets()[http2.ErrCodeRefusedStream], h.Resets(), netguard.DefaultMaxStreams)
	}
	if !h.Sync(5 * time.Second) {
		t.Fatalf("no PING answer after the streams: %v", h.CloseErr())
	}
	if refused := h.Resets()[http2.ErrCodeRefusedStream]; n-refused > netguard.DefaultMaxStreams {
		t.Errorf("%d streams accepted on one connection, want at most %d", n-refused, netguard.DefaultMaxStreams)
	}
	call(t, open(t, "tcp://"+p.addr, p.tlsOpt), "still serving")
}

// TestNetworkPluginRefusesHeaderFlood: calls whose headers take 1 MiB
// (64 fields of 16,000 bytes) are reset or their connection closed, the
// plugin's memory does not grow by what they sent, a call with 8 KiB of
// metadata still works, and one over the limit fails saying so.
func TestNetworkPluginRefusesHeaderFlood(t *testing.T) {
	t.Parallel()
	p := startGuarded(t, nil)
	h := netguardtest.Dial(t, p.addr, p.clientTLS)
	if v, ok := h.Setting(http2.SettingMaxHeaderListSize, 5*time.Second); !ok || v != netguard.DefaultMaxHeaderBytes {
		t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE = %d (set: %v), want %d", v, ok, netguard.DefaultMaxHeaderBytes)
	}
	before, rssErr := netguardtest.RSS(p.cmd.Process.Pid)
	big := make([]hpack.HeaderField, 64)
	for i := range big {
		big[i] = hpack.HeaderField{Name: "x-flood", Value: strings.Repeat(string(rune('a'+i%26)), 16000)}
	}
	const n = 48 // 48 MiB of headers
	opened, _ := h.Open(n, bidiMethod, big...)
	ended := func() bool {
		r := h.Resets()
		return r[http2.ErrCodeFrameSize]+r[http2.ErrCodeRefusedStream]+r[http2.ErrCodeProtocol] >= opened
	}
	deadline := time.Now().Add(20 * time.Second)
	for !ended() && time.Now().Before(deadline) {
		select {
		case <-h.Closed():
			deadline = time.Now() // the plugin dropped the connection: refused too
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case <-h.Closed():
	default:
		if !ended() {
			t.Errorf("of %d calls with 1 MiB of headers, the plugin reset %v within 20 s and kept the connection; want all refused", opened, h.Resets())
		}
	}
	if rssErr == nil {
		after, err := netguardtest.RSS(p.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("resident memory: %d MiB before, %d MiB after", before>>20, after>>20)
		if grew := after - before; grew > 24<<20 {
			t.Errorf("the plugin's resident memory grew by %d MiB after %d MiB of refused headers, want under 24 MiB", grew>>20, n)
		}
	}

	c := open(t, "tcp://"+p.addr, p.tlsOpt)
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ok := metadata.AppendToOutgoingContext(ctx, "x-token", strings.Repeat("t", 8<<10))
	if _, err := echo.Unary(ok, &echov1.Message{Text: "8 KiB of metadata"}); err != nil {
		t.Errorf("a call with 8 KiB of metadata: %v", err)
	}
	tooBig := metadata.AppendToOutgoingContext(ctx, "x-token", strings.Repeat("t", 32<<10))
	_, err = echo.Unary(tooBig, &echov1.Message{Text: "32 KiB of metadata"})
	if err == nil || !strings.Contains(err.Error(), "header list size to send violates the maximum size (16384 bytes) set by server") {
		t.Errorf("a call with 32 KiB of metadata: %v, want the limit named", err)
	}
	if errors.Is(err, tether.ErrUnavailable) {
		t.Errorf("a call over the header limit is %v; the plugin is available", err)
	}
}

// TestNetworkPluginRefusesBadLimits: a limit set to what it cannot be stops
// the plugin before it listens, naming the variable and the value.
func TestNetworkPluginRefusesBadLimits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ env, want string }{
		{netguard.EnvMaxStreams + "=lots", `tether: TETHER_MAX_STREAMS: \"lots\" is not a whole number from 1 to 4294967295`},
		{netguard.EnvMaxHeaderBytes + "=0", `TETHER_MAX_HEADER_BYTES: \"0\" is not a whole number from 1 to 4294967295`},
		{netguard.EnvHandshakeTimeout + "=10", `TETHER_HANDSHAKE_TIMEOUT: \"10\" is not a positive duration such as 10s`},
	} {
		t.Run(c.env, func(t *testing.T) {
			t.Parallel()
			p := startGuardedNoWait(t, nil, c.env)
			select {
			case err := <-p.exited:
				p.exited <- err
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 1 {
					t.Errorf("exit: %v, want status 1", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the plugin did not exit within 20 s")
			}
			out := p.stderr.String()
			if !p.logged("cannot serve on the network") || !strings.Contains(out, c.want) || p.listening() != "" {
				t.Errorf("stderr does not say it cannot serve because %s:\n%s", c.want, out)
			}
		})
	}
}

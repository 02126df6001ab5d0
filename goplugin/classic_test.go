package goplugin

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/execruntime"
	gpwire "github.com/tetherplug/tether/internal/goplugin"
)

// fakeClassicPlugin starts a classic-mode broker whose plugin's socket
// directory is dir, on a fake stream of the plugin's.
func fakeClassicPlugin(t *testing.T, dir string) (*GRPCBroker, *fakePluginStream) {
	t.Helper()
	stream := &fakePluginStream{toHost: make(chan gpwire.ConnInfo, 8), acks: make(chan gpwire.ConnInfo, 8), stop: make(chan struct{})}
	b := startBroker("fake", execruntime.BrokerEnv{Network: "unix", SocketDir: dir}, stream,
		func() { stream.once.Do(func() { close(stream.stop) }) })
	t.Cleanup(func() { _ = b.Close() })
	return b, stream
}

// shortTempDir is a temporary directory short enough for Unix socket paths.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// What the plugin announces in its directory must be a Unix socket there,
// not a file or a link to a socket elsewhere; Dial refuses it at once.
func TestClassicDialRefusesNonSockets(t *testing.T) {
	dir, elsewhere := shortTempDir(t), shortTempDir(t)
	ln, err := net.Listen("unix", filepath.Join(elsewhere, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Symlink(filepath.Join(elsewhere, "s.sock"), filepath.Join(dir, "link.sock")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b, stream := fakeClassicPlugin(t, dir)
	for _, name := range []string{"link.sock", "file.sock", "missing.sock", "../" + filepath.Base(elsewhere) + "/s.sock"} {
		id := b.NextId()
		address := filepath.Join(dir, name)
		stream.toHost <- gpwire.ConnInfo{ServiceID: id, Network: "unix", Address: address}
		start := time.Now()
		_, err := b.Dial(id)
		if !errors.Is(err, ErrAddressRefused) || !strings.Contains(err.Error(), address) {
			t.Errorf("Dial of %s = %v; want ErrAddressRefused naming it", name, err)
		}
		if d := time.Since(start); d >= DialTimeout {
			t.Errorf("Dial of %s took %v", name, d)
		}
	}
	stream.toHost <- gpwire.ConnInfo{ServiceID: 99, Network: "udp", Address: "127.0.0.1:1"}
	if _, err := b.Dial(99); !errors.Is(err, ErrAddressRefused) || !strings.Contains(err.Error(), `"udp"`) {
		t.Errorf("Dial of a udp address = %v; want ErrAddressRefused naming the network", err)
	}
}

// When the plugin's broker stream ends early, a Dial waiting for an
// announcement ends at once with ErrBrokerClosed, and so do later calls.
func TestStreamEndEndsBroker(t *testing.T) {
	b, stream := fakeClassicPlugin(t, shortTempDir(t))
	dialed := make(chan error, 1)
	go func() { _, err := b.Dial(b.NextId()); dialed <- err }()
	start := time.Now()
	stream.once.Do(func() { close(stream.stop) })
	select {
	case err := <-dialed:
		if !errors.Is(err, ErrBrokerClosed) {
			t.Errorf("Dial when the stream ended = %v, want ErrBrokerClosed", err)
		}
	case <-time.After(DialTimeout):
		t.Fatal("Dial still waiting after the stream ended")
	}
	if d := time.Since(start); d >= DialTimeout {
		t.Errorf("Dial took %v to end", d)
	}
	if _, err := b.Accept(b.NextId()); !errors.Is(err, ErrBrokerClosed) {
		t.Errorf("Accept after the stream ended = %v, want ErrBrokerClosed", err)
	}
}

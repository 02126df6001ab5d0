package e2e_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

func TestLaunchDispenseCall(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "", tether.WithInterface("echo", 1, 2))

	if got := c.Name(); got != "echoplugin" {
		t.Errorf("Name() = %q, want the file name echoplugin", got)
	}
	if got := c.ProtocolVersion(); got != 1 {
		t.Errorf("ProtocolVersion() = %d, want 1", got)
	}
	if v, ok := c.Version("echo"); !ok || v != 2 {
		t.Errorf(`Version("echo") = %d, %v; want 2, true (highest shared of host {1,2} and plugin {1,2})`, v, ok)
	}
	if _, ok := c.Version("nope"); ok {
		t.Error(`Version("nope") reports an interface the plugin does not serve`)
	}
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatalf("Dispense: %v", err)
	}
	resp, err := echo.Unary(t.Context(), &echov1.Message{Text: "hello", Payload: []byte{1, 2, 3}})
	if err != nil {
		t.Fatalf("Unary: %v", err)
	}
	if resp.GetText() != "hello" || string(resp.GetPayload()) != "\x01\x02\x03" {
		t.Errorf("Unary echoed %v", resp)
	}
	stream, err := echo.ServerStream(t.Context(), &echov1.Message{Text: "s", Count: 3})
	if err != nil {
		t.Fatalf("ServerStream: %v", err)
	}
	n := 0
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("ServerStream Recv: %v", err)
		}
		n++
	}
	if n != 3 {
		t.Errorf("ServerStream sent %d messages, want 3", n)
	}

	_, err = tether.Dispense(c, "greeter", echov1.NewEchoClient)
	var pe *tether.PluginError
	if !errors.Is(err, tether.ErrNotImplemented) || !errors.As(err, &pe) || pe.Plugin != "echoplugin" {
		t.Errorf("Dispense of an interface the plugin lacks: %v, want a *PluginError wrapping ErrNotImplemented", err)
	}
}

func TestNegotiatedVersions(t *testing.T) {
	t.Parallel()
	t.Run("interface v1 only", func(t *testing.T) {
		t.Parallel()
		c := launchEcho(t, "", tether.WithInterface("echo", 1))
		if v, _ := c.Version("echo"); v != 1 {
			t.Errorf(`Version("echo") = %d, want 1`, v)
		}
	})
	t.Run("not asked for", func(t *testing.T) {
		t.Parallel()
		c := launchEcho(t, "")
		if got := c.Interfaces(); len(got) != 1 || got["echo"] != 2 {
			t.Errorf("Interfaces() = %v, want map[echo:2] (the plugin's highest)", got)
		}
	})
	t.Run("protocol: highest shared", func(t *testing.T) {
		t.Parallel()
		c := launchEcho(t, "v3", tether.WithProtocolVersions(1, 2, 3, 4))
		if got := c.ProtocolVersion(); got != 3 {
			t.Errorf("ProtocolVersion() = %d, want 3", got)
		}
	})
}

func TestKillWithContext(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "")
	pid := c.Pid()
	if err := c.Kill(t.Context()); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if !reaped(pid) {
		t.Errorf("process %d still exists after Kill", pid)
	}
}

func TestCallingMissingMethod(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "")
	err := c.Conn().Invoke(t.Context(), "/tether.echo.v1.Echo/Nope", &echov1.Message{}, &echov1.Message{})
	if !errors.Is(err, tether.ErrNotImplemented) {
		t.Errorf("calling a method the plugin lacks: %v, want ErrNotImplemented", err)
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("status.Code = %v, want Unimplemented (the gRPC status stays visible)", status.Code(err))
	}
}

// TestCloseLeavesNoGoroutines runs alone (not in parallel) so that it can
// check that a closed client leaves no goroutine behind: no forwarder, no
// gRPC machinery, no process watcher.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t)
	var out syncBuffer
	log, rec := newRecorder()
	c := launchEcho(t, "chatty", tether.WithAutoMTLS(), tether.WithStdout(&out), tether.WithLogger(log))
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "output from the plugin", func() bool {
		_, ok := rec.find("stderr line 1")
		return ok && strings.Contains(out.String(), "stdout line 1")
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// TestOutputAfterHandshake: what a plugin prints on stdout and stderr after
// its handshake reaches the host's sinks, and calls keep working meanwhile.
func TestOutputAfterHandshake(t *testing.T) {
	t.Parallel()
	t.Run("stdout writer", func(t *testing.T) {
		t.Parallel()
		var out syncBuffer
		log, rec := newRecorder()
		c := launchEcho(t, "chatty", tether.WithStdout(&out), tether.WithLogger(log))
		echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
		for i := 0; !strings.Contains(out.String(), "stdout line 10\n"); i++ {
			if _, err := echo.Unary(t.Context(), &echov1.Message{Text: fmt.Sprint(i)}); err != nil {
				t.Fatalf("call %d while the plugin prints: %v", i, err)
			}
			if i > 2000 {
				t.Fatalf("10 stdout lines never arrived; got %q", out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if !strings.HasPrefix(out.String(), "stdout line 0\n") {
			t.Errorf("stdout starts %q, want the first line after the handshake", out.String()[:20])
		}
		eventually(t, 5*time.Second, "stderr line 10 in the logger", func() bool {
			_, ok := rec.find("stderr line 10")
			return ok
		})
		r, _ := rec.find("stderr line 3")
		if r.Level != slog.LevelDebug || r.Attrs["plugin"] != "echoplugin" {
			t.Errorf("plain stderr line logged as %+v, want debug with plugin=echoplugin", r)
		}
		if err := c.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
	t.Run("stdout to logger", func(t *testing.T) {
		t.Parallel()
		log, rec := newRecorder()
		c := launchEcho(t, "chatty", tether.WithLogger(log))
		if err := c.Ping(t.Context()); err != nil { // the plugin starts printing at its first call
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "stdout line 5 in the logger", func() bool {
			_, ok := rec.find("stdout line 5")
			return ok
		})
		r, _ := rec.find("stdout line 5")
		if r.Level != slog.LevelInfo || r.Attrs["stream"] != "stdout" || r.Attrs["plugin"] != "echoplugin" {
			t.Errorf("stdout line logged as %+v, want info with stream=stdout and plugin=echoplugin", r)
		}
		if err := c.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

// TestKillEscalates: a plugin that ignores its controller and SIGTERM is
// still gone after Kill, within about two kill timeouts.
func TestKillEscalates(t *testing.T) {
	t.Parallel()
	const kill = 200 * time.Millisecond
	c := launchEcho(t, "stubborn", tether.WithKillTimeout(kill))
	pid := c.Pid()
	start := time.Now()
	if err := c.Kill(t.Context()); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	elapsed := time.Since(start)
	t.Logf("Kill took %v", elapsed)
	if elapsed < 2*kill {
		t.Errorf("Kill took %v: the plugin ignores shutdown and SIGTERM, so it should have waited two kill timeouts", elapsed)
	}
	if elapsed > 2*kill+time.Second {
		t.Errorf("Kill took %v, want about %v", elapsed, 2*kill)
	}
	if !reaped(pid) {
		t.Errorf("process %d still exists after Kill", pid)
	}
	var pe *tether.PluginError
	if !errors.As(c.ExitError(), &pe) || pe.ExitCode != -1 {
		t.Errorf("ExitError() = %v, want exit code -1 (killed by a signal)", c.ExitError())
	}
}

// TestCrashDuringStream: a plugin dying in the middle of a stream fails
// the stream's Recv with ErrPluginExited.
func TestCrashDuringStream(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "panic", tether.WithLogger(slog.New(slog.DiscardHandler)))
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	stream, err := echo.ServerStream(t.Context(), &echov1.Message{Text: "s", Count: 5})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err = stream.Recv(); err != nil {
			break
		}
	}
	if !errors.Is(err, tether.ErrPluginExited) || status.Code(err) != codes.Unavailable {
		t.Errorf("Recv from a plugin that died mid-stream: %v (code %v), want ErrPluginExited with code Unavailable", err, status.Code(err))
	}
	if !strings.Contains(err.Error(), "asked to panic mid-stream") {
		t.Errorf("the error does not quote the panic: %v", err)
	}
}

// TestCallErrorsThatAreNotThePlugins: a call the caller cancels, or that
// runs out of its deadline, keeps its plain gRPC error, and the plugin
// lives on. A streaming method the plugin lacks is ErrNotImplemented.
func TestCallErrorsThatAreNotThePlugins(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "")
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := echo.Unary(ctx, &echov1.Message{DelayMs: 10_000})
	if status.Code(err) != codes.Canceled || errors.Is(err, tether.ErrPluginExited) {
		t.Errorf("cancelled call: %v, want a plain Canceled error", err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = echo.Unary(ctx, &echov1.Message{DelayMs: 10_000})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("call past its deadline: %v, want DeadlineExceeded", err)
	}
	// An Unavailable the live plugin sends itself is passed on as it is,
	// without waiting to see whether the plugin died.
	start := time.Now()
	_, err = echo.Unary(t.Context(), &echov1.Message{Text: plugintest.UnavailableText})
	if status.Code(err) != codes.Unavailable || errors.Is(err, tether.ErrPluginExited) {
		t.Errorf("plugin's own Unavailable: %v, want it unchanged", err)
	}
	if d := time.Since(start); d >= time.Second {
		t.Errorf("plugin's own Unavailable took %v: the host waited for an exit that never came", d)
	}
	if err := c.Ping(t.Context()); err != nil {
		t.Errorf("Ping after the failed calls: %v", err)
	}

	desc := &grpc.StreamDesc{StreamName: "Nope", ServerStreams: true}
	s, err := c.Conn().NewStream(t.Context(), desc, "/tether.echo.v1.Echo/Nope")
	if err == nil {
		if err = s.SendMsg(&echov1.Message{}); err == nil {
			_ = s.CloseSend()
			err = s.RecvMsg(&echov1.Message{})
		}
	}
	if !errors.Is(err, tether.ErrNotImplemented) || status.Code(err) != codes.Unimplemented {
		t.Errorf("streaming method the plugin lacks: %v, want ErrNotImplemented with code Unimplemented", err)
	}
}

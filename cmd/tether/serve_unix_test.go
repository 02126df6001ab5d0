//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/network"
	"google.golang.org/grpc"
)

// stop sends serve SIGTERM and checks it exits 0 within 10 s.
func (s *served) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case err := <-s.exited:
		s.exited <- err
		if err != nil {
			t.Errorf("tether serve after SIGTERM: %v, want exit 0\n%s", err, s.stderr)
		}
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Fatal("tether serve did not exit within 10 s of SIGTERM")
	}
}

// TestServeStreamsAndDrains: a streaming call through serve (the CLI's and
// a host's); on SIGTERM a stream in flight still completes, a new
// connection is refused, and serve exits 0 with its plugin gone.
func TestServeStreamsAndDrains(t *testing.T) {
	s := startServe(t, echo(t), "--insecure", "--grace", "5s")
	r := run(t, "", nil, "call", "tcp://"+s.addr, "--insecure", "tether.echo.v1.Echo/ServerStream", `{"text":"hi","count":3}`)
	requireOK(t, r)
	if n := len(jsonLines(t, r.stdout)); n != 3 {
		t.Errorf("server stream through serve: %d messages, want 3:\n%s", n, r.stdout)
	}
	if !strings.Contains(s.stderrSoFar(t), "serving plaintext gRPC") {
		t.Error("--insecure logged no warning")
	}

	c := openThrough(t, s, network.WithInsecure(), tether.WithInterface("echo", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bs, err := echov1.NewEchoClient(c.Conn()).Bidi(ctx)
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, bs, "before")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLine(t, s, "stopping: calls in flight may finish, new calls are refused")
	echoOnce(t, bs, "during the drain")
	if err := bs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Recv(); err == nil {
		t.Error("bidi after CloseSend: a message, want its end")
	}
	select {
	case err := <-s.exited:
		s.exited <- err
		if err != nil {
			t.Errorf("serve after SIGTERM and a drained stream: %v\n%s", err, s.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit within 10 s of SIGTERM")
	}
	short, stop := context.WithTimeout(ctx, 3*time.Second)
	defer stop()
	if _, err := tether.Open(short, "tcp://"+s.addr, network.WithInsecure(), tether.WithLogger(slog.New(slog.DiscardHandler))); err == nil {
		t.Error("a new host reached the plugin after serve stopped")
	}
}

// echoOnce sends text on a bidi stream and wants it back within 5 s.
func echoOnce(t *testing.T, bs grpc.BidiStreamingClient[echov1.Message, echov1.Message], text string) {
	t.Helper()
	if err := bs.Send(&echov1.Message{Text: text}); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	got := make(chan string, 1)
	go func() {
		m, err := bs.Recv()
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- m.GetText()
	}()
	select {
	case g := <-got:
		if g != text {
			t.Fatalf("bidi echo of %q: %q", text, g)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no echo of %q within 5 s", text)
	}
}

// stderrSoFar is what serve logged up to its listening line and a moment
// after; it reads the lines channel's backlog without waiting.
func (s *served) stderrSoFar(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for {
		select {
		case line := <-s.lines:
			m, _ := json.Marshal(line)
			b.Write(append(m, '\n'))
		default:
			return b.String()
		}
	}
}

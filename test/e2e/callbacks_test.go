package e2e_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

const callbackPlugin = plugintest.CallbackPlugin

// hostEcho is the service the test host provides to the plugin. Unary
// answers "host:TEXT"; with block set it waits for its context instead and
// reports what ended it.
type hostEcho struct {
	echov1.UnimplementedEchoServer
	block   bool
	ended   chan error         // receives ctx.Err() of blocked calls
	entered chan time.Duration // receives the deadline left when a blocked call starts (0: none)
}

func (h *hostEcho) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	if h.block {
		left := time.Duration(0)
		if d, ok := ctx.Deadline(); ok {
			left = time.Until(d)
		}
		h.entered <- left
		<-ctx.Done()
		h.ended <- ctx.Err()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return &echov1.Message{Text: "host:" + m.GetText(), Payload: m.GetPayload()}, nil
}

func (h *hostEcho) Bidi(s grpc.BidiStreamingServer[echov1.Message, echov1.Message]) error {
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(&echov1.Message{Text: "host:" + m.GetText()}); err != nil {
			return err
		}
	}
}

func launchCallbackPlugin(t *testing.T, impl *hostEcho, logs io.Writer) (*tether.Client, echov1.EchoClient) {
	t.Helper()
	path := tethertest.Build(t, callbackPlugin)
	if logs == nil {
		logs = io.Discard
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, path,
		tether.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, impl) }))
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	return c, echo
}

func TestCallbacksManyConcurrentCallsEachWay(t *testing.T) {
	defer goleak.VerifyNone(t)
	c, echo := launchCallbackPlugin(t, &hostEcho{}, nil)
	defer c.Close()

	const n = 100
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() { // host -> plugin -> host
			defer wg.Done()
			text := fmt.Sprintf("relay-%d", i)
			resp, err := echo.Unary(ctx, &echov1.Message{Text: text})
			if err == nil && resp.GetText() != "plugin:host:"+text {
				err = fmt.Errorf("relay %d answered %q", i, resp.GetText())
			}
			errs <- err
		}()
		go func() { // host -> plugin only
			defer wg.Done()
			resp, err := echo.Unary(ctx, &echov1.Message{Text: "local"})
			if err == nil && resp.GetText() != "local" {
				err = fmt.Errorf("local call answered %q", resp.GetText())
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCallbackStreaming(t *testing.T) {
	defer goleak.VerifyNone(t)
	c, echo := launchCallbackPlugin(t, &hostEcho{}, nil)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := echo.Bidi(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		text := fmt.Sprintf("m%d", i)
		if err := stream.Send(&echov1.Message{Text: text}); err != nil {
			t.Fatal(err)
		}
		got, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got.GetText() != "plugin:host:"+text {
			t.Fatalf("got %q, want %q", got.GetText(), "plugin:host:"+text)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("after CloseSend: %v, want EOF", err)
	}
}

func TestCallbackDeadlineAndCancellationReachTheHost(t *testing.T) {
	defer goleak.VerifyNone(t)
	impl := &hostEcho{block: true, ended: make(chan error, 2), entered: make(chan time.Duration, 2)}
	c, echo := launchCallbackPlugin(t, impl, nil)
	defer c.Close()

	// A deadline set by the host on its call to the plugin reaches the
	// host's own callback service, through the plugin's callback.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err := echo.Unary(ctx, &echov1.Message{Text: "deadline"})
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("call with deadline: %v, want DeadlineExceeded", err)
	}
	if left := tethertest.Recv(t, impl.entered, 10*time.Second); left <= 0 || left > 500*time.Millisecond {
		t.Errorf("callback saw deadline %v away, want within (0, 500ms]", left)
	}
	if got := tethertest.Recv(t, impl.ended, 10*time.Second); !errors.Is(got, context.DeadlineExceeded) && !errors.Is(got, context.Canceled) {
		t.Errorf("host's callback ended with %v", got)
	}

	// Cancelling the host's call cancels the callback it caused.
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := echo.Unary(ctx, &echov1.Message{Text: "cancel"})
		done <- err
	}()
	tethertest.Recv(t, impl.entered, 10*time.Second) // the callback is running in the host
	cancel()
	select {
	case got := <-impl.ended:
		if !errors.Is(got, context.Canceled) {
			t.Errorf("host's callback ended with %v, want Canceled", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancellation did not reach the host's callback within 5s")
	}
	if err := tethertest.Recv(t, done, 10*time.Second); status.Code(err) != codes.Canceled {
		t.Errorf("cancelled call: %v", err)
	}
}

func TestPluginBlockedInCallbackGetsAnErrorWhenHostCloses(t *testing.T) {
	defer goleak.VerifyNone(t)
	impl := &hostEcho{block: true, ended: make(chan error, 1), entered: make(chan time.Duration, 1)}
	var logs syncBuffer
	c, echo := launchCallbackPlugin(t, impl, &logs)

	done := make(chan error, 1)
	go func() {
		_, err := echo.Unary(context.Background(), &echov1.Message{Text: "block"})
		done <- err
	}()
	tethertest.Recv(t, impl.entered, 10*time.Second)
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a plugin blocked in a callback", d)
	}
	if err := tethertest.Recv(t, done, 10*time.Second); err == nil {
		t.Fatal("the host's call succeeded after Close")
	}
	tethertest.Recv(t, impl.ended, 10*time.Second)
	if !strings.Contains(logs.String(), "callback failed") {
		t.Errorf("the plugin did not report its failed callback; logs:\n%s", logs.String())
	}
}

// TestPluginBlockedInCallbackGetsAnErrorWhenHostDies: the host is killed
// with SIGKILL while the plugin waits inside a callback; the plugin's
// callback fails at once instead of hanging, and the plugin exits.
func TestPluginBlockedInCallbackGetsAnErrorWhenHostDies(t *testing.T) {
	t.Parallel()
	report := filepath.Join(t.TempDir(), "report.jsonl")
	host := exec.Command(tethertest.Build(t, plugintest.HostProg), "-block-in-callback", tethertest.Build(t, callbackPlugin))
	host.Env = append(os.Environ(), "CALLBACK_REPORT="+report)
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Wait()
	defer host.Process.Kill()

	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatal("the host printed no plugin pid")
	}
	pid, err := strconv.Atoi(lines.Text())
	if err != nil {
		t.Fatalf("host printed %q, want the plugin's pid", lines.Text())
	}
	if !lines.Scan() || lines.Text() != "blocked" {
		t.Fatalf("host printed %q, want blocked", lines.Text())
	}

	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the plugin's blocked callback did not fail within 2 s of its host's death", func() bool {
		b, _ := os.ReadFile(report)
		return strings.Contains(string(b), "callback failed")
	})
	eventually(t, 2*time.Second, "plugin still running 2 s after its host was killed", func() bool { return exited(pid) })
}

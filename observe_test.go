package tether_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/tethertest"
)

// recorder is an Observer that records what it is told.
type recorder struct {
	mu      sync.Mutex
	clients []string // names of the clients observed
	methods []string // methods of the calls seen, unary and streaming
	refused []error
	closed  int
}

func (r *recorder) ObserveClient(c *tether.Client) tether.ClientObserver {
	r.mu.Lock()
	r.clients = append(r.clients, c.Name())
	r.mu.Unlock()
	note := func(m string) {
		r.mu.Lock()
		r.methods = append(r.methods, m)
		r.mu.Unlock()
	}
	return tether.ClientObserver{
		Unary: func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, next grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			note(method)
			return next(ctx, method, req, reply, cc, opts...)
		},
		Stream: func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, next grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			note(method)
			return next(ctx, desc, cc, method, opts...)
		},
		Refused: func(err error) {
			r.mu.Lock()
			r.refused = append(r.refused, err)
			r.mu.Unlock()
		},
		Closed: func() {
			r.mu.Lock()
			r.closed++
			r.mu.Unlock()
		},
	}
}

func (r *recorder) snapshot() recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return recorder{clients: append([]string(nil), r.clients...), methods: append([]string(nil), r.methods...),
		refused: append([]error(nil), r.refused...), closed: r.closed}
}

// TestObserverSeesCallsAndClose: an observer learns the client's name at
// Open, sees its calls on the transport in use, and is told once of its
// close.
func TestObserverSeesCallsAndClose(t *testing.T) {
	t.Parallel()
	var rec recorder
	c, err := tether.Launch(t.Context(), echoPath(t), tether.WithObserver(&rec), tether.WithName("observed"),
		tether.WithStartTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	tethertest.RequireTransport(t, c.Name(), c.Transport())
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	st, err := echo.ServerStream(t.Context(), &echov1.Message{Text: "s", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	got := rec.snapshot()
	if len(got.clients) != 1 || got.clients[0] != "observed" {
		t.Errorf("observer saw clients %v, want [observed]", got.clients)
	}
	want := map[string]bool{"/tether.echo.v1.Echo/Unary": false, "/tether.echo.v1.Echo/ServerStream": false}
	for _, m := range got.methods {
		if _, ok := want[m]; ok {
			want[m] = true
		}
	}
	for m, seen := range want {
		if !seen {
			t.Errorf("the observer's interceptors did not see %s (saw %v)", m, got.methods)
		}
	}
	if got.closed != 1 {
		t.Errorf("Closed called %d times, want once", got.closed)
	}
}

// TestObserverToldOfFailedOpen: a load that fails tells its observer the
// client is closed, so that it can forget it.
func TestObserverToldOfFailedOpen(t *testing.T) {
	t.Parallel()
	var rec recorder
	_, err := tether.Launch(t.Context(), echoPath(t), tether.WithObserver(&rec), tether.WithInterface("echo", 9),
		tether.WithStartTimeout(20*time.Second))
	if !errors.Is(err, tether.ErrIncompatibleVersion) {
		t.Fatalf("Launch asking for echo v9: %v, want ErrIncompatibleVersion", err)
	}
	got := rec.snapshot()
	if got.closed != 1 {
		t.Errorf("Closed called %d times after a failed Open, want once", got.closed)
	}
	if len(got.refused) != 1 || !errors.Is(got.refused[0], tether.ErrIncompatibleVersion) {
		t.Errorf("Refused told %v, want one ErrIncompatibleVersion", got.refused)
	}
}

// TestRestartsCountsReplacedInstances: Restarts counts the instances
// started after one exited under WithRestart, with the last exit status.
func TestRestartsCountsReplacedInstances(t *testing.T) {
	t.Parallel()
	c, err := tether.Launch(t.Context(), echoPath(t), tether.WithRestart(), tether.WithStartTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := c.Restarts(); r.Count != 0 || r.LastExit != nil {
		t.Fatalf("Restarts before any exit = %+v, want none", r)
	}
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	for i, code := range []int{3, 5} {
		pid := c.Pid()
		if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "exit:" + strconv.Itoa(code)}); err == nil {
			t.Fatal("the call that makes the plugin exit succeeded")
		}
		eventually(t, 20*time.Second, "no replacement took calls", func() bool {
			p := c.Pid()
			return p != 0 && p != pid && c.Restarts().Count == i+1
		})
		r := c.Restarts()
		if r.LastExitCode != code || !errors.Is(r.LastExit, tether.ErrPluginExited) || r.LastExitTime.IsZero() {
			t.Errorf("after exit %d: Restarts = %+v, want LastExitCode %d and an ErrPluginExited", code, r, code)
		}
	}
}

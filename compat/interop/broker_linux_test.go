//go:build linux

package interop_test

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/compat/internal/counter"
	"github.com/tetherplug/tether/goplugin"
)

// brokerModes are the broker's two modes, as launch options.
var brokerModes = []struct {
	name string
	opt  tether.Option
}{{"classic", goplugin.WithBroker()}, {"multiplexed", goplugin.WithMultiplexedBroker()}}

// openFDs counts the test process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries) - 1 // ReadDir's own descriptor
}

// awaitFDs waits up to 10 seconds for the open descriptors to come back
// to want (connections close in the background), then fails.
func awaitFDs(t *testing.T, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := openFDs(t)
		if got <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %d file descriptors open, %d before", what, got, want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A load, use and close cycle of the broker, in both modes, leaves no file
// descriptor and no goroutine behind: its listeners, sockets, streams and
// connections all close with the client.
func TestBrokerNoLeak(t *testing.T) {
	for _, mode := range brokerModes {
		t.Run(mode.name, func(t *testing.T) {
			cycle := func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				c, cc, _ := launchCounter(t, ctx, mode.opt)
				b, err := goplugin.Broker(c)
				if err != nil {
					t.Fatal(err)
				}
				served := putThroughHost(t, ctx, b, cc)
				getThroughPlugin(t, ctx, b, cc)
				if err := c.Close(); err != nil {
					t.Errorf("client Close: %v", err)
				}
				for range 2 {
					if err := receive(t, served, 10*time.Second, "AcceptAndServe after Close"); err != nil {
						t.Errorf("AcceptAndServe after Close = %v, want nil", err)
					}
				}
			}
			cycle() // warm up: gRPC's and the runtime's lasting descriptors and goroutines
			ignore := goleak.IgnoreCurrent()
			before := openFDs(t)
			cycle()
			awaitFDs(t, before, "after a load/use/close cycle")
			goleak.VerifyNone(t, ignore)
		})
	}
}

// blockingAdder is an AddHelper whose Sum blocks until its call ends,
// telling in when a call arrives.
type blockingAdder struct{ in chan struct{} }

func (a *blockingAdder) Sum(ctx context.Context, _, _ int64) (int64, error) {
	a.in <- struct{}{}
	<-ctx.Done()
	return 0, ctx.Err()
}

// A plugin killed (SIGKILL) while brokered calls are in flight:
// the calls, AcceptAndServe and a pending Dial end with an error within a
// bounded time, the broker reports ErrBrokerClosed, and nothing leaks.
func TestBrokerPluginKilledMidCall(t *testing.T) {
	for _, mode := range brokerModes {
		t.Run(mode.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			before := openFDs(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, cc, dir, pid := launchCounterPID(t, ctx, mode.opt)
			b, err := goplugin.Broker(c)
			if err != nil {
				t.Fatal(err)
			}
			killMidCalls(t, ctx, b, cc, pid)
			if err := c.Close(); err != nil && !errors.Is(err, tether.ErrPluginExited) {
				t.Logf("client Close after the kill: %v", err)
			}
			if left := sockets(t, dir); len(left) != 0 {
				t.Errorf("sockets left after the killed plugin's client closed: %v", left)
			}
			awaitFDs(t, before, "after the killed plugin's client closed")
			goleak.VerifyNone(t, ignore)
		})
	}
}

// killMidCalls has a call blocked in the host's brokered AddHelper and
// another in the plugin (one made through the main connection, one through
// the plugin's brokered Counter), and a Dial waiting, kills the plugin, and
// checks that all end.
func killMidCalls(t *testing.T, ctx context.Context, b *goplugin.GRPCBroker, cc counter.CounterClient, pid int) {
	t.Helper()
	helper := &blockingAdder{in: make(chan struct{}, 2)}
	id := b.NextId()
	served := make(chan error, 1)
	go func() {
		served <- b.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(opts...)
			counter.RegisterAddHelper(s, helper)
			return s
		})
	}()
	shared, err := cc.Share(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := b.Dial(shared)
	if err != nil {
		t.Fatal(err)
	}
	calls := make(chan error, 2)
	go func() { _, err := cc.Put(ctx, "apples", 1, id); calls <- err }()
	go func() { _, err := counter.NewCounterClient(conn).Put(ctx, "pears", 1, id); calls <- err }()
	// The plugin's Put holds its store's lock while it calls the host, so
	// one call reaches the host and the other waits in the plugin.
	receive(t, helper.in, 10*time.Second, "a brokered call reaching the host")
	dialed := make(chan error, 1)
	go func() { _, err := b.Dial(b.NextId()); dialed <- err }()
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := receive(t, calls, 10*time.Second, "a call in flight when the plugin was killed"); err == nil {
			t.Error("a call in flight when the plugin was killed succeeded")
		}
	}
	if err := receive(t, served, 10*time.Second, "AcceptAndServe after the kill"); err != nil {
		t.Errorf("AcceptAndServe after the kill = %v, want nil (the broker closed)", err)
	}
	if err := receive(t, dialed, 10*time.Second, "a Dial waiting when the plugin was killed"); !errors.Is(err, goplugin.ErrBrokerClosed) {
		t.Errorf("pending Dial after the kill = %v, want ErrBrokerClosed", err)
	}
	if d := time.Since(start); d >= goplugin.DialTimeout {
		t.Errorf("the broker took %v to end after the kill, want less than %v", d, goplugin.DialTimeout)
	}
	if _, err := b.Accept(b.NextId()); !errors.Is(err, goplugin.ErrBrokerClosed) {
		t.Errorf("Accept after the kill = %v, want ErrBrokerClosed", err)
	}
}

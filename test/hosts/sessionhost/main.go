// Command sessionhost is a host for tests of callback routing. It loads a
// callback plugin (test/plugins/callbackplugin, or any plugin serving
// plugintest.Relay) through the real host side, tether.Open, provides an
// Echo callback service that answers with its tag, calls the plugin's
// Echo.Unary N times (each answered by a callback) and prints one line:
//
//	calls=N wrong=W failed=F callbacks=C
//
// where wrong counts answers that carried another host's tag (a callback
// that reached another host), failed counts calls that failed and
// callbacks counts the callbacks this host received. It exits 1 unless W
// and F are 0 and C is N.
//
//	sessionhost -target unix:///path/proxy.sock -tag A [-n 1000] [-parallel 4] [-wait]
//
// The target is any tether target; the network runtime is linked in, so
// unix:///path/to.sock is a plugin already listening on that Unix socket
// (plaintext), which the host did not start and does not stop. With -wait, it loads the plugin,
// makes one call, prints "ready" and waits for a line on stdin before it
// starts its N calls, so that a test can run several hosts' calls at once.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	_ "github.com/tetherplug/tether/network" // unix:// targets
)

// tagEcho is the host's callback service: it answers TAG:TEXT.
type tagEcho struct {
	echov1.UnimplementedEchoServer
	tag string
	got *atomic.Int64 // callbacks received
}

func (e tagEcho) Unary(_ context.Context, m *echov1.Message) (*echov1.Message, error) {
	e.got.Add(1)
	return &echov1.Message{Text: e.tag + ":" + m.GetText()}, nil
}

type config struct {
	target, tag string
	n, parallel int
	wait        bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.target, "target", "", "tether target of the plugin, e.g. unix:///path/proxy.sock")
	flag.StringVar(&cfg.tag, "tag", "", "this host's tag, in every callback answer")
	flag.IntVar(&cfg.n, "n", 1000, "calls to make")
	flag.IntVar(&cfg.parallel, "parallel", 1, "calls in flight at once")
	flag.BoolVar(&cfg.wait, "wait", false, `print "ready" once loaded, and wait for a line on stdin`)
	flag.Parse()
	if cfg.target == "" || cfg.tag == "" || strings.Contains(cfg.tag, ":") || cfg.n < 0 || cfg.parallel < 1 {
		fmt.Fprintln(os.Stderr, "usage: sessionhost -target TARGET -tag TAG (no ':') [-n N] [-parallel P] [-wait]")
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "sessionhost "+cfg.tag+":", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cb := tagEcho{tag: cfg.tag, got: new(atomic.Int64)}
	c, err := tether.Open(ctx, cfg.target,
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, cb) }),
		tether.WithInterface("echo", 1))
	if err != nil {
		return err
	}
	defer c.Close()
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		return err
	}
	if cfg.wait {
		if err := ready(ctx, echo, cfg.tag); err != nil {
			return err
		}
		cb.got.Store(0)
	}
	wrong, failed := calls(ctx, echo, cfg)
	got := cb.got.Load()
	fmt.Printf("calls=%d wrong=%d failed=%d callbacks=%d\n", cfg.n, wrong, failed, got)
	if err := c.Close(); err != nil {
		return err
	}
	if wrong != 0 || failed != 0 || got != int64(cfg.n) {
		return fmt.Errorf("%d wrong answers, %d failed calls, %d callbacks received for %d calls", wrong, failed, got, cfg.n)
	}
	return nil
}

// ready makes one call answered by a callback, prints "ready" and waits for
// a line on stdin.
func ready(ctx context.Context, echo echov1.EchoClient, tag string) error {
	m, err := echo.Unary(ctx, &echov1.Message{Text: "warm-up"})
	if err != nil {
		return fmt.Errorf("warm-up call: %w", err)
	}
	if want := "plugin:" + tag + ":warm-up"; m.GetText() != want {
		return fmt.Errorf("warm-up call answered %q, want %q", m.GetText(), want)
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the go on stdin: %w", err)
	}
	return nil
}

// calls makes cfg.n calls, cfg.parallel at a time, and counts the answers
// that came from another host's callback and the calls that failed.
func calls(ctx context.Context, echo echov1.EchoClient, cfg config) (wrong, failed int64) {
	var nWrong, nFailed, next atomic.Int64
	var wg sync.WaitGroup
	for range cfg.parallel {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(cfg.n); i = next.Add(1) - 1 {
				text := fmt.Sprint(i)
				m, err := echo.Unary(ctx, &echov1.Message{Text: text})
				switch {
				case err != nil:
					if nFailed.Add(1) <= 3 {
						fmt.Fprintln(os.Stderr, "sessionhost "+cfg.tag+": call", i, err)
					}
				case m.GetText() != "plugin:"+cfg.tag+":"+text:
					if nWrong.Add(1) <= 3 {
						fmt.Fprintf(os.Stderr, "sessionhost %s: call %d answered %q\n", cfg.tag, i, m.GetText())
					}
				}
			}
		})
	}
	wg.Wait()
	return nWrong.Load(), nFailed.Load()
}

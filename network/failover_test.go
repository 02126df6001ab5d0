package network_test

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	testpki "github.com/tetherplug/tether/internal/plugintest/pki"
	"github.com/tetherplug/tether/network"
)

// tlsProcesses starts n echo plugin processes serving mutual TLS on
// loopback, and returns them, their addresses, and the host's TLS option.
func tlsProcesses(t *testing.T, n int) ([]*exec.Cmd, []string, tether.Option, []string) {
	t.Helper()
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	srv, cli := ca.Server(t), ca.Client(t, "host")
	caFile := testpki.WriteFile(t, dir, "ca.crt", ca.PEM)
	env := []string{
		tether.EnvTLSCert + "=" + testpki.WriteFile(t, dir, "server.crt", srv.CertPEM),
		tether.EnvTLSKey + "=" + testpki.WriteFile(t, dir, "server.key", srv.KeyPEM),
		tether.EnvTLSClientCA + "=" + caFile,
	}
	var cmds []*exec.Cmd
	var addrs []string
	for range n {
		cmd, addr := servePluginProcess(t, env...)
		cmds, addrs = append(cmds, cmd), append(addrs, addr)
	}
	opt := network.WithTLSFiles(testpki.WriteFile(t, dir, "client.crt", cli.CertPEM),
		testpki.WriteFile(t, dir, "client.key", cli.KeyPEM), caFile)
	return cmds, addrs, opt, env
}

// load calls Unary from several goroutines until stopped, counting the
// calls each address answered and keeping every error.
type load struct {
	mu     sync.Mutex
	byAddr map[string]int
	errs   []error
	calls  atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startLoad(t *testing.T, echo echov1.EchoClient, callers int) *load {
	l := &load{byAddr: map[string]int{}, stop: make(chan struct{})}
	for range callers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				var p peer.Peer
				_, err := echo.Unary(ctx, &echov1.Message{Text: "load"}, grpc.Peer(&p))
				cancel()
				l.calls.Add(1)
				l.mu.Lock()
				if err != nil {
					l.errs = append(l.errs, err)
				} else {
					l.byAddr[p.Addr.String()]++
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) answeredBy(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byAddr[addr]
}

func (l *load) end() []error {
	close(l.stop)
	l.wg.Wait()
	return l.errs
}

// TestKillOneOfThreeUnderLoad is issue 8's failover test: three plugin
// processes on three loopback addresses behind one client with a retry
// policy. One is killed with SIGKILL under steady load: no call fails.
// Started again on its address, it takes calls again within 2 s.
func TestKillOneOfThreeUnderLoad(t *testing.T) {
	t.Parallel()
	cmds, addrs, tlsOpt, env := tlsProcesses(t, 3)
	c := open(t, fmt.Sprintf("tcp://%s,%s,%s", addrs[0], addrs[1], addrs[2]), tlsOpt,
		tether.WithRetry(tether.RetryPolicy{MaxAttempts: 5}, "tether.echo.v1.Echo"))
	eventually(t, 5*time.Second, "3 instances admitted", func() bool { return admitted(c) == 3 })
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	l := startLoad(t, echo, 8)
	eventually(t, 5*time.Second, "calls on every instance", func() bool {
		return l.answeredBy(addrs[0]) > 50 && l.answeredBy(addrs[1]) > 50 && l.answeredBy(addrs[2]) > 50
	})
	if err := cmds[1].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmds[1].Wait()
	before := l.calls.Load()
	eventually(t, 5*time.Second, "200 more calls after the kill", func() bool { return l.calls.Load() > before+200 })
	killedHad := l.answeredBy(addrs[1])
	restarted := time.Now()
	servePluginProcess(t, append(env, tether.EnvListen+"="+addrs[1])...)
	eventually(t, 2*time.Second, "the restarted instance taking calls", func() bool {
		return l.answeredBy(addrs[1]) > killedHad
	})
	t.Logf("the restarted instance took calls %v after it listened", time.Since(restarted).Round(time.Millisecond))
	errs := l.end()
	for i, err := range errs {
		if i < 5 {
			t.Errorf("call failed: %v", err)
		}
	}
	if len(errs) > 0 {
		t.Fatalf("%d of %d calls failed around the kill", len(errs), l.calls.Load())
	}
	t.Logf("%d calls, none failed; by address: %v", l.calls.Load(), l.byAddr)
}

// TestUnhealthyInstanceTakesNoCalls: an instance whose health turns
// NOT_SERVING is taken out of rotation (gRPC's client-side health
// checking), and takes calls again once it is SERVING.
func TestUnhealthyInstanceTakesNoCalls(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	sick, well := serveTLS(t, p), serveTLS(t, p)
	c := open(t, "tcp://"+sick.addr+","+well.addr, network.WithTLSFiles(p.clientCert, p.clientKey, p.caFile))
	eventually(t, 5*time.Second, "2 instances admitted", func() bool { return admitted(c) == 2 })
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	sick.srv.Health().SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	eventually(t, 5*time.Second, "the unhealthy instance out of rotation", func() bool { return admitted(c) == 1 })
	before := sick.echo.calls.Load()
	for i := range 100 {
		if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := sick.echo.calls.Load() - before; n != 0 {
		t.Errorf("the NOT_SERVING instance took %d of 100 calls", n)
	}
	sick.srv.Health().SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	eventually(t, 5*time.Second, "the instance back in rotation", func() bool {
		_, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"})
		return err == nil && sick.echo.calls.Load() > before
	})
}

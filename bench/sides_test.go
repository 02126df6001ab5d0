package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// TestSidesEchoAndStop checks that each side serves Echo from its own
// process and that Close leaves no process or goroutine behind: a benchmark that leaked
// would skew the ones after it.
func TestSidesEchoAndStop(t *testing.T) {
	for _, side := range distinct(bothSides(t), bothTLSSides(t), fastSides(t)) {
		t.Run(side.Name(), func(t *testing.T) {
			skipFastWhenOff(t, side)
			defer goleak.VerifyNone(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			inst, err := side.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			payload := []byte("sixty-four bytes or so")
			resp, err := inst.Echo.Unary(ctx, &echov1.Message{Payload: payload})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.GetPayload(), payload) {
				t.Errorf("echo returned %q, want %q", resp.GetPayload(), payload)
			}
			if want, ok := wantTransport[side.Name()]; ok && inst.Transport != want {
				t.Errorf("Client.Transport() = %q, want %q", inst.Transport, want)
			}
			if err := inst.Close(); err != nil {
				t.Fatal(err)
			}
			if err := processExists(inst.Pid); err == nil {
				t.Errorf("server process %d still exists after Close", inst.Pid)
			}
		})
	}
}

// wantTransport is what each tether side's Client must say carries its
// calls: the benchmarks name the sides after it.
var wantTransport = map[string]tether.Transport{
	"tether-grpc": tether.TransportGRPC, "tether-fast": tether.TransportFast,
}

// skipFastWhenOff skips the tether-fast side where TETHER_TRANSPORT=grpc
// turns the fast transport off (make test-grpc): it would rightly refuse
// to start (TestFastSideRefusesGRPC).
func skipFastWhenOff(t *testing.T, side Side) {
	if side.Name() == fastName && os.Getenv(tether.EnvTransport) == string(tether.TransportGRPC) {
		t.Skipf("%s=grpc: the fast transport is off", tether.EnvTransport)
	}
}

// distinct is the sides of all the lists, each name once.
func distinct(lists ...[]Side) []Side {
	var out []Side
	for _, s := range slices.Concat(lists...) {
		if !slices.ContainsFunc(out, func(o Side) bool { return o.Name() == s.Name() }) {
			out = append(out, s)
		}
	}
	return out
}

// TestSidesRelayThroughTheHost checks that each side's relay server really
// calls the host's service once per call, so the callback benchmark measures a real round trip to the host and back.
func TestSidesRelayThroughTheHost(t *testing.T) {
	for _, side := range distinct(bothSides(t), fastSides(t)[1:]) {
		t.Run(side.Name(), func(t *testing.T) {
			skipFastWhenOff(t, side)
			defer goleak.VerifyNone(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			host := &countingEcho{}
			inst, err := side.StartRelay(ctx, host)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := inst.Echo.Unary(ctx, &echov1.Message{Text: "ping"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetText() != "plugin:ping" || host.calls.Load() != 1 {
				t.Errorf("relay answered %q after %d host calls, want %q after 1", resp.GetText(), host.calls.Load(), "plugin:ping")
			}
			if err := inst.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

type countingEcho struct {
	plugintest.EchoServer
	calls atomic.Int32
}

func (c *countingEcho) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	c.calls.Add(1)
	return c.EchoServer.Unary(ctx, m)
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 100, 6, 7, 8, 9}
	if got := percentile(ds, 0.5); got != 5 {
		t.Errorf("p50 = %v, want 5", got)
	}
	if got := percentile(ds, 0.99); got != 9 {
		t.Errorf("p99 of 10 = %v, want 9 (the 9th of 10)", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("p50 of nothing = %v, want 0", got)
	}
	if ds[0] != 5 {
		t.Error("percentile reordered its argument")
	}
}

// TestTLSSidesRequireClientCertificates checks that both TLS sides serve
// TLS 1.3 and refuse a client without a certificate, so the TLS benchmarks
// measure mutual TLS on both sides.
func TestTLSSidesRequireClientCertificates(t *testing.T) {
	for _, side := range bothTLSSides(t) {
		t.Run(side.Name(), func(t *testing.T) {
			defer goleak.VerifyNone(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			inst, err := side.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := inst.Close(); err != nil {
					t.Error(err)
				}
			}()
			full, err := RawTLS{Files: side.(interface{ tlsFiles() TLSFiles }).tlsFiles()}.clientTLS()
			if err != nil {
				t.Fatal(err)
			}
			var p peer.Peer
			if err := callOnce(ctx, inst.Addr, full, grpc.Peer(&p)); err != nil {
				t.Fatalf("call with the client certificate: %v", err)
			}
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); !ok || ti.State.Version != tls.VersionTLS13 {
				t.Errorf("connection security %#v, want TLS 1.3", p.AuthInfo)
			}
			noCert := full.Clone()
			noCert.Certificates = nil
			if err := callOnce(ctx, inst.Addr, noCert); status.Code(err) != codes.Unavailable {
				t.Errorf("call without a client certificate: %v, want it refused (Unavailable)", err)
			}
		})
	}
}

// callOnce dials addr with conf and makes one Unary call, within 5s.
func callOnce(ctx context.Context, addr string, conf *tls.Config, opts ...grpc.CallOption) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(conf)))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = echov1.NewEchoClient(conn).Unary(ctx, &echov1.Message{Text: "hi"}, opts...)
	return err
}

// TestFastSideRefusesGRPC checks that the tether-fast side fails to start,
// with ErrNotFast, when its calls would go over gRPC (TETHER_TRANSPORT=grpc
// turns the fast transport off): its figures must never be gRPC's under
// the fast transport's name.
func TestFastSideRefusesGRPC(t *testing.T) {
	fast := fastSides(t)[3]
	defer goleak.VerifyNone(t)
	t.Setenv(tether.EnvTransport, string(tether.TransportGRPC))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := fast.Start(ctx)
	if err == nil {
		inst.Close()
	}
	if !errors.Is(err, ErrNotFast) {
		t.Fatalf("%s started with %s=grpc: %v, want ErrNotFast", fast.Name(), tether.EnvTransport, err)
	}
}

// TestFloorRefusesAllButUnary checks that the floor side says it has no
// streams and no relay, rather than measuring something else.
func TestFloorRefusesAllButUnary(t *testing.T) {
	floor := fastSides(t)[0]
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := floor.StartRelay(ctx, plugintest.EchoServer{}); !errors.Is(err, ErrFloorUnaryOnly) {
		t.Errorf("StartRelay: %v, want ErrFloorUnaryOnly", err)
	}
	inst, err := floor.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if _, err := inst.Echo.Bidi(ctx); !errors.Is(err, ErrFloorUnaryOnly) {
		t.Errorf("Bidi: %v, want ErrFloorUnaryOnly", err)
	}
}

// TestInTurnBalanced checks the paired runs' order: over 2N rounds of N
// sides each side runs in each position equally often, of two sides each
// runs directly after the other as often as the other way round, and two
// sides alternate AB BA BA AB.
func TestInTurnBalanced(t *testing.T) {
	if got := fmt.Sprint(inTurn([]string{"A", "B"}, 0), inTurn([]string{"A", "B"}, 1),
		inTurn([]string{"A", "B"}, 2), inTurn([]string{"A", "B"}, 3)); got != "[A B] [B A] [B A] [A B]" {
		t.Errorf("two sides in turn: %s, want [A B] [B A] [B A] [A B]", got)
	}
	for n := 2; n <= 5; n++ {
		sides := make([]int, n)
		for i := range sides {
			sides[i] = i
		}
		pos := make([][]int, n)   // side → position → count
		after := make([][]int, n) // side → predecessor → count
		for i := range n {
			pos[i], after[i] = make([]int, n), make([]int, n)
		}
		for round := range 2 * n {
			order := inTurn(sides, round)
			for p, s := range order {
				pos[s][p]++
				if p > 0 {
					after[s][order[p-1]]++
				}
			}
		}
		for s := range n {
			for p := range n {
				if pos[s][p] != 2 {
					t.Errorf("%d sides: side %d ran in position %d %d times in %d rounds, want 2", n, s, p, pos[s][p], 2*n)
				}
				if s != p && after[s][p] != after[p][s] {
					t.Errorf("%d sides: side %d ran after %d %d times, %d after %d %d times", n, s, p, after[s][p], p, s, after[p][s])
				}
			}
		}
	}
}

package tether_test

import (
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// openAll serves n echo v1 instances, each health-checked when asked, and
// opens them; it returns once every instance has taken a call, so that the
// balancer's picker holds them all.
func openAll(t *testing.T, n int, healthChecked bool) ([]*inprocPlugin, *tether.Client, echov1.EchoClient) {
	t.Helper()
	ps := make([]*inprocPlugin, n)
	eps := make([]tether.Endpoint, n)
	for i := range ps {
		ps[i] = serveEcho(t, 1)
		ps[i].ep.HealthChecked = healthChecked
		eps[i] = ps[i].ep
	}
	c := openInproc(t, newTestRuntime(eps...), tether.WithInterface("echo", 1))
	plugintest.Eventually(t, inprocTimeout, "every instance admitted", func() bool { return admittedCount(c) == n })
	e := echoClient(t, c)
	for _, p := range ps {
		plugintest.Eventually(t, inprocTimeout, "a call on every instance", func() bool {
			_, err := unary(t, e, "warm")
			return err == nil && p.calls.get(echoUnary) > 0
		})
	}
	for _, p := range ps {
		p.calls.reset()
	}
	return ps, c, e
}

func TestBalancerSendsCallsRoundRobin(t *testing.T) {
	noLeaks(t)
	ps, _, e := openAll(t, 3, false)
	for i := range 300 {
		if _, err := unary(t, e, "rr"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for i, p := range ps {
		if n := p.calls.get(echoUnary); n != 100 {
			t.Errorf("instance %d got %d of 300 calls, want 100", i, n)
		}
	}
}

func TestBalancerSkipsAnInstanceThatIsNotServing(t *testing.T) {
	noLeaks(t)
	ps, c, e := openAll(t, 3, true)
	sick := ps[1]

	sick.srv.Health().SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	plugintest.Eventually(t, inprocTimeout, "the NOT_SERVING instance out of rotation", func() bool {
		in, ok := instanceAt(c, sick.ep.Address)
		return ok && !in.Admitted
	})
	for _, p := range ps {
		p.calls.reset()
	}
	for i := range 100 {
		if _, err := unary(t, e, "healthy only"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := sick.calls.get(echoUnary); n != 0 {
		t.Errorf("the NOT_SERVING instance got %d new calls, want 0", n)
	}
	if a, b := ps[0].calls.get(echoUnary), ps[2].calls.get(echoUnary); a+b != 100 || a == 0 || b == 0 {
		t.Errorf("the SERVING instances got %d and %d calls, want both some, 100 in all", a, b)
	}

	sick.srv.Health().SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	plugintest.Eventually(t, inprocTimeout, "the instance back in rotation", func() bool {
		_, err := unary(t, e, "all again")
		return err == nil && sick.calls.get(echoUnary) > 0
	})
	if in, _ := instanceAt(c, sick.ep.Address); !in.Admitted {
		t.Errorf("the SERVING instance takes calls but is not listed as admitted")
	}
}

package nodeagent

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// healthServer serves grpc.health.v1 on 127.0.0.1 and returns its port and status setter.
func healthServer(t *testing.T) (int32, *health.Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return int32(lis.Addr().(*net.TCPAddr).Port), hs
}

var loopback = netip.MustParseAddr("127.0.0.1")

func TestGRPCProbe(t *testing.T) {
	port, hs := healthServer(t)
	svc := "plugin"
	c := &corev1.Container{Name: "main"}
	check := probeCheck(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port, Service: &svc}}}, c, loopback)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := check(ctx); !errors.Is(err, ErrProbe) {
		t.Errorf("unknown service: %v, want ErrProbe", err)
	}
	hs.SetServingStatus("plugin", healthpb.HealthCheckResponse_SERVING)
	if err := check(ctx); err != nil {
		t.Errorf("SERVING: %v", err)
	}
	hs.SetServingStatus("plugin", healthpb.HealthCheckResponse_NOT_SERVING)
	if err := check(ctx); !errors.Is(err, ErrProbe) {
		t.Errorf("NOT_SERVING: %v, want ErrProbe", err)
	}
}

func TestTCPProbe(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	c := &corev1.Container{Name: "main", Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: int32(port)}}}
	byName := probeCheck(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("grpc")}}}, c, loopback)
	byNumber := probeCheck(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}, c, loopback)
	badName := probeCheck(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("nope")}}}, c, loopback)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := byName(ctx); err != nil {
		t.Errorf("listening, port by name: %v", err)
	}
	if err := byNumber(ctx); err != nil {
		t.Errorf("listening, port %d: %v", port, err)
	}
	if err := badName(ctx); !errors.Is(err, ErrProbe) {
		t.Errorf("unknown port name: %v", err)
	}
	lis.Close()
	if err := byNumber(ctx); !errors.Is(err, ErrProbe) {
		t.Errorf("closed port %s: %v, want ErrProbe", strconv.Itoa(port), err)
	}
	exec := probeCheck(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}, c, loopback)
	if err := exec(ctx); !errors.Is(err, ErrProbe) {
		t.Errorf("exec probe: %v, want ErrProbe (unsupported)", err)
	}
}

// TestProbeThresholds drives probeLoop with a scripted check: reports come only once
// successThreshold successes or failureThreshold failures are consecutive.
func TestProbeThresholds(t *testing.T) {
	script := []bool{true, false, false, true, true, false, false, false}
	var mu sync.Mutex
	i := 0
	check := func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		ok := script[i%len(script)]
		i++
		if ok {
			return nil
		}
		return errors.New("scripted failure")
	}
	var got []bool
	s := probeSpec{period: time.Millisecond, timeout: time.Second, success: 2, failure: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	probeLoop(ctx, s, check, func(ok bool, err error) bool {
		got = append(got, ok)
		return len(got) < 2
	})
	// successes at 4-5 (2 in a row) report true; failures 6-8 (3 in a row) report false.
	if len(got) != 2 || !got[0] || got[1] || i != 8 {
		t.Errorf("reports %v after %d checks, want [true false] after 8", got, i)
	}
}

func TestProbeTimeoutFails(t *testing.T) {
	// A server that accepts but never answers: the gRPC check must fail within timeoutSeconds.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	port := int32(lis.Addr().(*net.TCPAddr).Port)
	p := &corev1.Probe{TimeoutSeconds: 1, PeriodSeconds: 1, FailureThreshold: 1,
		ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port}}}
	res := make(chan error, 1)
	go probeLoop(context.Background(), timing(p), probeCheck(p, &corev1.Container{}, loopback), func(ok bool, err error) bool {
		res <- err
		return false
	})
	select {
	case err := <-res:
		if !errors.Is(err, ErrProbe) {
			t.Errorf("hung server: %v, want ErrProbe", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("probe against a hung server did not fail within 5 s")
	}
}

package nodeagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ErrProbe is wrapped by probe failures.
var ErrProbe = errors.New("nodeagent: probe failed")

// probeSpec is a probe's timing with Kubernetes' defaults filled in.
type probeSpec struct {
	delay, period, timeout time.Duration
	success, failure       int
}

func timing(p *corev1.Probe) probeSpec {
	s := probeSpec{delay: time.Duration(p.InitialDelaySeconds) * time.Second, period: 10 * time.Second,
		timeout: time.Second, success: 1, failure: 3}
	if p.PeriodSeconds > 0 {
		s.period = time.Duration(p.PeriodSeconds) * time.Second
	}
	if p.TimeoutSeconds > 0 {
		s.timeout = time.Duration(p.TimeoutSeconds) * time.Second
	}
	if p.SuccessThreshold > 0 {
		s.success = int(p.SuccessThreshold)
	}
	if p.FailureThreshold > 0 {
		s.failure = int(p.FailureThreshold)
	}
	return s
}

// probeLoop runs check every period after the initial delay and calls report each time a
// threshold is met: ok after success consecutive successes, not ok after failure consecutive
// failures. It returns when ctx ends or report returns false.
func probeLoop(ctx context.Context, s probeSpec, check func(context.Context) error, report func(ok bool, err error) bool) {
	if !sleep(ctx, s.delay) {
		return
	}
	succ, fail := 0, 0
	for {
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		err := check(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			succ, fail = succ+1, 0
		} else {
			succ, fail = 0, fail+1
		}
		if (err == nil && succ >= s.success) || (err != nil && fail >= s.failure) {
			if !report(err == nil, err) {
				return
			}
		}
		if !sleep(ctx, s.period) {
			return
		}
	}
}

// probeCheck returns the check function of a probe against the pod address.
func probeCheck(p *corev1.Probe, c *corev1.Container, ip netip.Addr) func(context.Context) error {
	h := p.ProbeHandler
	switch {
	case h.GRPC != nil:
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(int(h.GRPC.Port)))
		svc := ""
		if h.GRPC.Service != nil {
			svc = *h.GRPC.Service
		}
		return func(ctx context.Context) error { return grpcCheck(ctx, addr, svc) }
	case h.TCPSocket != nil:
		return func(ctx context.Context) error {
			port, err := portOf(h.TCPSocket.Port, c)
			if err != nil {
				return err
			}
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
			if err != nil {
				return fmt.Errorf("%w: tcp: %w", ErrProbe, err)
			}
			return conn.Close()
		}
	case h.HTTPGet != nil:
		return func(ctx context.Context) error { return httpCheck(ctx, h.HTTPGet, c, ip) }
	}
	return func(context.Context) error {
		return fmt.Errorf("%w: only grpc, tcpSocket and httpGet probes are supported by the node agent", ErrProbe)
	}
}

// portOf resolves a probe port, by number or by the name of a container port.
func portOf(p intstr.IntOrString, c *corev1.Container) (string, error) {
	if p.Type == intstr.Int {
		return strconv.Itoa(p.IntValue()), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return strconv.Itoa(int(cp.ContainerPort)), nil
		}
	}
	return "", fmt.Errorf("%w: container %s has no port named %q", ErrProbe, c.Name, p.StrVal)
}

// grpcCheck asks a plaintext grpc.health.v1 server for service's status.
func grpcCheck(ctx context.Context, addr, service string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("%w: grpc %s: %w", ErrProbe, addr, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("%w: grpc %s: %w", ErrProbe, addr, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%w: grpc %s: service %q is %s", ErrProbe, addr, service, resp.GetStatus())
	}
	return nil
}

// httpCheck makes one GET; a status from 200 to 399 passes. HTTPS is not verified, as by the kubelet.
func httpCheck(ctx context.Context, g *corev1.HTTPGetAction, c *corev1.Container, ip netip.Addr) error {
	port, err := portOf(g.Port, c)
	if err != nil {
		return err
	}
	host := g.Host
	if host == "" {
		host = ip.String()
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+g.Path, nil)
	if err != nil {
		return fmt.Errorf("%w: http: %w", ErrProbe, err)
	}
	for _, h := range g.HTTPHeaders {
		req.Header.Add(h.Name, h.Value)
	}
	tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("%w: http: %w", ErrProbe, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("%w: http %s: status %d", ErrProbe, req.URL, resp.StatusCode)
	}
	return nil
}

// startProbes runs container i's startup, readiness and liveness probes until ctx ends; it
// closes unhealthy when the container must be killed (a liveness or startup failure). The
// returned channel is closed when every probe goroutine has returned.
func (w *podWorker) startProbes(ctx context.Context, i int, c *corev1.Container, unhealthy chan<- struct{}) <-chan struct{} {
	done := make(chan struct{})
	ip := w.ip
	go func() {
		defer close(done)
		if p := c.StartupProbe; p != nil {
			started := false
			probeLoop(ctx, timing(p), probeCheck(p, c, ip), func(ok bool, err error) bool {
				if !ok {
					w.event(c.Name, "Unhealthy", "Startup probe failed: "+err.Error())
					close(unhealthy)
				}
				started = ok
				return false
			})
			if !started {
				return
			}
			w.setStarted(i)
		}
		live := make(chan struct{})
		go func() {
			defer close(live)
			if p := c.LivenessProbe; p != nil {
				probeLoop(ctx, timing(p), probeCheck(p, c, ip), func(ok bool, err error) bool {
					if !ok {
						w.event(c.Name, "Unhealthy", "Liveness probe failed: "+err.Error())
						close(unhealthy)
					}
					return ok
				})
			}
		}()
		defer func() { <-live }()
		p := c.ReadinessProbe
		if p == nil {
			w.setReady(i, true)
			return
		}
		probeLoop(ctx, timing(p), probeCheck(p, c, ip), func(ok bool, err error) bool {
			if !ok {
				w.event(c.Name, "Unhealthy", "Readiness probe failed: "+err.Error())
			}
			w.setReady(i, ok)
			return true
		})
	}()
	return done
}

//go:build unix

package tether_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// TestNetworkMutualTLS: with TETHER_LISTEN and TLS files a plugin serves
// mutual TLS on TCP, without a magic cookie: a host with a client
// certificate calls Describe and Echo; one without is refused with a TLS
// error. Nothing is printed on stdout, and SIGTERM ends it with status 0.
func TestNetworkMutualTLS(t *testing.T) {
	t.Parallel()
	k := newNetPKI(t)
	p := startNetEcho(t, true, k.env()...)
	if !strings.HasPrefix(p.addr, "127.0.0.1:") || strings.HasSuffix(p.addr, ":0") {
		t.Errorf("logged address %q, want 127.0.0.1 with the port chosen", p.addr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	cc := dial(t, p.addr, credentials.NewTLS(k.clientTLS(true)))
	d, err := tetherv1.NewPluginClient(cc).Describe(ctx, &tetherv1.DescribeRequest{})
	if err != nil {
		t.Fatalf("Describe over mutual TLS: %v", err)
	}
	if d.GetName() != "echo" || len(d.GetInterfaces()) != 2 {
		t.Errorf("Describe = %v, want echo with two interface versions", d)
	}
	m, err := echov1.NewEchoClient(cc).Unary(ctx, &echov1.Message{Text: "over tcp"})
	if err != nil || m.GetText() != "over tcp" {
		t.Fatalf("Unary = %v, %v", m, err)
	}

	anon := dial(t, p.addr, credentials.NewTLS(k.clientTLS(false)))
	_, err = echov1.NewEchoClient(anon).Unary(ctx, &echov1.Message{Text: "no cert"})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("call without a client certificate: %v, want Unavailable", err)
	}
	t.Logf("call without a client certificate: %v", err)
	// Which TLS error the gRPC call shows depends on timing (with TLS 1.3
	// the refusal comes after the client's handshake); the server's alert
	// says why.
	if err := refusedAlert(t, p.addr, k); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("raw TLS without a client certificate: %v, want the server's certificate required alert", err)
	}
	plain := dial(t, p.addr, insecure.NewCredentials())
	if _, err := echov1.NewEchoClient(plain).Unary(ctx, &echov1.Message{}); err == nil {
		t.Error("a plaintext call to a TLS plugin succeeded")
	}

	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit status after SIGTERM %d, want 0; stderr:\n%s", code, p.stderr.String())
	}
	if out := p.stdout.String(); out != "" {
		t.Errorf("a network plugin printed on stdout: %q", out)
	}
}

// TestNetworkSIGTERMDrains: on SIGTERM health goes NOT_SERVING (the
// plugin's service and the overall one), the call in flight completes,
// a new call is refused, and the plugin exits 0 well within its grace.
func TestNetworkSIGTERMDrains(t *testing.T) {
	t.Parallel()
	k := newNetPKI(t)
	const grace = 3 * time.Second
	p := startNetEcho(t, true, append(k.env(), tether.EnvShutdownGrace+"="+grace.String())...)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cc := dial(t, p.addr, credentials.NewTLS(k.clientTLS(true)))

	watches := map[string]healthpb.Health_WatchClient{}
	for _, svc := range []string{tether.HealthService, ""} {
		w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q before SIGTERM: %v, %v", svc, r, err)
		}
		watches[svc] = w
	}
	// A slow call, in flight once its first message is back: three
	// messages 400 ms apart.
	stream, err := echov1.NewEchoClient(cc).ServerStream(ctx, &echov1.Message{Text: "slow", Count: 3, DelayMs: 400})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	p.signal(t, syscall.SIGTERM)
	sent := time.Now()
	for svc, w := range watches {
		r, err := w.Recv()
		if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health of %q after SIGTERM: %v, %v; want NOT_SERVING", svc, r, err)
		}
	}
	fresh := dial(t, p.addr, credentials.NewTLS(k.clientTLS(true)))
	_, err = echov1.NewEchoClient(fresh).Unary(ctx, &echov1.Message{Text: "too late"})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("new call after SIGTERM: %v, want Unavailable", err)
	}
	for i := 2; i <= 3; i++ {
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("message %d of the call in flight: %v", i, err)
		}
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("end of the call in flight: %v, want io.EOF (status OK)", err)
	}
	if code := p.exitCode(t, grace+time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if took := time.Since(sent); took > grace {
		t.Errorf("exit %v after SIGTERM, more than the grace %v although the calls were done", took, grace)
	}
}

// TestNetworkSIGTERMStuckHandler: a handler that ignores its context does
// not keep the plugin past its grace: it exits 0 soon after.
func TestNetworkSIGTERMStuckHandler(t *testing.T) {
	t.Parallel()
	const grace = 500 * time.Millisecond
	p := startNetEcho(t, true, tether.EnvListen+"=127.0.0.1:0", tether.EnvInsecure+"=1",
		tether.EnvShutdownGrace+"="+grace.String(), "ECHO_MODE=stuck")
	cc := dial(t, p.addr, insecure.NewCredentials())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	callDone := make(chan error, 1)
	go func() {
		_, err := echov1.NewEchoClient(cc).Unary(ctx, &echov1.Message{})
		callDone <- err
	}()
	p.waitLog(t, "stuck in handler")
	p.signal(t, syscall.SIGTERM)
	sent := time.Now()
	if code := p.exitCode(t, grace+2*time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if took := time.Since(sent); took > grace+time.Second {
		t.Errorf("exit %v after SIGTERM with a stuck handler, want within %v + 1 s", took, grace)
	}
	select {
	case err := <-callDone:
		if err == nil {
			t.Error("the stuck call succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck call did not end 5 s after the plugin exited")
	}
}

// refusedAlert connects without a client certificate and returns the error
// of the first read, where TLS 1.3 reports the server's refusal.
func refusedAlert(t *testing.T, addr string, k *netPKI) error {
	t.Helper()
	conf := k.clientTLS(false)
	conf.NextProtos = []string{"h2"}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

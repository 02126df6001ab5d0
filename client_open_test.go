package tether_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/autotls"
)

// endpointsBuilder is a runtime, given to one Open with WithRuntime, that
// reports fixed endpoints and started nothing.
type endpointsBuilder struct{ eps []tether.Endpoint }

func (endpointsBuilder) Scheme() string { return "endpoints" }

func (b endpointsBuilder) Build(_ context.Context, _ tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	env.Endpoints.UpdateEndpoints(b.eps)
	return endpointsRuntime{}, nil
}

type endpointsRuntime struct{}

func (endpointsRuntime) Close(context.Context, func(context.Context, tether.Endpoint) error) error {
	return nil
}

// silentServer accepts TCP connections on loopback and never speaks; with
// conf it completes a TLS handshake first. It returns the address.
func silentServer(t *testing.T, conf *tls.Config) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			if conf != nil {
				tc := tls.Server(c, conf)
				if tc.Handshake() != nil {
					_ = c.Close()
					continue
				}
				c = tc
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = lis.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return lis.Addr().String()
}

// TestStartTimeoutNamesWhereTheConnectionStuck: a server that accepts the
// connection and never speaks fails Open at its start timeout with an error
// saying where it stuck (no TLS handshake, or no HTTP/2 settings), as
// docs/network.md promises, not only that no gRPC connection came.
func TestStartTimeoutNamesWhereTheConnectionStuck(t *testing.T) {
	cert, _, err := autotls.Generate()
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}
	clientTLS := credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the server is the test's own
	for _, tc := range []struct {
		name  string
		addr  string
		creds credentials.TransportCredentials
		want  string
	}{
		{"no ClientHello answered", silentServer(t, nil), clientTLS, "accepted the connection but did not complete the TLS handshake"},
		{"TLS, then silence", silentServer(t, serverTLS), clientTLS, "completed the TLS handshake but sent no HTTP/2 settings"},
		{"plaintext silence", silentServer(t, nil), nil, "accepted the connection but sent no HTTP/2 settings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ep := tether.Endpoint{Network: "tcp", Address: tc.addr, Creds: tc.creds, HealthChecked: true}
			start := time.Now()
			_, err := tether.Open(ctx, "endpoints://silent", tether.WithRuntime(endpointsBuilder{[]tether.Endpoint{ep}}),
				tether.WithStartTimeout(time.Second))
			if !errors.Is(err, tether.ErrStartTimeout) {
				t.Fatalf("Open of a silent server: %v, want ErrStartTimeout", err)
			}
			if !strings.Contains(err.Error(), tc.addr+" "+tc.want) {
				t.Errorf("Open of a silent server: %v\nwant it to say %q", err, tc.addr+" "+tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Open took %v with a start timeout of 1s", d)
			}
		})
	}
}

// TestDocsQuoteSilentServer: docs/network.md's rows on silent servers are
// the clauses the start timeout prints.
func TestDocsQuoteSilentServer(t *testing.T) {
	for _, clause := range []string{
		"accepted the connection but did not complete the TLS handshake",
		"completed the TLS handshake but sent no HTTP/2 settings (is it a gRPC server?)",
		"accepted the connection but sent no HTTP/2 settings (is it a gRPC server?)",
	} {
		docQuotes(t, "10.0.0.7:7000 "+clause, "docs/network.md")
	}
}

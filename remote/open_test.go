package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/plugintest/inproc"
	testpki "github.com/tetherplug/tether/internal/plugintest/pki"
	"github.com/tetherplug/tether/tethertest"
)

// builder is a runtime of "rt" targets built on opts: its one instance is
// at addr.
type builder struct{ addr string }

func (builder) Scheme() string                 { return "rt" }
func (builder) DialOptions() []grpc.DialOption { return DialOptions() }

func (b builder) Build(_ context.Context, t tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	tr, err := opts.Transport(t, env)
	if err != nil {
		return nil, err
	}
	env.Endpoints.UpdateEndpoints([]tether.Endpoint{tr.Endpoint("tcp", b.addr, "localhost")})
	return noStop{}, nil
}

type noStop struct{}

func (noStop) Close(context.Context, func(context.Context, tether.Endpoint) error) error { return nil }

// serve serves the echo plugin on loopback with the given credentials
// (nil: plaintext) until the test ends, and returns its address.
func serve(t *testing.T, creds credentials.TransportCredentials) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var so []grpc.ServerOption
	if creds != nil {
		so = append(so, grpc.Creds(creds))
	}
	inproc.ServeEcho(t, lis, plugintest.EchoServer{}, so...)
	return lis.Addr().String()
}

// mutualTLS serves the echo plugin with mutual TLS and returns its address
// and the host's files option.
func mutualTLS(t *testing.T) (string, tether.Option) {
	t.Helper()
	ca, dir := testpki.NewCA(t, "test CA"), t.TempDir()
	cli := ca.Client(t, "host")
	conf := &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS(t)}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	return serve(t, credentials.NewTLS(conf)), opts.WithTLSFiles(testpki.WriteFile(t, dir, "host.crt", cli.CertPEM),
		testpki.WriteFile(t, dir, "host.key", cli.KeyPEM), testpki.WriteFile(t, dir, "ca.crt", ca.PEM))
}

// TestOpenWithFiles: a runtime built on Options reaches its instance over
// mutual TLS with the host's files, and a call goes through.
func TestOpenWithFiles(t *testing.T) {
	addr, files := mutualTLS(t)
	c, err := tether.Open(t.Context(), "rt://echo", files, tether.WithRuntime(builder{addr}),
		tether.WithInterface("echo", 1), tether.WithStartTimeout(5*time.Second), tether.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if resp, err := echo.Unary(ctx, &echov1.Message{Text: "hi"}); err != nil || resp.GetText() != "hi" {
		t.Fatalf("echo: %q, %v", resp.GetText(), err)
	}
}

// openFails opens rt://echo at addr with o and returns the error, failing
// the test if Open succeeds.
func openFails(t *testing.T, addr string, log *slog.Logger, o ...tether.Option) error {
	t.Helper()
	c, err := tether.Open(t.Context(), "rt://echo", append(o, tether.WithRuntime(builder{addr}),
		tether.WithStartTimeout(2*time.Second), tether.WithLogger(log))...)
	if err == nil {
		c.Close()
		t.Fatal("Open succeeded")
	}
	return err
}

// TestMessagesNameTheOptions: the credentials' explanations of a TLS
// mismatch, and the plaintext warning, name the runtime's own options.
func TestMessagesNameTheOptions(t *testing.T) {
	addr, files := mutualTLS(t)
	var logged plugintest.SyncBuffer
	err := openFails(t, addr, slog.New(slog.NewTextHandler(&logged, nil)), opts.WithInsecure())
	if want := "does it serve TLS? then give the host rt.WithTLSFiles or rt.WithTLSConfig, not rt.WithInsecure"; !strings.Contains(err.Error(), want) {
		t.Errorf("plaintext on a TLS port: %v; want it to say %q", err, want)
	}
	if want := "connecting to the plugin in plaintext (rt.WithInsecure)"; !strings.Contains(logged.String(), want) {
		t.Errorf("logged %q; want a warning saying %q", logged.String(), want)
	}
	err = openFails(t, serve(t, nil), slog.New(slog.DiscardHandler), files)
	if want := "the server does not speak TLS (is it plaintext? then rt.WithInsecure)"; !strings.Contains(err.Error(), want) {
		t.Errorf("TLS on a plaintext port: %v; want it to say %q", err, want)
	}
}

// TestOptionsRefusedElsewhere: Open refuses the options for targets of
// other schemes, naming them.
func TestOptionsRefusedElsewhere(t *testing.T) {
	for _, o := range []tether.Option{opts.WithTLSFiles("c", "k", "a"), opts.WithTLSConfig(&tls.Config{}),
		opts.WithServerName("n"), opts.WithInsecure()} {
		_, err := tether.Open(t.Context(), "/bin/true", o)
		if !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), "option rt.With") {
			t.Errorf("Open of an exec target: %v; want ErrBadTarget naming the rt option", err)
		}
	}
}

func TestMain(m *testing.M) { tethertest.Main(m) }

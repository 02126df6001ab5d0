//go:build linux

package e2e_test

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/fastrpc"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/tethertest"
)

// sockets lists a launched plugin's sockets, its gRPC one first, and how
// many it should have: the fast transport's too, unless it is off.
func sockets(t *testing.T, dir string) ([]string, int) {
	t.Helper()
	grpcSocks, _ := filepath.Glob(filepath.Join(dir, "plugin-*[0-9].sock"))
	fastSocks, _ := filepath.Glob(filepath.Join(dir, "*.fast.sock"))
	want := 1
	if tethertest.ExpectedTransport() == string(tether.TransportFast) {
		want = 2
	}
	return append(grpcSocks, fastSocks...), want
}

// TestCloseRemovesEverything checks the private socket directory while the
// plugin runs, that Close stops the plugin through its graceful path (the
// Shutdown call, not a signal) well within the kill timeout, and that it
// leaves neither process nor directory behind.
func TestCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	const killTimeout = 10 * time.Second
	log, rec := newRecorder()
	_, opts := echoOpts("", tether.WithLogger(log), tether.WithKillTimeout(killTimeout))
	c, err := tether.Launch(t.Context(), echoPath(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	dir := envOf(t, pid, tether.EnvUnixSocketDir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("socket directory %s has mode %v, want 0700", dir, perm)
	}
	if socks, want := sockets(t, dir); len(socks) != want {
		t.Errorf("socket directory holds %v, want %d sockets (gRPC, and fast when on)", socks, want)
	}

	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took > killTimeout/5 {
		t.Errorf("Close took %v, want well under the kill timeout %v (a graceful shutdown is quick)", took, killTimeout)
	}
	// serve.go logs these on its two ways out: asked by the host, or signalled.
	eventually(t, 2*time.Second, "the plugin's log of a shutdown asked by the host", func() bool {
		_, ok := rec.find("host asked the plugin to shut down")
		return ok
	})
	if r, ok := rec.find("plugin received a signal"); ok {
		t.Errorf("the plugin was stopped by a signal (%q), not by the host's Shutdown call", r.Msg)
	}
	if !reaped(pid) {
		t.Errorf("process %d still exists after Close", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("socket directory %s still exists after Close (stat: %v)", dir, err)
	}
	select {
	case <-c.Exited():
	default:
		t.Error("Exited() not closed after Close")
	}
	var pe *tether.PluginError
	if err := c.ExitError(); !errors.As(err, &pe) || !pe.Exited || pe.ExitCode != 0 || !errors.Is(err, tether.ErrPluginExited) {
		t.Errorf("ExitError() after a graceful Close = %v, want ErrPluginExited with exit status 0", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Ping(t.Context()); err == nil {
		t.Error("Ping succeeded after Close")
	}
}

func TestAutoMTLS(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "", tether.WithAutoMTLS())
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	var p peer.Peer
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"}, grpc.Peer(&p)); err != nil {
		t.Fatalf("Unary over mutual TLS: %v", err)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		t.Fatalf("the call's peer has auth info %T, want TLS", p.AuthInfo)
	}
	if len(info.State.PeerCertificates) == 0 {
		t.Error("the plugin presented no certificate")
	}
	if err := c.Ping(t.Context()); err != nil {
		t.Errorf("Ping over mutual TLS: %v", err)
	}

	// Only the host's one-time certificate opens the plugin's socket:
	// neither plaintext nor TLS without a client certificate gets through.
	dir := envOf(t, c.Pid(), tether.EnvUnixSocketDir)
	socks, want := sockets(t, dir)
	if len(socks) != want {
		t.Fatalf("socket directory holds %v", socks)
	}
	for _, sock := range socks[1:] {
		// The fast transport's socket speaks TLS too: a plaintext client
		// gets nowhere.
		fc := fastrpc.Dial("unix", sock)
		_, err := echo.Unary(t.Context(), &echov1.Message{}) // over the host's own connection: fine
		if err != nil {
			t.Fatal(err)
		}
		if _, err := echov1.NewEchoClient(fc).Unary(t.Context(), &echov1.Message{}); err == nil {
			t.Errorf("a plaintext client called the plugin over its fast socket %s", sock)
		}
		fc.Close()
	}
	for name, creds := range map[string]credentials.TransportCredentials{
		"plaintext":           insecure.NewCredentials(),
		"TLS, no client cert": credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}),
	} {
		conn, err := grpc.NewClient("unix://"+socks[0], grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		_, err = healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: tether.HealthService})
		conn.Close()
		if err == nil {
			t.Errorf("%s: a client without the host's certificate called the plugin", name)
		}
	}
}

//go:build unix

package network_test

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	testpki "github.com/tetherplug/tether/internal/plugintest/pki"
	"github.com/tetherplug/tether/network"
)

// TestPluginProcessOverMutualTLS: the same plugin binary that a host
// launches serves on TCP with mutual TLS when deployed so, and a host
// reaches it by target alone; when it stops (SIGTERM), calls fail fast
// with ErrUnavailable.
func TestPluginProcessOverMutualTLS(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	srv, cli := ca.Server(t), ca.Client(t, "host")
	caFile := testpki.WriteFile(t, dir, "ca.crt", ca.PEM)
	cmd, addr := servePluginProcess(t,
		tether.EnvTLSCert+"="+testpki.WriteFile(t, dir, "server.crt", srv.CertPEM),
		tether.EnvTLSKey+"="+testpki.WriteFile(t, dir, "server.key", srv.KeyPEM),
		tether.EnvTLSClientCA+"="+caFile)
	c := open(t, "tcp://"+addr, network.WithTLSFiles(
		testpki.WriteFile(t, dir, "client.crt", cli.CertPEM), testpki.WriteFile(t, dir, "client.key", cli.KeyPEM), caFile))
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := echo.Unary(t.Context(), &echov1.Message{Text: "over TLS"}); err != nil || resp.GetText() != "over TLS" {
		t.Fatalf("call = %q, %v", resp.GetText(), err)
	}
	if v, _ := c.Version("echo"); v != 1 {
		t.Errorf("echo v%d, want v1 as asked", v)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("plugin exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the plugin did not exit within 5s of SIGTERM")
	}
	eventually(t, 5*time.Second, "the stopped plugin still admitted", func() bool { return admitted(c) == 0 })
	start := time.Now()
	_, err = echo.Unary(t.Context(), &echov1.Message{Text: "after"})
	if !errors.Is(err, tether.ErrUnavailable) {
		t.Errorf("call to the stopped plugin: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the call took %v to fail", took)
	}
}

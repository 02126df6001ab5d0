package network_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/network"
)

// TestNilTLSConfigRefused: WithTLSConfig(nil) asks for TLS without a
// configuration; Open refuses it at once instead of connecting in
// plaintext (a unix target's default) or saying TLS is missing.
func TestNilTLSConfigRefused(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "echo.sock")
	for _, target := range []string{"unix://" + sock, "tcp://127.0.0.1:1"} {
		start := time.Now()
		c, err := tether.Open(t.Context(), target, network.WithTLSConfig(nil),
			tether.WithStartTimeout(5*time.Second), tether.WithLogger(quietLogger()))
		if err == nil {
			c.Close()
			t.Fatalf("Open(%s) succeeded", target)
		}
		if !errors.Is(err, tether.ErrBadTarget) {
			t.Errorf("Open(%s): %v, want ErrBadTarget", target, err)
		}
		wantIn(t, err, "network.WithTLSConfig was given a nil *tls.Config")
		if took := time.Since(start); took > time.Second {
			t.Errorf("Open(%s) took %v to fail", target, took)
		}
	}
}

// TestOtherRuntimesOptionsRefused: an exec option given for a network
// target is refused at once, naming it, and nothing is dialled.
func TestOtherRuntimesOptionsRefused(t *testing.T) {
	t.Parallel()
	var w bytes.Buffer
	for _, tc := range []struct {
		opt  tether.Option
		want string
	}{
		{tether.WithStderr(&w), "option WithStderr applies to exec, reattach targets only"},
		{tether.WithStdout(&w), "option WithStdout applies"},
		{tether.WithKillTimeout(time.Second), "option WithKillTimeout applies to exec targets only"},
	} {
		_, err := tether.Open(t.Context(), "tcp://127.0.0.1:1", network.WithInsecure(), tc.opt, tether.WithLogger(quietLogger()))
		if !errors.Is(err, tether.ErrBadTarget) {
			t.Errorf("Open: %v, want ErrBadTarget", err)
			continue
		}
		wantIn(t, err, tc.want)
	}
}

// TestTLSRuleMessages: the messages docs/network.md quotes, each in full.
func TestTLSRuleMessages(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	files := network.WithTLSFiles(p.clientCert, p.clientKey, p.caFile)
	for _, tc := range []struct {
		opts []tether.Option
		want string
	}{
		{nil, "plugin tcp://127.0.0.1:1: bad target: a tcp target requires TLS: give network.WithTLSFiles(cert, key, ca) or " +
			"network.WithTLSConfig, or network.WithInsecure() to connect in plaintext"},
		{[]tether.Option{files, network.WithTLSConfig(p.clientTLS())}, "give network.WithTLSFiles or network.WithTLSConfig, not both"},
		{[]tether.Option{network.WithTLSConfig(p.clientTLS()), network.WithInsecure()}, "network.WithInsecure contradicts the TLS option also given"},
		{[]tether.Option{network.WithTLSConfig(nil)}, "network.WithTLSConfig was given a nil *tls.Config"},
	} {
		_, err := tether.Open(t.Context(), "tcp://127.0.0.1:1", append(tc.opts, tether.WithLogger(quietLogger()))...)
		if !errors.Is(err, tether.ErrBadTarget) {
			t.Errorf("Open: %v, want ErrBadTarget", err)
			continue
		}
		wantIn(t, err, tc.want)
	}
}

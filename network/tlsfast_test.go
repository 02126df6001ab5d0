package network_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/network"
)

// TestTLSFailuresFailFast: a load whose TLS handshake fails for good (no
// client certificate, an untrusted server) fails with ErrTLS at once, not
// at the end of its start timeout.
func TestTLSFailuresFailFast(t *testing.T) {
	t.Parallel()
	p, other := newPKI(t), newPKI(t)
	srv := serveTLS(t, p)
	noCert := p.clientTLS()
	noCert.Certificates = nil
	for name, opt := range map[string]tether.Option{
		"no client certificate": network.WithTLSConfig(noCert),
		"untrusted server":      network.WithTLSConfig(other.clientTLS()),
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			c, err := tether.Open(t.Context(), "tcp://"+srv.addr, opt,
				tether.WithStartTimeout(30*time.Second), tether.WithLogger(quietLogger()))
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Open took %v to fail with a 30s start timeout", took)
			}
			if !errors.Is(err, tether.ErrTLS) {
				t.Errorf("Open = %v, want ErrTLS", err)
			}
		})
	}
}

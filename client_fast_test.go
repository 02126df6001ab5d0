//go:build unix

package tether

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// A fast socket that is gone, or that accepts and never speaks, leaves the
// instance on gRPC within the dial's bound, and the host says why.
func TestFastTransportUnreachableFallsBackToGRPC(t *testing.T) {
	dir := t.TempDir()
	silent, err := net.Listen("unix", filepath.Join(dir, "silent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for name, addr := range map[string]string{"gone": filepath.Join(dir, "gone.sock"), "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			log, rec := plugintest.NewLogRecorder()
			c := &Client{opts: buildOptions(nil), log: log}
			c.admission = newAdmission(admissionHooks{})
			r := newFastRouter(c)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			r.add(ctx, Endpoint{Network: "unix", Address: "plugin.sock"}, &tetherv1.FastTransport{Network: "unix", Address: addr, Version: 1})
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("add took %v", took)
			}
			r.rebuild()
			if r.any() || r.pick(context.Background(), "/a.B/C") != nil {
				t.Fatal("an unreachable fast socket takes calls")
			}
			if _, ok := rec.Find("fast transport unreachable: calling this instance over gRPC"); !ok {
				t.Fatalf("no log record says why: %+v", rec.All())
			}
		})
	}
}

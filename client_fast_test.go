//go:build unix

package tether

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether/internal/fastrpc"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
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

// An instance's fast connection is dialled as soon as its endpoint is
// reported, then taken by its admission; one whose endpoint goes away
// first is closed, and so are those left when the client closes.
func TestFastTransportEarlyDial(t *testing.T) {
	srv := fastrpc.NewServer()
	lis, err := net.Listen("unix", filepath.Join(t.TempDir(), "p.fast.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Close()
	describe, err := proto.Marshal(&tetherv1.DescribeResponse{Fast: &tetherv1.FastTransport{Network: "unix", Address: lis.Addr().String(), Version: fastrpc.Version}})
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{opts: buildOptions(nil), log: slog.New(slog.DiscardHandler)}
	c.admission = newAdmission(admissionHooks{})
	r := newFastRouter(c)
	a := Endpoint{Network: "unix", Address: "a.sock", Describe: describe}
	b := Endpoint{Network: "unix", Address: "b.sock", Describe: describe}
	r.prepare([]Endpoint{a, b})
	if len(r.early) != 2 {
		t.Fatalf("%d early dials, want 2", len(r.early))
	}
	ea := r.early[a.key()]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cc, err := r.connect(ctx, a, nil)
	if err != nil || cc != ea.cc {
		t.Fatalf("connect = %p, %v; want the early dial's connection %p", cc, err, ea.cc)
	}
	defer cc.Close()
	eb := r.early[b.key()]
	r.prepare([]Endpoint{a}) // b is gone before its admission
	if _, ok := r.early[b.key()]; ok {
		t.Fatal("the early dial of a removed endpoint is kept")
	}
	tethertest.Recv(t, eb.done, 5*time.Second)
	r.prepare([]Endpoint{a, b}) // b is back: dialled again
	r.closeAll()
	if len(r.early) != 0 {
		t.Fatalf("%d early dials left after closeAll", len(r.early))
	}
}

package bench

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// plainToTether launches the tether echo plugin with tether.Launch but
// calls it through a second, plain grpc.NewClient connection to the
// plugin's socket: the host side of raw grpc-go, the plugin side of tether.
// Paired with Tether it isolates the host's per-call cost; paired with Raw,
// the plugin's.
type plainToTether struct{ Tether }

func (plainToTether) Name() string { return "plain-host" }

func (p plainToTether) Start(ctx context.Context) (*Instance, error) {
	c, err := tether.Launch(ctx, p.Path, tether.WithInterface("echo", 1, 2), tether.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	hs := c.Handshake()
	conn, err := grpc.NewClient(hs.Network+"://"+hs.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		c.Close()
		return nil, err
	}
	return &Instance{Echo: echov1.NewEchoClient(conn), Pid: c.Pid(),
		stop: func() error { conn.Close(); return c.Close() }}, nil
}

// overGRPC is the tether side with WithTransport(TransportGRPC): the split
// benchmarks take gRPC's path apart, which the fast transport would skip.
func overGRPC(tb testing.TB) Tether {
	t := bothSides(tb)[0].(Tether)
	t.Transport = tether.TransportGRPC
	return t
}

// BenchmarkSplitHost pairs tether over gRPC against a plain grpc-go client
// of the same kind of tether plugin process: the ratios are the host side's.
func BenchmarkSplitHost(b *testing.B) {
	t := overGRPC(b)
	plain := plainToTether{t}
	b.Run("unary", func(b *testing.B) { UnaryLatencyPaired(b, t, plain) })
	b.Run("throughput16", func(b *testing.B) { ThroughputPaired(b, t, plain) })
}

// BenchmarkSplitPlugin pairs a plain grpc-go client of a tether plugin
// against one of the raw server: the ratios are the plugin side's.
func BenchmarkSplitPlugin(b *testing.B) {
	s := bothSides(b)
	plain := plainToTether{overGRPC(b)}
	b.Run("unary", func(b *testing.B) { UnaryLatencyPaired(b, plain, s[1]) })
	b.Run("throughput16", func(b *testing.B) { ThroughputPaired(b, plain, s[1]) })
}

// renamed is a side under another name, for pairing a side with itself.
type renamed struct {
	Side
	name string
}

func (r renamed) Name() string { return r.name }

// BenchmarkSelfPaired pairs each side with itself: ratios away from 1 are
// the method's own bias (the first side of a pair is the first of each
// round).
func BenchmarkSelfPaired(b *testing.B) {
	for _, s := range bothSides(b) {
		b.Run(s.Name()+"/unary", func(b *testing.B) { UnaryLatencyPaired(b, s, renamed{s, "again"}) })
		b.Run(s.Name()+"/throughput16", func(b *testing.B) { ThroughputPaired(b, s, renamed{s, "again"}) })
	}
}

// plainToTetherTLS runs the tether echo plugin as a network plugin with
// mutual TLS (as TetherTLS does) but calls it through a plain
// grpc.NewClient with the raw side's TLS client: TetherTLS's plugin side,
// RawTLS's host side.
type plainToTetherTLS struct{ TetherTLS }

func (plainToTetherTLS) Name() string { return "plain-host-tls" }

func (p plainToTetherTLS) Start(ctx context.Context) (*Instance, error) {
	conf, err := RawTLS{Files: p.Files}.clientTLS()
	if err != nil {
		return nil, err
	}
	proc, err := p.serve(ctx)
	if err != nil {
		return nil, err
	}
	return dialTLS(proc, conf)
}

// BenchmarkSplitHostTLS is BenchmarkSplitHost over mutual TLS: tether's
// network runtime against a plain grpc-go client of the same network plugin.
func BenchmarkSplitHostTLS(b *testing.B) {
	s := bothTLSSides(b)
	plain := plainToTetherTLS{s[0].(TetherTLS)}
	b.Run("unary", func(b *testing.B) { UnaryLatencyPaired(b, s[0], plain) })
	b.Run("throughput16", func(b *testing.B) { ThroughputPaired(b, s[0], plain) })
}

// BenchmarkSplitPluginTLS is BenchmarkSplitPlugin over mutual TLS: a plain
// grpc-go client of a tether network plugin against one of rawecho.
func BenchmarkSplitPluginTLS(b *testing.B) {
	s := bothTLSSides(b)
	plain := plainToTetherTLS{s[0].(TetherTLS)}
	b.Run("unary", func(b *testing.B) { UnaryLatencyPaired(b, plain, s[1]) })
	b.Run("throughput16", func(b *testing.B) { ThroughputPaired(b, plain, s[1]) })
}

// BenchmarkTLSKeepalive pairs the tether TLS side with itself without the
// network runtime's keepalive (a host's tether.WithDialOptions with an
// infinite keepalive time turns it off; grpc-go raises a zero time to 10s):
// calls/s-ratio below 1 is what keepalive costs the host per call.
func BenchmarkTLSKeepalive(b *testing.B) {
	s := bothTLSSides(b)
	off := s[0].(TetherTLS)
	off.Options = []tether.Option{tether.WithDialOptions(grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: time.Duration(math.MaxInt64)}))}
	b.Run("throughput16", func(b *testing.B) { ThroughputPaired(b, s[0], renamed{off, "no-keepalive"}) })
}

// BenchmarkSelfPairedTLS is BenchmarkSelfPaired for the TLS sides'
// 16-caller throughput: how far a ratio strays by noise alone.
func BenchmarkSelfPairedTLS(b *testing.B) {
	for _, s := range bothTLSSides(b) {
		b.Run(s.Name()+"/throughput16", func(b *testing.B) { ThroughputPaired(b, s, renamed{s, "again"}) })
	}
}

package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// Import paths of the server programs.
const (
	TetherEchoPkg  = "github.com/tetherplug/tether/test/plugins/echoplugin"
	TetherRelayPkg = "github.com/tetherplug/tether/test/plugins/callbackplugin"
	RawEchoPkg     = "github.com/tetherplug/tether/test/plugins/rawecho"
)

// Build compiles the tether echo plugin and the raw grpc-go echo server into
// dir and returns the two sides of a comparison. It runs the go command, so
// it must run inside the tether module.
func Build(dir string) (tetherSide, rawSide Side, err error) {
	paths, err := build(dir, TetherEchoPkg, TetherRelayPkg, RawEchoPkg)
	if err != nil {
		return nil, nil, err
	}
	return Tether{Path: paths[TetherEchoPkg], RelayPath: paths[TetherRelayPkg]}, Raw{Path: paths[RawEchoPkg]}, nil
}

// BuildFloor compiles the floor's server program (test/plugins/rawsock)
// into dir.
func BuildFloor(dir string) (Floor, error) {
	paths, err := build(dir, RawSockPkg)
	return Floor{Path: paths[RawSockPkg]}, err
}

// FastSides are the four sides of the fast transport's paired runs, in
// the order the benchmarks report them: the floor, raw grpc-go, tether
// over gRPC (TransportGRPC) and tether over its fast transport
// (TransportFast, checked when each instance starts).
func FastSides(floor Floor, t Tether, raw Raw) []Side {
	overGRPC, fast := t, t
	overGRPC.Transport, fast.Transport = tether.TransportGRPC, tether.TransportFast
	return []Side{floor, raw, overGRPC, fast}
}

// build compiles each package into dir and returns the binaries' paths.
func build(dir string, pkgs ...string) (map[string]string, error) {
	paths := map[string]string{}
	for _, pkg := range pkgs {
		out := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", out, pkg)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build %s: %v: %s", pkg, err, stderr.Bytes())
		}
		paths[pkg] = out
	}
	return paths, nil
}

// Side starts Echo servers of one kind, each in its own process.
type Side interface {
	// Name is "tether" or "grpc".
	Name() string
	// Start launches a server process and returns a client connected to it
	// (the connection may still be completing when Start returns).
	Start(ctx context.Context) (*Instance, error)
	// StartRelay launches a server whose Echo calls the host back: the
	// host serves host, and every call the server gets is forwarded to it.
	StartRelay(ctx context.Context, host echov1.EchoServer) (*Instance, error)
}

// Instance is one running Echo server process and the host's client for it.
type Instance struct {
	Echo echov1.EchoClient
	Pid  int
	Addr string // the TCP address it serves on, for the TLS sides
	// Transport is what the tether Client said carries its calls, for
	// the tether sides; "" for the others.
	Transport tether.Transport
	stop      func() error
}

// Close stops the process, waits for it to exit and releases the connection.
func (i *Instance) Close() error { return i.stop() }

// Tether launches the echo test plugin with tether.Launch and dispenses its
// Echo interface. RelayPath is the callback test plugin, for StartRelay.
// Transport, when set, is passed to tether.WithTransport; with
// TransportFast, Start and StartRelay also fail with ErrNotFast unless the
// Client says its calls go over the fast transport.
type Tether struct {
	Path, RelayPath string
	Transport       tether.Transport
	// Label, when set, names the side instead of the transport (the
	// observability runs: "tether-traced", "tether-metered").
	Label string
	// Options are added to every launch (WithTracing, a metrics
	// collector's Option).
	Options []tether.Option
}

// ErrNotFast is returned by a Tether side asked for TransportFast whose
// Client reports another transport (TETHER_TRANSPORT=grpc in the
// environment, or a tether without the fast transport): its figures would
// be gRPC's under the fast transport's name.
var ErrNotFast = errors.New("bench: tether-fast side: the client's calls do not go over the fast transport")

// Name returns Label when set, else "tether", or "tether-grpc" or
// "tether-fast" when Transport is set.
func (t Tether) Name() string {
	if t.Label != "" {
		return t.Label
	}
	if t.Transport == "" {
		return "tether"
	}
	return "tether-" + string(t.Transport)
}

// Start launches the plugin.
func (t Tether) Start(ctx context.Context) (*Instance, error) {
	return t.launch(ctx, t.Path, tether.WithInterface("echo", 1, 2))
}

// StartRelay launches the callback plugin, giving it host as a callback
// service on its own connection.
func (t Tether) StartRelay(ctx context.Context, host echov1.EchoServer) (*Instance, error) {
	return t.launch(ctx, t.RelayPath, tether.WithInterface("echo", 1),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, host) }))
}

func (t Tether) launch(ctx context.Context, path string, opts ...tether.Option) (*Instance, error) {
	opts = append(append(opts, t.Options...), tether.WithLogger(slog.New(slog.DiscardHandler)))
	if t.Transport != "" {
		opts = append(opts, tether.WithTransport(t.Transport))
	}
	c, err := tether.Launch(ctx, path, opts...)
	if err != nil {
		return nil, err
	}
	if got := c.Transport(); t.Transport == tether.TransportFast && got != tether.TransportFast {
		return nil, errors.Join(fmt.Errorf("%w (Client.Transport() = %q)", ErrNotFast, got), c.Close())
	}
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &Instance{Echo: echo, Pid: c.Pid(), Transport: c.Transport(), stop: c.Close}, nil
}

// Raw runs the rawecho program on a Unix socket in a fresh directory, waits
// for it to say it is listening, and dials it with plain grpc.NewClient.
type Raw struct{ Path string }

// Name returns "grpc".
func (Raw) Name() string { return "grpc" }

// Start runs the raw server.
func (r Raw) Start(ctx context.Context) (*Instance, error) { return r.start(ctx, nil) }

// StartRelay serves host on a second Unix socket of the host's and runs the
// raw server in relay mode: it dials that socket and forwards every call,
// the way a plain gRPC plugin would call its host back.
func (r Raw) StartRelay(ctx context.Context, host echov1.EchoServer) (*Instance, error) {
	return r.start(ctx, host)
}

func (r Raw) start(ctx context.Context, host echov1.EchoServer) (*Instance, error) {
	dir, err := os.MkdirTemp("", "tether-bench-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "echo.sock")
	args := []string{sock}
	var hostSrv *grpc.Server
	if host != nil {
		hostSock := filepath.Join(dir, "host.sock")
		lis, err := net.Listen("unix", hostSock)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		hostSrv = grpc.NewServer()
		echov1.RegisterEchoServer(hostSrv, host)
		go func() { _ = hostSrv.Serve(lis) }()
		args = append(args, hostSock)
	}
	cmd := exec.Command(r.Path, args...)
	cmd.Stderr = os.Stderr
	// On Linux the server dies with the benchmark even if the benchmark is
	// killed.
	cmd.SysProcAttr = dieWithBenchmark()
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		if hostSrv != nil {
			hostSrv.Stop()
		}
		os.RemoveAll(dir)
		return nil, err
	}
	stop := func() error {
		_ = terminate(cmd.Process)
		_ = cmd.Wait()
		if hostSrv != nil {
			hostSrv.Stop()
		}
		return os.RemoveAll(dir)
	}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("rawecho printed %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = cmd.Process.Kill()
		stop()
		return nil, err
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		stop()
		return nil, err
	}
	return &Instance{
		Echo: echov1.NewEchoClient(conn),
		Pid:  cmd.Process.Pid,
		stop: func() error { conn.Close(); return stop() },
	}, nil
}

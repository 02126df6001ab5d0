package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// Import paths of the two server programs.
const (
	TetherEchoPkg = "github.com/tetherplug/tether/internal/plugintest/echoplugin"
	RawEchoPkg    = "github.com/tetherplug/tether/internal/plugintest/rawecho"
)

// Build compiles the tether echo plugin and the raw grpc-go echo server into
// dir and returns the two sides of a comparison. It runs the go command, so
// it must run inside the tether module.
func Build(dir string) (tetherSide, rawSide Side, err error) {
	paths := map[string]string{}
	for _, pkg := range []string{TetherEchoPkg, RawEchoPkg} {
		out := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", out, pkg)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return nil, nil, fmt.Errorf("go build %s: %v: %s", pkg, err, stderr.Bytes())
		}
		paths[pkg] = out
	}
	return Tether{Path: paths[TetherEchoPkg]}, Raw{Path: paths[RawEchoPkg]}, nil
}

// Side starts Echo servers of one kind, each in its own process.
type Side interface {
	// Name is "tether" or "grpc".
	Name() string
	// Start launches a server process and returns a client connected to it
	// (the connection may still be completing when Start returns).
	Start(ctx context.Context) (*Instance, error)
}

// Instance is one running Echo server process and the host's client for it.
type Instance struct {
	Echo echov1.EchoClient
	Pid  int
	stop func() error
}

// Close stops the process, waits for it to exit and releases the connection.
func (i *Instance) Close() error { return i.stop() }

// Tether launches the echo test plugin with tether.Launch and dispenses its
// Echo interface.
type Tether struct{ Path string }

// Name returns "tether".
func (Tether) Name() string { return "tether" }

// Start launches the plugin.
func (t Tether) Start(ctx context.Context) (*Instance, error) {
	c, err := tether.Launch(ctx, t.Path,
		tether.WithInterface("echo", 1, 2),
		tether.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &Instance{Echo: echo, Pid: c.Pid(), stop: c.Close}, nil
}

// Raw runs the rawecho program on a Unix socket in a fresh directory, waits
// for it to say it is listening, and dials it with plain grpc.NewClient.
type Raw struct{ Path string }

// Name returns "grpc".
func (Raw) Name() string { return "grpc" }

// Start runs the raw server.
func (r Raw) Start(ctx context.Context) (*Instance, error) {
	dir, err := os.MkdirTemp("", "tether-bench-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "echo.sock")
	cmd := exec.Command(r.Path, sock)
	cmd.Stderr = os.Stderr
	// The server dies with the benchmark even if the benchmark is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
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

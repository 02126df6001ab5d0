package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/certs"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/network"
	"github.com/tetherplug/tether/remote"
)

// ErrNoRelay is returned by StartRelay of the TLS sides, which have no
// callback server.
var ErrNoRelay = errors.New("bench: the mutual TLS sides have no relay server")

// stopWait bounds how long a stopped server may take to exit after SIGTERM
// before it is killed.
const stopWait = 10 * time.Second

// TLSFiles are the PEM files of one mutual TLS set-up: a CA, a server
// certificate for 127.0.0.1 and localhost, and a client certificate, all
// signed by the CA.
type TLSFiles struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// WriteTLSFiles makes a CA, a server and a client certificate (valid for a
// day) and writes them into dir, which it creates owner-only; every file
// is owner-only too.
func WriteTLSFiles(dir string) (TLSFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return TLSFiles{}, err
	}
	const life = 24 * time.Hour
	ca, err := certs.NewCA("tether bench CA", life)
	if err != nil {
		return TLSFiles{}, err
	}
	srv, err := ca.IssueServer("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, life)
	if err != nil {
		return TLSFiles{}, err
	}
	cli, err := ca.IssueClient("bench host", life)
	if err != nil {
		return TLSFiles{}, err
	}
	f := TLSFiles{
		CA:         filepath.Join(dir, "ca.crt"),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
	}
	if err := certs.WriteFile(f.CA, ca.CertPEM(), 0o600, true); err != nil {
		return TLSFiles{}, err
	}
	for _, p := range []struct {
		pair       *certs.Pair
		cert, lkey string
	}{{srv, f.ServerCert, f.ServerKey}, {cli, f.ClientCert, f.ClientKey}} {
		key, err := p.pair.KeyPEM()
		if err == nil {
			err = certs.WriteFile(p.lkey, key, 0o600, true)
		}
		if err == nil {
			err = certs.WriteFile(p.cert, p.pair.CertPEM(), 0o600, true)
		}
		if err != nil {
			return TLSFiles{}, err
		}
	}
	return f, nil
}

// TLSSides writes a mutual TLS set-up into dir (see WriteTLSFiles) and
// returns the two sides that use it over loopback TCP: the tether echo
// plugin as a network plugin (TetherTLS) and rawecho with -listen (RawTLS).
func TLSSides(dir string, t Tether, r Raw) (tetherSide, rawSide Side, err error) {
	f, err := WriteTLSFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	return TetherTLS{Path: t.Path, Files: f}, RawTLS{Path: r.Path, Files: f}, nil
}

// TetherTLS runs the tether echo plugin as a network plugin on a loopback
// TCP port with mutual TLS (TETHER_LISTEN and the TLS variables, the way a
// deployment starts one) and reaches it with tether.Open on a tcp:// target
// with network.WithTLSFiles.
type TetherTLS struct {
	Path  string
	Files TLSFiles
	// Options are more options for tether.Open, after the side's own.
	Options []tether.Option
}

func (t TetherTLS) tlsFiles() TLSFiles { return t.Files }

// Name returns "tether-tls".
func (TetherTLS) Name() string { return "tether-tls" }

// StartRelay is not supported: it returns ErrNoRelay.
func (TetherTLS) StartRelay(context.Context, echov1.EchoServer) (*Instance, error) {
	return nil, ErrNoRelay
}

// Start runs the plugin, waits for its "listening" log line and opens a
// client for its address.
func (t TetherTLS) Start(ctx context.Context) (*Instance, error) {
	p, err := t.serve(ctx)
	if err != nil {
		return nil, err
	}
	cmd := p.cmd
	opts := append([]tether.Option{network.WithTLSFiles(t.Files.ClientCert, t.Files.ClientKey, t.Files.CA),
		tether.WithInterface("echo", 1), tether.WithLogger(slog.New(slog.DiscardHandler))}, t.Options...)
	c, err := tether.Open(ctx, "tcp://"+p.addr, opts...)
	if err != nil {
		return nil, errors.Join(err, p.stop())
	}
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		return nil, errors.Join(err, c.Close(), p.stop())
	}
	return &Instance{Echo: echo, Pid: cmd.Process.Pid, Addr: p.addr,
		stop: func() error { return errors.Join(c.Close(), p.stop()) }}, nil
}

// serve runs the plugin as a network plugin and waits for its address.
func (t TetherTLS) serve(ctx context.Context) (*serverProc, error) {
	cmd := exec.Command(t.Path)
	cmd.Env = append(os.Environ(),
		tether.EnvListen+"=127.0.0.1:0",
		tether.EnvTLSCert+"="+t.Files.ServerCert,
		tether.EnvTLSKey+"="+t.Files.ServerKey,
		tether.EnvTLSClientCA+"="+t.Files.CA)
	return startServer(ctx, cmd, true, listeningAddr)
}

// listeningAddr returns the address of a tether plugin's JSON "listening"
// log line, or "" for any other line.
func listeningAddr(line string) string {
	var rec struct{ Msg, Addr string }
	if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
		return rec.Addr
	}
	return ""
}

// RawTLS runs rawecho on a loopback TCP port with mutual TLS and dials it
// with plain grpc.NewClient and credentials.NewTLS, with the same client
// certificate and CA as TetherTLS.
type RawTLS struct {
	Path  string
	Files TLSFiles
	// Keepalive gives both ends the keepalive of tether's network
	// runtime and plugins, for a baseline with the same transport settings.
	Keepalive bool
}

func (r RawTLS) tlsFiles() TLSFiles { return r.Files }

// Name returns "grpc-tls".
func (RawTLS) Name() string { return "grpc-tls" }

// StartRelay is not supported: it returns ErrNoRelay.
func (RawTLS) StartRelay(context.Context, echov1.EchoServer) (*Instance, error) {
	return nil, ErrNoRelay
}

// Start runs the server, waits for its "ready ADDR" line and dials it.
func (r RawTLS) Start(ctx context.Context) (*Instance, error) {
	conf, err := r.clientTLS()
	if err != nil {
		return nil, err
	}
	args := []string{"-listen", "127.0.0.1:0", "-tls-cert", r.Files.ServerCert, "-tls-key", r.Files.ServerKey, "-client-ca", r.Files.CA}
	var dialOpts []grpc.DialOption
	if r.Keepalive {
		args = append(args, "-keepalive")
		dialOpts = append(dialOpts, grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: remote.KeepaliveTime, Timeout: remote.KeepaliveTimeout, PermitWithoutStream: true}))
	}
	cmd := exec.Command(r.Path, args...)
	p, err := startServer(ctx, cmd, false, func(line string) string {
		addr, _ := strings.CutPrefix(line, "ready ")
		return addr
	})
	if err != nil {
		return nil, err
	}
	return dialTLS(p, conf, dialOpts...)
}

// dialTLS dials the server p with plain grpc.NewClient and conf.
func dialTLS(p *serverProc, conf *tls.Config, opts ...grpc.DialOption) (*Instance, error) {
	conn, err := grpc.NewClient(p.addr, append(opts, grpc.WithTransportCredentials(credentials.NewTLS(conf)))...)
	if err != nil {
		return nil, errors.Join(err, p.stop())
	}
	return &Instance{Echo: echov1.NewEchoClient(conn), Pid: p.cmd.Process.Pid, Addr: p.addr,
		stop: func() error { return errors.Join(conn.Close(), p.stop()) }}, nil
}

// clientTLS is the client side of the set-up: the client certificate, and
// the CA as the only root.
func (r RawTLS) clientTLS() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(r.Files.ClientCert, r.Files.ClientKey)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(r.Files.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no PEM certificate", r.Files.CA)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// serverProc is a started server process and the address it announced.
type serverProc struct {
	cmd     *exec.Cmd
	addr    string
	drained chan struct{} // closed when its output pipe is at EOF
}

// startServer starts cmd and reads its stderr (fromStderr) or stdout line by
// line until addrOf returns an address, then keeps draining that output
// (discarded) so the server never blocks on it; the other stream goes to
// this process's stderr. It fails when ctx ends or the server exits first.
func startServer(ctx context.Context, cmd *exec.Cmd, fromStderr bool, addrOf func(string) string) (*serverProc, error) {
	// On Linux the server dies with the benchmark even if the benchmark is
	// killed.
	cmd.SysProcAttr = dieWithBenchmark()
	var out io.ReadCloser
	var err error
	if fromStderr {
		cmd.Stdout = os.Stderr
		out, err = cmd.StderrPipe()
	} else {
		cmd.Stderr = os.Stderr
		out, err = cmd.StdoutPipe()
	}
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		return nil, err
	}
	p := &serverProc{cmd: cmd, drained: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(p.drained)
		sent := false
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a := addrOf(strings.TrimSpace(sc.Text())); a != "" && !sent {
				found <- a
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, out) // a line too long for the scanner

	}()
	select {
	case p.addr = <-found:
		return p, nil
	case <-p.drained:
		err = fmt.Errorf("%s exited before it announced its address", filepath.Base(cmd.Path))
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = cmd.Process.Kill()
	return nil, errors.Join(err, p.wait())
}

// stop terminates the server (SIGTERM; see terminate), kills it if it has
// not exited within stopWait, and waits for it and its output reader.
func (p *serverProc) stop() error {
	_ = terminate(p.cmd.Process)
	timer := time.AfterFunc(stopWait, func() { _ = p.cmd.Process.Kill() })
	defer timer.Stop()
	return p.wait()
}

// wait waits for the process to exit and its output to be read to the end.
// An exit caused by terminate is not an error.
func (p *serverProc) wait() error {
	<-p.drained // EOF comes when the process and any child holding the pipe exit
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if terminated(ee) {
			return nil
		}
	}
	return err
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/grpcproxy"
	"github.com/tetherplug/tether/internal/netguard"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/tlsreload"
	"github.com/tetherplug/tether/metrics"
)

func init() { register(newServeCmd) }

// hostOnly are the methods of go-plugin's services that only the host that
// launched a plugin may call, and why a network caller may not.
var hostOnly = map[string]string{
	"/plugin.GRPCController/Shutdown": "only the launching host (tether serve) stops the plugin; stop tether serve instead",
	"/plugin.GRPCStdio/StreamStdio":   "the plugin's output belongs to the launching host (tether serve logs it)",
	"/plugin.GRPCBroker/StartStream":  "the go-plugin broker connects the plugin with the host that launched it, not with network callers",
}

// certCheckInterval is how often, at most, serve looks at its certificate
// files for a rotation (on a new connection only), as network plugins do.
const certCheckInterval = 500 * time.Millisecond

// serveFlags are serve's own flags: the listening side.
type serveFlags struct {
	plugin              pluginFlags
	listen              string
	metrics             string
	cert, key, clientCA string
	insecure, plainLog  bool
	grace               time.Duration
	limits              limitFlags
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve TARGET --listen ADDR (--tls-cert FILE --tls-key FILE --client-ca FILE | --insecure) [flags] [-- PLUGIN-ARGS...]",
		Short: "Launch a local plugin and expose it on the network through a transparent gRPC proxy",
		Long: `Serve launches the local plugin TARGET names (a path or exec:///abs/path: any
go-plugin compatible program, a tether plugin, a go-plugin plugin, a Terraform
provider, unmodified) and serves it on ADDR to network hosts (tcp:// targets),
forwarding every call of every shape unchanged through a proxy that knows
nothing of its services. For a plugin that serves no Describe (go-plugin
ones) it answers Describe from the handshake, so network hosts treat both
alike. It refuses network callers the go-plugin controller's Shutdown, the
stdio stream and the broker: only the launching host uses those. What the
plugin logs and prints goes to serve's own log on stderr.

The listening side is mutual TLS (--tls-cert, --tls-key and --client-ca;
TLS 1.3 preferred, 1.2 at least; the files are re-read when they change), or
plaintext with --insecure, logged as a warning. The --max-* flags and
--handshake-timeout bound what one network peer can make serve hold (header
size, calls per connection, connections in their handshake, per address and
in all; see docs/network.md). Serve logs one "listening"
line with the bound address (so --listen 127.0.0.1:0 picks a free port). On
SIGTERM or SIGINT it stops accepting calls, lets calls in flight finish for
up to --grace, stops the plugin and exits 0.

When the plugin exits, serve starts it again (after 50 ms, doubling to 5 s
while it keeps failing) and keeps listening: calls made meanwhile fail with
Unavailable, and network hosts' connections stay up. With --metrics ADDR it
serves Prometheus metrics at http://ADDR/metrics (calls by method and code,
latency, restarts, last exit: see docs/observability.md); a bare port
(9090) listens on loopback.`,
		Example: `  tether certs ca --dir pki
  tether certs server --dir pki --ca-dir pki --name greeter --ip 127.0.0.1
  tether certs client --dir pki --ca-dir pki --name host-1
  tether serve ./bin/plugins/greeter-en --listen 0.0.0.0:7000 --tls-cert pki/greeter.crt --tls-key pki/greeter.key --client-ca pki/ca.crt
  tether serve ./bin/plugins/greeter-en --listen 127.0.0.1:7000 --insecure --metrics 9090
  tether serve ./terraform-provider-null --listen 127.0.0.1:7000 --insecure --cookie TF_PLUGIN_MAGIC_COOKIE=d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2 --protocol-version 5`,
		RunE: func(cmd *cobra.Command, args []string) error {
			own, pluginArgs := splitDash(cmd, args)
			if len(own) != 1 {
				return fmt.Errorf("serve takes one TARGET, got %d arguments (see tether serve --help)", len(own))
			}
			return f.run(cmd.Context(), own[0], pluginArgs)
		},
	}
	f.plugin.addLaunch(cmd)
	fs := cmd.Flags()
	fs.Lookup("timeout").Usage = "bound on starting the plugin" // serve itself runs until stopped
	fs.StringVar(&f.listen, "listen", "", "TCP address to serve on: 0.0.0.0:7000, 127.0.0.1:0 for any free port (required)")
	fs.StringVar(&f.cert, "tls-cert", "", "server certificate chain (PEM) for mutual TLS; needs --tls-key and --client-ca")
	fs.StringVar(&f.key, "tls-key", "", "private key (PEM) of --tls-cert")
	fs.StringVar(&f.clientCA, "client-ca", "", "CA certificates (PEM) client certificates must chain to")
	fs.BoolVar(&f.insecure, "insecure", false, "serve plaintext gRPC: anyone who reaches ADDR can call the plugin")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics: a port (9090, on loopback) or host:port")
	fs.BoolVar(&f.plainLog, "log-text", false, "log plain text lines instead of JSON")
	fs.DurationVar(&f.grace, "grace", defaultGrace(), "how long calls in flight may finish after SIGTERM; $"+tether.EnvShutdownGrace+" when set")
	f.limits.add(cmd)
	return cmd
}

// defaultGrace is TETHER_SHUTDOWN_GRACE when it is a positive duration,
// else the 2 s a plugin's own shutdown defaults to.
func defaultGrace() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(tether.EnvShutdownGrace)); err == nil && d > 0 {
		return d
	}
	return 2 * time.Second
}

// logger is serve's log on stderr: JSON, or text with --log-text; debug
// lines too with --verbose.
func (f *serveFlags) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if f.plugin.verbose {
		opts.Level = slog.LevelDebug
	}
	if f.plainLog {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// credentials are the listening side's transport credentials.
func (f *serveFlags) credentials(log *slog.Logger) (credentials.TransportCredentials, error) {
	tlsGiven := f.cert != "" || f.key != "" || f.clientCA != ""
	switch {
	case f.insecure && tlsGiven:
		return nil, errors.New("--insecure contradicts --tls-cert, --tls-key and --client-ca: give TLS files or --insecure, not both")
	case f.insecure:
		log.Warn("serving plaintext gRPC: anyone who reaches the address can call the plugin and read its traffic", "flag", "--insecure")
		return insecure.NewCredentials(), nil
	case !tlsGiven:
		return nil, errors.New("serve needs --tls-cert, --tls-key and --client-ca for mutual TLS, or --insecure to serve plaintext")
	case f.cert == "" || f.key == "":
		return nil, errors.New("--tls-cert and --tls-key go together: give the server certificate and its key")
	case f.clientCA == "":
		return nil, errors.New("--client-ca is required with --tls-cert: the CA that signed the certificates of the hosts allowed to call")
	}
	for _, file := range [][2]string{{"--tls-cert", f.cert}, {"--tls-key", f.key}, {"--client-ca", f.clientCA}} {
		if _, err := os.Stat(file[1]); err != nil {
			return nil, fmt.Errorf("%s: %w", file[0], err)
		}
	}
	r, err := tlsreload.NewLogged(tlsreload.Config{CertFile: f.cert, KeyFile: f.key, ClientCAFile: f.clientCA, Interval: certCheckInterval}, log)
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(r.TLSConfig()), nil
}

// run is the whole command: check the flags, listen, launch the plugin,
// proxy to it until a signal or its end.
func (f *serveFlags) run(parent context.Context, target string, pluginArgs []string) error {
	t, err := tether.ParseTarget(target)
	if err != nil {
		return err
	}
	if t.Scheme != "exec" {
		return fmt.Errorf("serve launches a local plugin (a path or exec:///abs/path); %s is a %s target", t, t.Scheme)
	}
	if f.listen == "" {
		return errors.New("serve needs --listen ADDR, the TCP address to serve on (127.0.0.1:0 for any free port)")
	}
	if f.grace <= 0 {
		return fmt.Errorf("--grace %v: want a positive duration", f.grace)
	}
	limits, err := f.limits.limits()
	if err != nil {
		return err
	}
	log := f.logger()
	creds, err := f.credentials(log)
	if err != nil {
		return err
	}
	guard := netguard.New(limits, log)
	lis, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", f.listen, err)
	}
	defer lis.Close()

	ctx, stopSignals := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	f.plugin.log = log
	// The plugin is started again whenever it exits: network hosts keep
	// their connections to serve, and their calls fail Unavailable meanwhile.
	f.plugin.extra = append(f.plugin.extra, tether.WithRestart())
	if f.metrics != "" {
		m := metrics.New()
		stopMetrics, err := serveMetrics(f.metrics, log, m)
		if err != nil {
			return err
		}
		defer stopMetrics()
		f.plugin.extra = append(f.plugin.extra, m.Option())
	}
	// The proxy passes frames through undecoded, which only gRPC carries:
	// the plugin need not offer the fast transport.
	f.plugin.transport = string(tether.TransportGRPC)
	startCtx, cancel := context.WithTimeout(ctx, f.plugin.timeout)
	c, err := f.plugin.launch(startCtx, target, pluginArgs)
	cancel()
	if err != nil {
		if ctx.Err() != nil && parent.Err() == nil {
			return &exitError{code: 130, err: errors.New("interrupted while the plugin started; it was stopped")}
		}
		return err
	}
	defer stop(c)
	// Network hosts ping idle connections (see the network package); the
	// proxy pings its hosts in turn, so a vanished host's calls end.
	tr := newServeTracing(log)
	defer tr.shutdown()
	srv, err := newProxyServer(c, tr, append(tr.opts, guard.ServerOptions(creds, keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second})...))
	if err != nil {
		return err
	}
	return f.serve(ctx, log, c, srv, guard.Listener(lis))
}

// newProxyServer is the server forwarding every call to c's connection,
// answering Describe for a plugin that does not describe itself; opts are
// its credentials, limits and keepalive.
func newProxyServer(c *tether.Client, tr serveTracing, opts []grpc.ServerOption) (*grpc.Server, error) {
	cfg := grpcproxy.Config{Upstream: tr.upstream(c.Conn()), Refuse: hostOnly}
	if !c.Described() {
		resp := &tetherv1.DescribeResponse{
			ProtocolVersions: []uint32{uint32(c.ProtocolVersion())},
			TetherProtocol:   1,
			Features:         []string{tether.FeatureGoPlugin},
		}
		cfg.Answer = map[string]grpc.StreamHandler{tetherv1.Plugin_Describe_FullMethodName: describeAs(resp)}
	}
	px, err := grpcproxy.New(cfg)
	if err != nil {
		return nil, err
	}
	return px.NewServer(append(opts, grpc.KeepaliveEnforcementPolicy(tether.AcceptedKeepalive))...), nil
}

// describeAs answers Describe with resp.
func describeAs(resp *tetherv1.DescribeResponse) grpc.StreamHandler {
	return func(_ any, s grpc.ServerStream) error {
		var req tetherv1.DescribeRequest
		if err := s.RecvMsg(&req); err != nil {
			return err
		}
		return s.SendMsg(resp)
	}
}

// serve serves srv on lis until ctx ends (a signal); the plugin's
// restarts leave it serving. After a signal it drains calls in flight for
// up to the grace period.
func (f *serveFlags) serve(ctx context.Context, log *slog.Logger, c *tether.Client, srv *grpc.Server, lis net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	log.Info("listening", "addr", lis.Addr().String(), "tls", !f.insecure, "plugin", c.Name(), "pid", c.Pid())
	select {
	case <-ctx.Done():
		log.Info("stopping: calls in flight may finish, new calls are refused", "grace", f.grace.String())
	case err := <-served:
		return fmt.Errorf("serving on %s stopped: %w", lis.Addr(), err)
	}
	drained := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(f.grace):
		log.Warn("calls still in flight after the grace period are cut off", "grace", f.grace.String())
		srv.Stop()
		<-drained
	}
	<-served
	log.Info("stopped")
	return nil
}

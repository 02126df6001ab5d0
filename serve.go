package tether

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether/internal/autotls"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/wire"
)

// Serve runs a plugin program launched by a host. It checks the magic cookie,
// negotiates the protocol version, listens on a Unix socket in a private
// directory, prints the handshake line and serves until the host asks it to
// shut down, it receives SIGTERM, or its host dies. It never returns: it exits
// the process (status 0 after a clean shutdown, 1 on a handshake failure).
//
// Call it last in main. Anything printed to stdout before it corrupts the
// handshake; after it, stdout and stderr reach the host's sinks.
//
// With EnvListen (TETHER_LISTEN) in its environment, Serve serves on that TCP
// address instead, for hosts that reach the plugin over the network: mutual
// TLS from the files EnvTLSCert, EnvTLSKey and EnvTLSClientCA name (re-read
// when they change), or plaintext with EnvInsecure=1. It then needs no magic
// cookie, prints nothing on stdout, logs the address it listens on and stops
// gracefully on SIGTERM. See docs/plugins.md, "Serving on the network".
func Serve(cfg ServeConfig) {
	if addr := os.Getenv(EnvListen); addr != "" {
		os.Exit(serveNetwork(cfg, addr))
	}
	os.Exit(serveLaunched(cfg, os.Stdout, os.Stderr))
}

func serveLaunched(cfg ServeConfig, stdout, stderr io.Writer) int {
	hs := cfg.Handshake.withDefaults()
	if os.Getenv(hs.MagicCookieKey) != hs.MagicCookieValue {
		fmt.Fprint(stderr, wire.CookieMessage(hs.MagicCookieKey))
		return 1
	}
	go warmDescribe()
	log := cfg.Logger
	if log == nil {
		log = Logger()
		cfg.Logger = log
	}

	defer tracingFromEnv(&cfg, log)()

	served := cfg.versions()
	version := served[0] // a host that offers nothing gets our highest
	if offered := wire.ParseVersions(os.Getenv(EnvProtocolVersions)); len(offered) > 0 {
		if v := wire.HighestShared(served, offered); v > 0 {
			version = v
		} else {
			// Say so, then print the handshake with our highest version:
			// the host reports the mismatch with both sides' versions.
			log.Error("no protocol version shared with the host", "host_versions", offered, "plugin_versions", served)
		}
	}

	// Catch signals before there is anything to clean up: a SIGTERM (the
	// parent-death signal) arriving while the plugin starts must still
	// remove its socket and directory.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	signal.Ignore(syscall.SIGINT) // the host's terminal's Ctrl-C is for the host
	// Once the host is gone, writing to stdout or stderr (the pipes it read)
	// fails. Without this, Go would then die of SIGPIPE before the cleanup.
	signal.Ignore(syscall.SIGPIPE)

	lis, cleanup, err := launchListener(log)
	if err != nil {
		log.Error("cannot listen", "error", err)
		return 1
	}
	defer cleanup()

	var opts []grpc.ServerOption
	var serverCert []byte
	var conf *tls.Config
	if hostPEM := os.Getenv(EnvClientCert); hostPEM != "" {
		own, _, err := autotls.Generate()
		if err == nil {
			if conf, err = autotls.ServerConfig(own, []byte(hostPEM)); err == nil {
				opts = append(opts, grpc.Creds(credentials.NewTLS(conf)))
				serverCert = own.Certificate[0]
			}
		}
		if err != nil {
			log.Error("automatic mutual TLS failed", "error", err)
			return 1
		}
	}

	srv := NewServer(cfg, opts...)
	if os.Getenv(EnvFastTransport) == "1" {
		defer srv.offerFast(lis, conf)()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()

	line := HandshakeLine{
		CoreVersion: CoreProtocolVersion, AppVersion: version,
		Network: lis.Addr().Network(), Address: lis.Addr().String(), Protocol: "grpc", ServerCert: serverCert,
	}
	if os.Getenv(EnvDescribeInHandshake) == "1" {
		line.Describe, _ = proto.Marshal(srv.describe) // a host that asked parses it, or asks by RPC
	}
	fmt.Fprintln(stdout, line.String())
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}

	gone := hostGone(log)
	select {
	case <-srv.ShutdownRequested():
		log.Debug("host asked the plugin to shut down")
	case sig := <-signals:
		log.Debug("plugin received a signal; shutting down", "signal", sig.String())
	case <-gone:
		// Nobody is left to drain calls for: stop at once.
		log.Warn("host process is gone; shutting down")
		srv.stop(closed)
		return 0
	case err := <-serveErr:
		log.Error("serving stopped", "error", err)
		return 1
	}
	// A graceful stop, cut short if the host dies meanwhile (its
	// parent-death SIGTERM and the end of its pipe come together). Handler
	// goroutines still running when it returns die with the process.
	srv.stop(gone)
	return 0
}

// closed is a channel that is always closed.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// warmDescribe marshals a Describe answer once, in the background while the
// plugin starts. Protobuf builds a message type's marshalling tables on its
// first use, about 0.3 ms for Describe's three types, and Describe is the
// first call every host makes: warmed, it stays off the start-up path.
func warmDescribe() {
	_, _ = proto.Marshal(&tetherv1.DescribeResponse{Interfaces: []*tetherv1.Interface{{Services: []*tetherv1.Service{{}}}}})
}

// hostGone returns a channel closed when the host is gone: the pipe named
// by EnvHostPipe, whose write end only the host holds, reads EOF or fails.
// It is never closed when the host passed no pipe or asked the plugin to
// outlive it. The descriptor is made close-on-exec and the variable removed
// from the environment, so the plugin's own children hold neither.
func hostGone(log *slog.Logger) <-chan struct{} {
	ch := make(chan struct{})
	v, set := os.LookupEnv(EnvHostPipe)
	if !set || os.Getenv(EnvOutlive) == "1" {
		return ch
	}
	_ = os.Unsetenv(EnvHostPipe)
	pipe, err := hostPipeFile(v)
	if err != nil {
		log.Error("the host's liveness pipe is not an open pipe; not watching the host", "env", EnvHostPipe, "value", v, "error", err)
		return ch
	}
	go func() {
		defer close(ch)
		var buf [64]byte
		for {
			if _, err := pipe.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	return ch
}

// Logger returns the logger plugin programs should use: JSON lines on stderr
// at every level, which the host turns back into records of its own logger
// with the same level, message and attributes.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

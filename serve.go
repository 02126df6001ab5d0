package tether

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether/internal/autotls"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// Serve runs a plugin program launched by a host. It checks the magic cookie,
// negotiates the protocol version, listens on a Unix socket in a private
// directory, prints the handshake line and serves until the host asks it to
// shut down, it receives SIGTERM, or its host dies. It never returns: it exits
// the process (status 0 after a clean shutdown, 1 on a handshake failure).
//
// Call it last in main. Anything printed to stdout before it corrupts the
// handshake; after it, stdout and stderr reach the host's sinks.
func Serve(cfg ServeConfig) {
	os.Exit(serveLaunched(cfg, os.Stdout, os.Stderr))
}

func serveLaunched(cfg ServeConfig, stdout, stderr io.Writer) int {
	hs := cfg.Handshake.withDefaults()
	if os.Getenv(hs.MagicCookieKey) != hs.MagicCookieValue {
		fmt.Fprint(stderr, cookieMessage(hs.MagicCookieKey))
		return 1
	}
	go warmDescribe()
	log := cfg.Logger
	if log == nil {
		log = Logger()
		cfg.Logger = log
	}

	served := cfg.versions()
	version := served[0] // a host that offers nothing gets our highest
	if offered := parseVersions(os.Getenv(EnvProtocolVersions)); len(offered) > 0 {
		if v := highestShared(served, offered); v > 0 {
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

	lis, cleanup, err := launchListener()
	if err != nil {
		log.Error("cannot listen", "error", err)
		return 1
	}
	defer cleanup()

	var opts []grpc.ServerOption
	var serverCert []byte
	if hostPEM := os.Getenv(EnvClientCert); hostPEM != "" {
		own, _, err := autotls.Generate()
		if err == nil {
			var conf *tls.Config
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
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()

	line := HandshakeLine{
		CoreVersion: CoreProtocolVersion, AppVersion: version,
		Network: "unix", Address: lis.Addr().String(), Protocol: "grpc", ServerCert: serverCert,
	}
	fmt.Fprintln(stdout, line.String())
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}

	select {
	case <-srv.ShutdownRequested():
		log.Debug("host asked the plugin to shut down")
	case sig := <-signals:
		log.Debug("plugin received a signal; shutting down", "signal", sig.String())
	case <-hostGone():
		log.Warn("host process is gone; shutting down")
	case err := <-serveErr:
		log.Error("serving stopped", "error", err)
		return 1
	}
	srv.Stop()
	return 0
}

// warmDescribe marshals a Describe answer once, in the background while the
// plugin starts. Protobuf builds a message type's marshalling tables on its
// first use, about 0.3 ms for Describe's three types, and Describe is the
// first call every host makes: warmed, it stays off the start-up path.
func warmDescribe() {
	_, _ = proto.Marshal(&tetherv1.DescribeResponse{Interfaces: []*tetherv1.Interface{{Services: []*tetherv1.Service{{}}}}})
}

// launchListener listens on a Unix socket in the directory the host named,
// or in a private directory of its own. The returned cleanup removes the
// socket, and the directory when the plugin owns it.
func launchListener() (net.Listener, func(), error) {
	dir := os.Getenv(EnvUnixSocketDir)
	ownDir := dir != "" && os.Getenv(EnvOwnSocketDir) == dir
	if dir == "" {
		d, err := os.MkdirTemp("", "tether-plugin-")
		if err != nil {
			return nil, nil, err
		}
		dir, ownDir = d, true
	}
	path := filepath.Join(dir, fmt.Sprintf("plugin-%d.sock", os.Getpid()))
	lis, err := net.Listen("unix", path)
	if err != nil {
		if ownDir {
			_ = os.Remove(dir)
		}
		return nil, nil, err
	}
	lis.(*net.UnixListener).SetUnlinkOnClose(true)
	cleanup := func() {
		_ = lis.Close()
		_ = os.Remove(path)
		if ownDir {
			_ = os.Remove(dir)
		}
	}
	return lis, cleanup, nil
}

// hostGone returns a channel closed when the process that launched this
// plugin is no longer its parent, unless the host asked the plugin to outlive
// it. Hosts also set a parent-death signal on Linux; this covers the rest.
func hostGone() <-chan struct{} {
	ch := make(chan struct{})
	host := getenvInt(EnvHostPID)
	if host == 0 || os.Getenv(EnvOutlive) == "1" {
		return ch
	}
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for range t.C {
			if os.Getppid() != host {
				close(ch)
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

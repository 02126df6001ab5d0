package tether

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/tetherplug/tether/internal/netguard"
	"github.com/tetherplug/tether/internal/tlsreload"
)

// certCheckInterval is how often, at most, a network plugin (or tether
// serve) looks at its certificate files for a rotation (on a new connection
// only).
const certCheckInterval = 500 * time.Millisecond

// envError is why a network plugin refuses to start: a variable of its
// environment is missing or wrong.
type envError struct {
	Var    string // the environment variable at fault
	Reason string
	Err    error // underlying cause, if any
}

func (e *envError) Error() string {
	msg := "tether: " + e.Var + ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *envError) Unwrap() error { return e.Err }

// serveNetwork is Serve for a plugin told to listen on addr. It returns the
// exit status: 0 after a stop on SIGTERM, SIGINT or SIGHUP, 1 when it cannot
// start or serving fails.
func serveNetwork(cfg ServeConfig, addr string) int {
	go warmDescribe()
	log := cfg.Logger
	if log == nil {
		log = Logger()
		cfg.Logger = log
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)
	signal.Ignore(syscall.SIGPIPE)

	if grace, set := os.LookupEnv(EnvShutdownGrace); set {
		d, err := time.ParseDuration(grace)
		if err == nil && d <= 0 {
			err = errors.New("not positive")
		}
		if err != nil {
			return refuse(log, &envError{Var: EnvShutdownGrace, Reason: fmt.Sprintf("%q is not a duration such as 10s", grace), Err: err})
		}
		cfg.ShutdownTimeout = d
	}
	defer tracingFromEnv(&cfg, log)()
	creds, err := networkCredentials(log)
	if err != nil {
		return refuse(log, err)
	}
	limits, err := netguard.FromEnv(os.LookupEnv) // TETHER_MAX_* and TETHER_HANDSHAKE_TIMEOUT
	if err != nil {
		return refuse(log, err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return refuse(log, &envError{Var: EnvListen, Reason: "cannot listen on " + addr, Err: err})
	}
	guard := netguard.New(limits, log)
	// Connections of hosts that vanished (no FIN: a dead machine, a cut
	// route) are pinged and closed, so their calls and tunnels end.
	srv := NewServer(cfg, guard.ServerOptions(creds, keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second})...)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(guard.Listener(lis)) }()
	log.Info("listening", "addr", lis.Addr().String(), "tls", creds.Info().SecurityProtocol == "tls")

	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-srv.ShutdownRequested():
			// Its lifetime belongs to whoever started it, not to one of
			// the hosts that call it.
			log.Warn("a client asked the plugin to shut down; a network plugin stops only on a signal")
		case <-stopped:
		}
	}()
	select {
	case sig := <-signals:
		log.Info("stopping: calls in flight may finish, new calls are refused", "signal", sig.String(), "grace", srv.timeout.String())
	case err := <-serveErr:
		log.Error("serving stopped", "error", err.Error())
		return 1
	}
	srv.stop(nil)
	log.Info("stopped")
	return 0
}

// refuse logs why the plugin cannot start and returns its exit status.
func refuse(log *slog.Logger, err error) int {
	log.Error("cannot serve on the network", "error", err.Error())
	return 1
}

// networkCredentials builds the transport credentials the environment asks
// for: mutual TLS by default, server-only TLS or plaintext on explicit
// opt-in, each of those logged as a warning.
func networkCredentials(log *slog.Logger) (credentials.TransportCredentials, error) {
	if os.Getenv(EnvInsecure) == "1" {
		log.Warn("serving plaintext gRPC: anyone who reaches the port can call the plugin and read its traffic", "env", EnvInsecure)
		return insecure.NewCredentials(), nil
	}
	cert, key, ca := os.Getenv(EnvTLSCert), os.Getenv(EnvTLSKey), os.Getenv(EnvTLSClientCA)
	switch {
	case cert == "":
		return nil, &envError{Var: EnvTLSCert, Reason: "no server certificate file; set it and " + EnvTLSKey + ", or " + EnvInsecure + "=1 for plaintext"}
	case key == "":
		return nil, &envError{Var: EnvTLSKey, Reason: "no private key file for " + EnvTLSCert}
	case ca == "" && os.Getenv(EnvTLSNoClientAuth) != "1":
		return nil, &envError{Var: EnvTLSClientCA, Reason: "no client CA bundle to verify client certificates; set " + EnvTLSNoClientAuth + "=1 to serve any client"}
	case ca == "":
		log.Warn("serving TLS without client certificates: anyone who reaches the port can call the plugin", "env", EnvTLSNoClientAuth)
	}
	for _, f := range [][2]string{{EnvTLSCert, cert}, {EnvTLSKey, key}, {EnvTLSClientCA, ca}} {
		if f[1] == "" {
			continue
		}
		if _, err := os.Stat(f[1]); err != nil {
			return nil, &envError{Var: f[0], Reason: "cannot read the file", Err: err}
		}
	}
	r, err := tlsreload.NewLogged(tlsreload.Config{CertFile: cert, KeyFile: key, ClientCAFile: ca, Interval: certCheckInterval}, log)
	if err != nil {
		return nil, &envError{Var: EnvTLSCert, Reason: "cannot load the TLS files", Err: err}
	}
	return credentials.NewTLS(r.TLSConfig()), nil
}

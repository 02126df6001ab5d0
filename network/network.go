// Package network is tether's runtime for plugins that already run
// somewhere on the network: the host connects to them and starts nothing.
// Importing it registers three target schemes with tether.Open:
//
//	tcp://10.0.0.7:7000,10.0.0.8:7000   one or more host:port ([::1]:7000 for IPv6)
//	unix:///run/plugins/greeter.sock   a Unix socket
//	dns:///plugins.internal:7000       every address the name resolves to
//
// Connections to tcp and dns targets use mutual TLS (WithTLSFiles or
// WithTLSConfig) unless the host asks for plaintext with WithInsecure; unix
// targets are plaintext unless given TLS options. Calls are balanced round
// robin over the instances that answered Describe; see docs/network.md.
package network

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/tetherplug/tether"
)

func init() {
	for _, s := range schemes {
		tether.RegisterRuntime(builder{scheme: s})
	}
}

// DefaultResolveInterval is how often a dns target is resolved again.
const DefaultResolveInterval = 30 * time.Second

// WithResolveInterval sets how often a dns target is resolved again; the
// default is DefaultResolveInterval. For tcp, unix and dns targets only
// (tcp and unix targets never re-resolve).
func WithResolveInterval(d time.Duration) tether.Option {
	return option("WithResolveInterval", func(c *config) { c.interval = d })
}

// lookupHost resolves a dns target's name; tests replace it.
var lookupHost = net.DefaultResolver.LookupHost

type builder struct{ scheme string }

func (b builder) Scheme() string { return b.scheme }

// DialOptions makes the builder a tether.RuntimeDialOptions.
func (builder) DialOptions() []grpc.DialOption { return DialOptions() }

// Keepalive and reconnection defaults of network plugins' connections; see
// docs/network.md. A host overrides them with tether.WithDialOptions.
const (
	// KeepaliveTime is how long a connection may stay silent before the
	// host pings the plugin; KeepaliveTimeout how long it then waits for
	// the answer before it closes the connection as dead. A tether plugin
	// serving on the network accepts pings this often.
	KeepaliveTime    = 30 * time.Second
	KeepaliveTimeout = 10 * time.Second
	// ReconnectMaxDelay caps the wait between attempts to reach an
	// instance that went away; attempts start 100 ms apart and grow 1.6
	// times each, with 20% jitter.
	ReconnectMaxDelay = time.Second
)

// DialOptions are the network runtime's dial options (its
// tether.RuntimeDialOptions), for other runtimes whose instances are
// network plugins too: keepalive on (a plugin that vanishes without
// closing its connections, behind a dead host or a dropped route, is
// noticed in KeepaliveTime+KeepaliveTimeout) and a bounded reconnection
// backoff, so an instance that comes back takes calls within about
// ReconnectMaxDelay.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: KeepaliveTime, Timeout: KeepaliveTimeout, PermitWithoutStream: true}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: ReconnectMaxDelay},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
}

func (b builder) Build(ctx context.Context, t tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	var cfg config
	tether.ApplyRuntimeOptions(env, &cfg)
	var addrs []address
	var name, port string
	var err error
	switch b.scheme {
	case "tcp":
		addrs, err = parseTCP(t)
	case "unix":
		addrs, err = parseUnix(t)
	default:
		name, port, err = parseDNS(t)
	}
	if err != nil {
		return nil, err
	}
	conf, err := cfg.tlsConfig(t, env.Name)
	if err != nil {
		return nil, err
	}
	log := env.Logger.With("plugin", env.Name)
	if conf == nil && b.scheme != "unix" {
		log.Warn("connecting to the plugin in plaintext (network.WithInsecure): calls are neither encrypted nor authenticated",
			"target", t.Raw)
	}
	r := &runtime{env: env, conf: conf, plain: newPlainCreds(), stop: make(chan struct{}), done: make(chan struct{})}
	if conf != nil {
		r.tls = newTLSCreds(credentials.NewTLS(conf))
	}
	if b.scheme != "dns" {
		close(r.done)
		env.Endpoints.UpdateEndpoints(r.endpoints(addrs))
		return r, nil
	}
	r.name, r.port, r.log = name, port, log
	addrs, err = r.resolve(ctx)
	if err != nil {
		return nil, &tether.PluginError{Plugin: env.Name, Kind: tether.ErrUnavailable,
			Detail: "could not resolve " + name, Err: err}
	}
	r.last = addrs
	env.Endpoints.UpdateEndpoints(r.endpoints(addrs))
	interval := cfg.interval
	if interval <= 0 {
		interval = DefaultResolveInterval
	}
	go r.reresolve(interval)
	return r, nil
}

// runtime is one loaded network target.
type runtime struct {
	env   tether.RuntimeEnv
	conf  *tls.Config // nil: plaintext
	plain credentials.TransportCredentials
	tls   credentials.TransportCredentials // nil with plaintext; one for every address

	// dns targets only
	name, port string
	log        *slog.Logger
	last       []address // the last set that resolved to something
	stop       chan struct{}
	once       sync.Once
	done       chan struct{} // closed when no re-resolution runs
}

// endpoints turns addresses into the endpoints reported to the client.
func (r *runtime) endpoints(addrs []address) []tether.Endpoint {
	eps := make([]tether.Endpoint, 0, len(addrs))
	for _, a := range addrs {
		// No Instance: a remote plugin cannot tell the host when it ends.
		ep := tether.Endpoint{Network: a.network, Address: a.addr, Creds: r.plain, HealthChecked: true}
		if r.conf != nil {
			// The name the certificate must carry: gRPC checks it against
			// the address's server name, not tls.Config.ServerName.
			ep.Creds, ep.ServerName = r.tls, r.conf.ServerName
			if ep.ServerName == "" {
				ep.ServerName = a.host // "" for a Unix socket: localhost
			}
		}
		eps = append(eps, ep)
	}
	return eps
}

// Close stops re-resolving a dns target. It stops no plugin: the host did
// not start any. The client reports the end of its endpoints itself.
func (r *runtime) Close(ctx context.Context, _ func(context.Context, tether.Endpoint) error) error {
	r.once.Do(func() { close(r.stop) })
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sameAddrs reports whether two resolved sets are equal.
func sameAddrs(a, b []address) bool { return slices.Equal(a, b) }

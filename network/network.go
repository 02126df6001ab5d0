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
// targets are plaintext unless given TLS options. These options, their
// rules and the connections' keepalive and backoff are package remote's,
// shared with the kube runtime. Calls are balanced round robin over the
// instances that answered Describe; see docs/network.md.
package network

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/remote"
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

// DialOptions makes the builder a tether.RuntimeDialOptions: remote's
// keepalive and reconnection backoff.
func (builder) DialOptions() []grpc.DialOption { return remote.DialOptions() }

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
	tr, err := tlsOptions.Transport(t, env)
	if err != nil {
		return nil, err
	}
	r := &runtime{env: env, tr: tr, connected: cfg.connected, stop: make(chan struct{}), done: make(chan struct{})}
	if b.scheme != "dns" {
		if len(addrs) == 1 {
			if err := probe(ctx, env.Name, addrs[0], tr); err != nil {
				return nil, err
			}
		}
		close(r.done)
		env.Endpoints.UpdateEndpoints(r.endpoints(addrs))
		return r, nil
	}
	r.name, r.port, r.log = name, port, env.Logger.With("plugin", env.Name)
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
	env       tether.RuntimeEnv
	tr        *remote.Transport               // one for every address
	connected func(address string, err error) // WithConnectObserver, or nil

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
		// The server name defaults to the address's host, "" (localhost)
		// for a Unix socket.
		ep := r.tr.Endpoint(a.network, a.addr, a.host)
		if r.connected != nil && a.network == "tcp" && ep.Dial == nil {
			ep.Dial = observedDial(a.addr, r.connected)
		}
		eps = append(eps, ep)
	}
	return eps
}

// observedDial connects to a tcp address as gRPC would, and tells fn how
// each attempt went.
func observedDial(addr string, fn func(string, error)) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		fn(addr, err)
		return conn, err
	}
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

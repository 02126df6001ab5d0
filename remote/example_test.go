package remote_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/remote"
)

// tlsOpts are the TLS options of a runtime for "registry" targets, whose
// instances a service registry names.
var tlsOpts = remote.Options{Package: "registry", Schemes: []string{"registry"}}

// WithTLSFiles secures the connections to the instances with mutual TLS.
// For registry targets only.
func WithTLSFiles(cert, key, ca string) tether.Option { return tlsOpts.WithTLSFiles(cert, key, ca) }

// WithInsecure connects to the instances in plaintext. For registry targets
// only.
func WithInsecure() tether.Option { return tlsOpts.WithInsecure() }

type builder struct{ lookup func(name string) []string }

func (builder) Scheme() string                 { return "registry" }
func (builder) DialOptions() []grpc.DialOption { return remote.DialOptions() }

func (b builder) Build(_ context.Context, t tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	tr, err := tlsOpts.Transport(t, env)
	if err != nil {
		return nil, err
	}
	var eps []tether.Endpoint
	for _, addr := range b.lookup(t.Authority) {
		// Each instance's certificate carries the registry's name for it,
		// unless the host gave WithServerName.
		eps = append(eps, tr.Endpoint("tcp", addr, t.Authority+".registry.internal"))
	}
	env.Endpoints.UpdateEndpoints(eps)
	return closer{}, nil
}

type closer struct{}

func (closer) Close(context.Context, func(context.Context, tether.Endpoint) error) error { return nil }

// A runtime of another module offers the same TLS options as tether's
// network and kube runtimes, with the same rules and messages.
func Example() {
	b := builder{lookup: func(string) []string { return []string{"127.0.0.1:7000"} }}
	_, err := tether.Open(context.Background(), "registry://greeter", tether.WithRuntime(b))
	fmt.Println(err)
	// Output:
	// plugin registry://greeter: bad target: a registry target requires TLS: give registry.WithTLSFiles(cert, key, ca) or registry.WithTLSConfig, or registry.WithInsecure() to connect in plaintext
}

package tether_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether"
)

// fixedConfig is what the fixed runtime's options set.
type fixedConfig struct {
	creds credentials.TransportCredentials
}

// withFixedCreds secures the connections to a fixed:// plugin. Fixed
// targets only.
func withFixedCreds(c credentials.TransportCredentials) tether.Option {
	return tether.RuntimeOption("fixedtcp.WithCreds", func(cfg *fixedConfig) { cfg.creds = c }, "fixedtcp")
}

// fixedTCPBuilder is the runtime of fixedtcp://h1:7000,h2:7000 targets; docs/architecture.md shows it as fixed://, and
// docs/architecture.md shows it.
type fixedTCPBuilder struct{}

func (fixedTCPBuilder) Scheme() string { return "fixedtcp" }

func (fixedTCPBuilder) Build(_ context.Context, t tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	var cfg fixedConfig
	tether.ApplyRuntimeOptions(env, &cfg)
	if cfg.creds == nil {
		return nil, &tether.PluginError{Plugin: env.Name, Kind: tether.ErrHost,
			Detail: "a fixedtcp:// target needs fixedtcp.WithCreds"}
	}
	var eps []tether.Endpoint
	for _, addr := range strings.Split(t.Authority, ",") {
		eps = append(eps, tether.Endpoint{Network: "tcp", Address: addr, Creds: cfg.creds})
	}
	env.Endpoints.UpdateEndpoints(eps)
	return fixedTCPRuntime{}, nil
}

type fixedTCPRuntime struct{}

func (fixedTCPRuntime) Close(context.Context, func(context.Context, tether.Endpoint) error) error {
	return nil
}

// A runtime declares its own options with RuntimeOption and reads them in
// Build with ApplyRuntimeOptions; Open refuses them for other targets, and
// refuses other runtimes' options for its targets.
func ExampleRuntimeOption() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	builder := tether.WithRuntime(fixedTCPBuilder{}) // or tether.RegisterRuntime(fixedTCPBuilder{}) in init

	_, err := tether.Open(ctx, "fixedtcp://127.0.0.1:7000", builder)
	fmt.Println(err)
	_, err = tether.Open(ctx, "fixedtcp://127.0.0.1:7000", builder, tether.WithArgs("-v"))
	fmt.Println(err)
	_, err = tether.Open(ctx, "./plugin", withFixedCreds(nil))
	fmt.Println(err)
	// Output:
	// plugin fixedtcp://127.0.0.1:7000: host-side failure: a fixedtcp:// target needs fixedtcp.WithCreds
	// plugin fixedtcp://127.0.0.1:7000: bad target: option WithArgs applies to exec targets only
	// plugin ./plugin: bad target: option fixedtcp.WithCreds applies to fixedtcp targets only
}

package main

import (
	"context"
	"path/filepath"

	"github.com/tetherplug/tether"
)

// The static runtime is a plugin already running and listening on a Unix
// socket (here, a proxy in front of one): static:///path/to.sock. It yields
// one plaintext endpoint whose protocol version it does not know, so
// Describe decides it, and it never learns when the plugin ends. It
// registers from outside the root package, as any third-party runtime would.
func init() { tether.RegisterRuntime(staticBuilder{}) }

type staticBuilder struct{}

func (staticBuilder) Scheme() string { return "static" }

func (staticBuilder) Build(_ context.Context, t tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	if t.Authority != "" || !filepath.IsAbs(t.Path) {
		return nil, &tether.PluginError{Plugin: env.Name, Kind: tether.ErrBadTarget,
			Detail: "a static target is static:///absolute/path/to.sock, not " + t.Raw}
	}
	env.Endpoints.UpdateEndpoints([]tether.Endpoint{{Network: "unix", Address: t.Path}})
	return staticRuntime{env.Endpoints}, nil
}

// staticRuntime started nothing, so it stops nothing: Close only reports
// that no more endpoints will come.
type staticRuntime struct{ sink tether.EndpointSink }

func (r staticRuntime) Close(context.Context, func(context.Context, tether.Endpoint) error) error {
	r.sink.Ended(nil)
	return nil
}

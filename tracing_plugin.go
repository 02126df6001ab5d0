package tether

import (
	"log/slog"
	"os"
	"path/filepath"

	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/fastrpc"
	"github.com/tetherplug/tether/internal/otelenv"
)

// The plugin side of tracing: Serve sets it up from the environment (see
// tracingFromEnv), or the plugin's author gives ServeConfig.TracerProvider.

// tracing is the config's tracing, or nil when it sets none.
func (c ServeConfig) tracing() *tracing {
	if c.TracerProvider == nil && c.Propagator == nil {
		return nil
	}
	return newTracing(c.TracerProvider, c.Propagator)
}

// fastServerOptions are the options of a plugin's fast transport server.
func (t *tracing) fastServerOptions() []fastrpc.ServerOption {
	if t == nil {
		return nil
	}
	return []fastrpc.ServerOption{fastrpc.WithServerStatsHandler(t.serverHandler())}
}

// setTracing makes the connections of later callback tunnels trace.
func (h *HostConn) setTracing(t *tracing) {
	h.mu.Lock()
	h.tracing = t
	h.mu.Unlock()
}

// dialOptions are the options of a callback tunnel's connection.
func (h *HostConn) dialOptions() []grpc.DialOption {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tracing.dialOptions()
}

// tracingFromEnv sets cfg's tracing up from the environment (see
// otelenv.FromEnv; EnvTracing=1 says the host traces), unless the plugin's
// author set a TracerProvider. It returns what flushes and shuts the
// provider down.
func tracingFromEnv(cfg *ServeConfig, log *slog.Logger) (shutdown func()) {
	if cfg.TracerProvider != nil {
		return func() {}
	}
	name := cfg.Name
	if name == "" {
		name = filepath.Base(os.Args[0])
	}
	s := otelenv.FromEnv(name, os.Getenv(EnvTracing) == "1", log)
	cfg.TracerProvider = s.Provider
	if s.Provider != nil && cfg.Propagator != nil {
		otel.SetTextMapPropagator(cfg.Propagator)
	}
	return s.Shutdown
}

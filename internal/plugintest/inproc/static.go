// Package inproc holds what tests need to run plugins in their own process:
// runtimes that report fixed endpoints, and echo plugins served on a listener.
// It is apart from plugintest because it imports the tether package, which
// packages below it (netguard) test with plugintest.
package inproc

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/tetherplug/tether"
)

// staticRuntime is a test runtime for a scheme of its own: it reports fixed
// endpoints of plugins it did not start, and leaves them alone on Close.
type staticRuntime struct {
	scheme string
	eps    []tether.Endpoint
}

func (s staticRuntime) Scheme() string { return s.scheme }

func (s staticRuntime) Build(_ context.Context, _ tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	env.Endpoints.UpdateEndpoints(s.eps)
	return s, nil
}

func (staticRuntime) Close(context.Context, func(context.Context, tether.Endpoint) error) error {
	return nil
}

var schemeSeq atomic.Int64

// Register registers, under a new scheme, a runtime that reports the
// endpoints given (plugins it did not start and leaves alone on Close),
// and returns a target of it.
func Register(eps ...tether.Endpoint) string {
	scheme := fmt.Sprintf("static%d", schemeSeq.Add(1))
	tether.RegisterRuntime(staticRuntime{scheme: scheme, eps: eps})
	return scheme + ":///"
}

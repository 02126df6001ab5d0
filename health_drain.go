package tether

import (
	"context"
	"sync"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// drainingHealth is grpc-go's health server whose Watch streams end (status
// OK) once the server stops and the watcher has been sent a status other
// than SERVING. Without this, a host watching health (client-side health
// checking does) would keep a graceful stop waiting for its stream until
// the shutdown timeout, although every call had finished.
type drainingHealth struct {
	*health.Server
	draining <-chan struct{} // closed when the server starts stopping
}

func (h drainingHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	ws := &watchStream{Health_WatchServer: stream, ctx: ctx, changed: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- h.Server.Watch(req, ws) }()
	select {
	case err := <-done:
		return err
	case <-h.draining:
	}
	for !ws.final() {
		select {
		case err := <-done:
			return err
		case <-ws.changed:
		}
	}
	cancel()
	<-done
	return nil
}

// watchStream is a Watch stream that remembers the last status sent.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx     context.Context
	changed chan struct{} // a status was sent

	mu   sync.Mutex
	sent bool
	last healthpb.HealthCheckResponse_ServingStatus
}

func (w *watchStream) Context() context.Context { return w.ctx }

func (w *watchStream) Send(r *healthpb.HealthCheckResponse) error {
	err := w.Health_WatchServer.Send(r)
	if err == nil {
		w.mu.Lock()
		w.sent, w.last = true, r.GetStatus()
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
	return err
}

// final reports whether the watcher was told something other than SERVING.
func (w *watchStream) final() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent && w.last != healthpb.HealthCheckResponse_SERVING
}

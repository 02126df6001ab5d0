package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tetherplug/tether/daemon"
)

// metricsAddr is the address --metrics ADDR binds: a bare port (9090) or
// a port without a host (:9090) is on loopback, 127.0.0.1; a host given
// (0.0.0.0:9090 to expose it) is used as given.
func metricsAddr(flag string) (string, error) {
	if _, err := strconv.ParseUint(flag, 10, 16); err == nil {
		return net.JoinHostPort("127.0.0.1", flag), nil
	}
	addr, err := daemon.MetricsAddress(flag) // the same rule as tether run's --metrics
	if err != nil {
		return "", fmt.Errorf("--metrics %q: want a port (9090) or host:port (127.0.0.1:9090; 0.0.0.0:9090 to serve beyond this machine)", flag)
	}
	return addr, nil
}

// serveMetrics serves cs, with the Go runtime's and the process's own
// metrics, as /metrics over plain HTTP on --metrics ADDR, and logs where.
// The returned stop ends the server.
func serveMetrics(flag string, log *slog.Logger, cs ...prometheus.Collector) (stop func(), err error) {
	addr, err := metricsAddr(flag)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("--metrics: %w", err)
		}
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics %s: %w", flag, err)
	}
	if ta, ok := lis.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		log.Warn("serving metrics beyond this machine, over plain HTTP without authentication", "flag", "--metrics", "addr", lis.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving metrics stopped", "error", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+lis.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}

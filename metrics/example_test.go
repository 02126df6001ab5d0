package metrics_test

import (
	"context"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/metrics"
)

// A host counts its plugins with one Collector: registered once, its
// Option given to every Open.
func Example() {
	m := metrics.New()
	prometheus.MustRegister(m)
	http.Handle("/metrics", promhttp.Handler())
	go func() { log.Print(http.ListenAndServe("127.0.0.1:9090", nil)) }()

	var clients []*tether.Client
	for _, target := range []string{"./plugins/greeter-en", "./plugins/greeter-fr"} {
		c, err := tether.Open(context.Background(), target, m.Option(), tether.WithRestart())
		if err != nil {
			log.Fatal(err)
		}
		clients = append(clients, c)
	}
	// ... use the plugins; closing a client removes its series.
	for _, c := range clients {
		_ = c.Close()
	}
}

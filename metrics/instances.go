package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherplug/tether"
)

// pluginState is what a scrape reads of the clients of one plugin name.
type pluginState struct {
	admitted, refused, pending int
	restarts                   int
	lastExit                   *tether.Restarts // the latest exit among the clients, nil: none
	kube                       bool
}

// snapshot reads every open client's instances and restarts, by plugin
// name. It reads the clients outside the Collector's lock.
func (m *Collector) snapshot() map[string]*pluginState {
	m.mu.Lock()
	cms := make([]*clientMetrics, 0, len(m.clients))
	for cm := range m.clients {
		cms = append(cms, cm)
	}
	m.mu.Unlock()
	out := map[string]*pluginState{}
	for _, cm := range cms {
		p := out[cm.plugin]
		if p == nil {
			p = &pluginState{}
			out[cm.plugin] = p
		}
		for _, in := range cm.c.Instances() {
			switch {
			case in.Admitted:
				p.admitted++
			case in.Refused != nil:
				p.refused++
			default:
				p.pending++
			}
		}
		r := cm.c.Restarts()
		p.restarts += r.Count
		if r.LastExit != nil && (p.lastExit == nil || r.LastExitTime.After(p.lastExit.LastExitTime)) {
			p.lastExit = &r
		}
		p.kube = p.kube || cm.c.Target().Scheme == kubeScheme
	}
	return out
}

// collect sends one plugin's instance gauges.
func (p *pluginState) collect(m *Collector, name string, ch chan<- prometheus.Metric) {
	up := 0.0
	if p.admitted > 0 {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, up, name)
	for state, n := range map[string]int{stateAdmitted: p.admitted, stateRefused: p.refused, statePending: p.pending} {
		ch <- prometheus.MustNewConstMetric(m.instances, prometheus.GaugeValue, float64(n), name, state)
	}
	ch <- prometheus.MustNewConstMetric(m.restarts, prometheus.CounterValue, float64(p.restarts), name)
	if p.lastExit != nil {
		ch <- prometheus.MustNewConstMetric(m.lastExit, prometheus.GaugeValue, float64(p.lastExit.LastExitCode), name)
	}
	if p.kube {
		ch <- prometheus.MustNewConstMetric(m.readyPods, prometheus.GaugeValue, float64(p.admitted), name)
	}
}

// refusalReason sorts why an instance was refused into the reason label's
// fixed set: versions that do not fit; a Describe that failed, timed out
// or lacked what the host needs; a connection that is not a plugin's (TLS
// that does not verify, no gRPC, a wrong cookie); other.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, tether.ErrIncompatibleVersion):
		return reasonVersions
	case errors.Is(err, tether.ErrTLS), errors.Is(err, tether.ErrNotPlugin), errors.Is(err, tether.ErrWrongCookie):
		return reasonHandshk
	case errors.Is(err, tether.ErrStartTimeout), errors.Is(err, tether.ErrNotImplemented):
		return reasonDescribe
	default:
		return reasonOther
	}
}

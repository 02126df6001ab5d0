//go:build unix

package metrics_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/metrics"
)

// TestRefusedInstance: a replacement whose versions do not fit what the
// host negotiated shows as refused, for the versions reason, and the
// plugin as down.
func TestRefusedInstance(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "downgrade")
	body := "#!/bin/sh\nif [ -e '" + dir + "/started' ]; then export ECHO_MODE=v1only; fi\ntouch '" + dir + "/started'\nexec '" + echoPath(t) + "'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	s := newScraper(t, m)
	c, err := tether.Launch(t.Context(), script, m.Option(), tether.WithName("echo-refused"), tether.WithRestart(),
		tether.WithInterface("echo", 1, 2), tether.WithStartTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if f := s.scrape(); true {
		f.want(t, metrics.Instances, labels{"plugin": "echo-refused", "state": "refused"}, 0)
		if _, ok := f.value(metrics.RefusalsTotal, labels{"plugin": "echo-refused"}); ok {
			t.Errorf("%s reported before any refusal", metrics.RefusalsTotal)
		}
	}
	p, err := os.FindProcess(c.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	var f families
	eventually(t, 20*time.Second, "the downgraded replacement is not reported refused", func() bool {
		f = s.scrape()
		v, _ := f.value(metrics.Instances, labels{"plugin": "echo-refused", "state": "refused"})
		return v == 1
	})
	if v, _ := f.value(metrics.RefusalsTotal, labels{"plugin": "echo-refused", "reason": "versions"}); v < 1 {
		t.Errorf("%s{reason=versions} = %v, want at least 1", metrics.RefusalsTotal, v)
	}
	f.want(t, metrics.PluginUp, labels{"plugin": "echo-refused"}, 0)
	f.want(t, metrics.Instances, labels{"plugin": "echo-refused", "state": "admitted"}, 0)
	f.want(t, metrics.RestartsTotal, labels{"plugin": "echo-refused"}, 1)
	f.want(t, metrics.LastExitCode, labels{"plugin": "echo-refused"}, 137) // SIGKILL: 128+9
}

package compat_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

func TestExpInterleaved(t *testing.T) {
	ls := bothLoaders(t)
	res := make([][]time.Duration, 4)
	bins := []string{filepath.Join(buildDir, "tethergreeter"), filepath.Join(buildDir, "goplugingreeter")}
	for range 150 {
		for k, l := range ls {
			t0 := time.Now()
			g, _, stop, err := l.load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.Greet(context.Background(), &greeterv1.GreetRequest{Name: "x"}); err != nil {
				t.Fatal(err)
			}
			res[k] = append(res[k], time.Since(t0))
			stop()
		}
		for k, bin := range bins {
			dir := t.TempDir()
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "GREETER_PLUGIN=hello", "PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_UNIX_SOCKET_DIR="+dir, "PLUGIN_MIN_PORT=10000", "PLUGIN_MAX_PORT=25000")
			out, _ := cmd.StdoutPipe()
			t0 := time.Now()
			cmd.Start()
			l, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			res[2+k] = append(res[2+k], time.Since(t0))
			_ = l
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	for k, name := range []string{"tether load+call", "goplugin load+call", "tether exec->line", "goplugin exec->line"} {
		slices.Sort(res[k])
		t.Logf("%s p50 %v p25 %v", name, res[k][75], res[k][37])
	}
}

package kubecluster

import (
	"bufio"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
)

const echoImage = "tether.test/echo:v1"

// podNames lists the names of plugin name's pods.
func (c *cluster) podNames(t *testing.T, name string) []string {
	t.Helper()
	pods, err := c.client.CoreV1().Pods(c.ns).List(t.Context(), metav1.ListOptions{LabelSelector: kube.ManagedSelector(name)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			names = append(names, p.Name)
		}
	}
	return names
}

// TestPodLogsIntoHostLogger is issue 16's logs acceptance line: a pod's
// JSON log line at warn level arrives in the host's logger at warn level,
// with its attributes and the plugin's and pod's names; an hclog line
// keeps its error level and module.
func TestPodLogsIntoHostLogger(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.env.RegisterImage(echoImage, build(t, plugintest.EchoPlugin))
	log, rec := plugintest.NewLogRecorder()
	client, _, err := openWithin(t, 3*time.Minute, "kube://"+c.ns+"/echo", tether.WithInterface("echo", 1),
		tether.WithStartTimeout(2*time.Minute), tether.WithLogger(log),
		kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithInsecure(), kube.WithPodLogs(),
		kube.WithDeploy(kube.Spec{Image: echoImage, Port: 7000, Env: map[string]string{"ECHO_MODE": "logs"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	echo, err := tether.Dispense(client, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "log"}); err != nil {
		t.Fatal(err)
	}
	pods := c.podNames(t, "echo")
	if len(pods) != 1 {
		t.Fatalf("pods %v, want one", pods)
	}
	var warn, hclog plugintest.LogRecord
	plugintest.Eventually(t, time.Minute, "the pod's log lines in the host's logger", func() bool {
		var ok1, ok2 bool
		warn, ok1 = rec.Find("slog line")
		hclog, ok2 = rec.Find("hclog line")
		return ok1 && ok2
	})
	if warn.Level != slog.LevelWarn || warn.Attrs["count"] != "7" || warn.Attrs["who"] != "echo" ||
		warn.Attrs["plugin"] != "echo" || warn.Attrs["pod"] != pods[0] {
		t.Errorf("slog line: %+v, want WARN with count=7 who=echo plugin=echo pod=%s", warn, pods[0])
	}
	if hclog.Level != slog.LevelError || hclog.Attrs["module"] != "echo.sub" || hclog.Attrs["pod"] != pods[0] {
		t.Errorf("hclog line: %+v, want ERROR with module=echo.sub and the pod", hclog)
	}
}

// tickLine is a line of `tether kube logs` from the ticker plugin.
var tickLine = regexp.MustCompile(`^\[pod/(\S+)\] tick (\d+)$`)

// TestKubeLogsFollowsReplacedPod: `tether kube logs -f` prints a pod's
// lines, and, when the pod is deleted and the Deployment makes another,
// the new pod's lines from its first; every line once, none missing.
func TestKubeLogsFollowsReplacedPod(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.env.RegisterImage(echoImage, build(t, plugintest.EchoPlugin))
	out, err := c.tether(t, "kube", "deploy", "ticker", "-n", c.ns, "--image", echoImage, "--port", "7000",
		"--insecure", "--env", "ECHO_MODE=ticker", "--timeout", "2m")
	if err != nil {
		t.Fatalf("kube deploy: %v\n%s", err, out)
	}
	first := c.podNames(t, "ticker")
	if len(first) != 1 {
		t.Fatalf("pods %v, want one", first)
	}
	cmd := exec.Command(build(t, "github.com/tetherplug/tether/cmd/tether"), "kube", "logs", "ticker", "-n", c.ns, "-f")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.env.Kubeconfig())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var mu sync.Mutex
	ticks := map[string][]int{} // pod → the ticks printed, in order
	var other []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			if m := tickLine.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.Atoi(m[2])
				ticks[m[1]] = append(ticks[m[1]], n)
			} else {
				other = append(other, sc.Text())
			}
			mu.Unlock()
		}
	}()
	printed := func(pod string) int { mu.Lock(); defer mu.Unlock(); return len(ticks[pod]) }
	plugintest.Eventually(t, time.Minute, "20 ticks of the first pod", func() bool { return printed(first[0]) >= 20 })
	if err := c.client.CoreV1().Pods(c.ns).Delete(t.Context(), first[0], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var second string
	plugintest.Eventually(t, 2*time.Minute, "20 ticks of the pod replacing it", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for pod, ts := range ticks {
			if pod != first[0] && len(ts) >= 20 {
				second = pod
				return true
			}
		}
		return false
	})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("tether kube logs -f did not end 30 s after SIGINT")
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("tether kube logs -f after SIGINT: %v, want exit 0", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, pod := range []string{first[0], second} {
		for i, n := range ticks[pod] {
			if n != i {
				t.Fatalf("pod %s: tick %d printed as line %d (ticks %v): a line repeated or missing", pod, n, i, ticks[pod])
			}
		}
	}
	if len(ticks) != 2 {
		t.Errorf("printed ticks of %d pods, want the two pods'", len(ticks))
	}
	// The plugins' own log lines (JSON, each with its time) are printed once each too.
	seen := map[string]bool{}
	for _, l := range other {
		if seen[l] {
			t.Errorf("printed twice: %s", l)
		}
		seen[l] = true
	}
	t.Logf("%s: %d ticks, %s: %d ticks, %d other lines", first[0], len(ticks[first[0]]), second, len(ticks[second]), len(other))
}

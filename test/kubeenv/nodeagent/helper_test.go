package nodeagent

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/tetherplug/tether/test/kubeenv"
)

// helperEnv selects the test binary's helper mode: it then acts as a container process.
const helperEnv = "NODEAGENT_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	kubeenv.Main(m, kubeenv.Options{Images: map[string]string{"helper": exe}, Agent: kubeenvAgent})
}

// kubeenvAgent runs this package's agent as the test control plane's node agent.
func kubeenvAgent(ctx context.Context, cfg *rest.Config, n kubeenv.Node) error {
	return Run(ctx, cfg, Options{NodeName: n.Name, Images: n.Images, WorkDir: n.WorkDir, Logger: n.Logger})
}

// helperMain is a container process. Modes:
//   - print: prints its args and environment, then exits with $EXIT_CODE;
//   - serve: serves grpc.health.v1 on $LISTEN (SERVING while the file $READY_FILE exists, or
//     always without it); on SIGTERM exits 0 unless $IGNORE_TERM is set;
//   - sleep: sleeps until killed.
func helperMain(mode string) int {
	fmt.Println("helper", mode, "pid", os.Getpid())
	switch mode {
	case "print":
		for _, a := range os.Args[1:] {
			fmt.Println("arg", a)
			if p, ok := strings.CutPrefix(a, "--file="); ok {
				b, err := os.ReadFile(p)
				var perm os.FileMode
				if fi, err := os.Stat(p); err == nil {
					perm = fi.Mode().Perm()
				}
				fmt.Printf("file %q %v %v\n", b, err, perm)
			}
		}
		for _, e := range os.Environ() {
			fmt.Println("env", e)
		}
		code, _ := strconv.Atoi(os.Getenv("EXIT_CODE"))
		return code
	case "serve":
		term := make(chan os.Signal, 1)
		if os.Getenv("IGNORE_TERM") != "" {
			signal.Ignore(syscall.SIGTERM)
		} else {
			signal.Notify(term, syscall.SIGTERM)
		}
		lis, err := net.Listen("tcp", os.Getenv("LISTEN"))
		if err != nil {
			fmt.Println("listen:", err)
			return 2
		}
		fmt.Println("listening on", lis.Addr())
		srv := grpc.NewServer()
		hs := health.NewServer()
		healthpb.RegisterHealthServer(srv, hs)
		go srv.Serve(lis)
		for {
			st := healthpb.HealthCheckResponse_SERVING
			if f := os.Getenv("READY_FILE"); f != "" {
				if _, err := os.Stat(f); err != nil {
					st = healthpb.HealthCheckResponse_NOT_SERVING
				}
			}
			hs.SetServingStatus("", st)
			select {
			case <-term:
				fmt.Println("terminating")
				return 0
			case <-time.After(50 * time.Millisecond):
			}
		}
	case "sleep":
		time.Sleep(time.Hour)
	}
	return 3
}

// testEnv is an agent running against a fake clientset.
type testEnv struct {
	client  kubernetes.Interface
	workDir string
	node    string
}

// startAgent runs an agent on a fake clientset; at cleanup it stops the agent and checks that
// Run returned in time and left no child process.
func startAgent(t *testing.T, objs ...runtime.Object) *testEnv {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	env := &testEnv{client: fake.NewClientset(objs...), workDir: t.TempDir(), node: "node-" + strings.ToLower(t.Name())}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, env.client, "https://127.0.0.1:6443", Options{NodeName: env.node,
			Images: map[string]string{"helper": exe}, WorkDir: env.workDir})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(40 * time.Second):
			t.Fatal("Run did not return 40 s after its context ended")
		}
		if kids := childPids(t, env.workDir); len(kids) > 0 {
			t.Errorf("child processes left after Run returned: %v", kids)
		}
	})
	return env
}

// createPod creates a pod bound to the env's node, running the helper in mode.
func (e *testEnv) createPod(t *testing.T, name, mode string, edit func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: e.node, RestartPolicy: corev1.RestartPolicyAlways,
			Containers: []corev1.Container{{Name: "main", Image: "helper:v1",
				Env: []corev1.EnvVar{{Name: helperEnv, Value: mode},
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "LISTEN", Value: "$(POD_IP):7000"}}}}},
	}
	if edit != nil {
		edit(pod)
	}
	pod, err := e.client.CoreV1().Pods("ns").Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// waitPod polls the pod until cond holds, failing the test after timeout with the last status.
func (e *testEnv) waitPod(t *testing.T, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.After(timeout)
	var last *corev1.Pod
	for {
		p, err := e.client.CoreV1().Pods("ns").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = p
			if cond(p) {
				return p
			}
		}
		select {
		case <-deadline:
			if last != nil {
				t.Fatalf("pod %s: not %s after %v; status: %+v\nlog: %v", name, what, timeout, last.Status, e.log(name))
			}
			t.Fatalf("pod %s: not %s after %v: %v", name, what, timeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// log is the pod's main container log.
func (e *testEnv) log(pod string) []string {
	l, _ := LogTail(e.workDir, "ns", pod, "main", 50)
	return l
}

// cond reports whether the pod has condition t True.
func cond(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

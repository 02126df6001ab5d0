package kubeenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Controllers are the kube-controller-manager controllers the control plane
// runs: what Deployments, Services and service-account tokens need.
var Controllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"endpointslice-controller",
	"endpoints-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"garbage-collector-controller",
	"namespace-controller",
	"root-ca-certificate-publisher-controller",
	"clusterrole-aggregation-controller",
	"pod-garbage-collector-controller",
}

// Agent runs a node agent against the control plane until ctx ends; the
// test environment has no kubelet, so without one pods stay Pending. The
// node agent of package nodeagent fits behind it (see NodeAgent in
// Options).
type Agent func(ctx context.Context, cfg *rest.Config, node Node) error

// Node is what an Agent is given: the Node to register, the images it may
// run (image name → local binary path), a directory of its own, and a
// logger writing to the environment's log directory.
type Node struct {
	Name string
	// Images is a copy of Options.Images.
	Images map[string]string
	// Resolve finds images registered later with Env.RegisterImage.
	Resolve func(image string) (path string, ok bool)
	WorkDir string
	Logger  *slog.Logger
}

// Options configure a control plane.
type Options struct {
	// Images maps container image names to local binaries, for the Agent.
	Images map[string]string
	// Agent, when set, is started once the control plane is ready and
	// stopped before it; its error, if it ends early, is logged to
	// agent.log.
	Agent Agent
	// Dir is the directory for data, credentials and logs; a new temporary
	// directory, removed by Stop, when empty.
	Dir string
	// Progress, when set, receives a line for each step of the start (and
	// each binary built).
	Progress func(string)
}

// Env is a running control plane: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler on loopback.
type Env struct {
	dir        string
	ownDir     bool
	kubeconfig string
	cfg        *rest.Config
	client     *kubernetes.Clientset
	procs      []*proc // in start order
	secrets    *secrets

	imagesMu sync.Mutex
	images   map[string]string // from RegisterImage

	agentStop context.CancelFunc
	agentDone chan struct{}

	stopOnce sync.Once
}

// Up builds the binaries if needed and starts a control plane, returning
// once the API server is ready and the "default" namespace has its
// "default" service account. ctx bounds the build and the start.
func Up(ctx context.Context, opts Options) (_ *Env, err error) {
	say := func(s string) {
		if opts.Progress != nil {
			opts.Progress(s)
		}
	}
	bins, err := EnsureBinaries(ctx, opts.Progress)
	if err != nil {
		return nil, err
	}
	e := &Env{dir: opts.Dir, images: map[string]string{}}
	if e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "kubeenv-"); err != nil {
			return nil, fmt.Errorf("kubeenv: %w", err)
		}
		e.ownDir = true
	}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	for _, d := range []string{"etcd", "apiserver", "controller-manager", "scheduler", "logs", "agent"} {
		if err := os.MkdirAll(filepath.Join(e.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("kubeenv: %w", err)
		}
	}
	if e.secrets, err = makeSecrets(e.dir); err != nil {
		return nil, fmt.Errorf("kubeenv: credentials: %w", err)
	}
	if err := e.launch(ctx, bins, say); err != nil {
		return nil, err
	}
	if e.client, err = kubernetes.NewForConfig(e.cfg); err != nil {
		return nil, fmt.Errorf("kubeenv: client: %w", err)
	}
	if err := e.waitServiceAccount(ctx, "default"); err != nil {
		return nil, err
	}
	if opts.Agent != nil {
		e.startAgent(opts)
	}
	say("control plane ready; kubeconfig " + e.kubeconfig)
	return e, nil
}

// launch starts etcd, kube-apiserver (waiting for each to be ready),
// kube-controller-manager and kube-scheduler on free loopback ports.
func (e *Env) launch(ctx context.Context, bins Binaries, say func(string)) error {
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	say("starting etcd on " + etcdURL)
	if err := e.start(ctx, "etcd", bins.Etcd, "-data-dir", filepath.Join(e.dir, "etcd"),
		"-listen-client-urls", etcdURL, "-listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1])); err != nil {
		return err
	}
	if err := waitHTTP(ctx, e.procs[0], etcdURL+"/health", nil); err != nil {
		return err
	}
	e.cfg = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(ports[2]),
		BearerToken:     e.secrets.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.secrets.caPEM},
		QPS:             50,
		Burst:           100,
	}
	if e.kubeconfig, err = writeKubeconfig(e.dir, e.cfg); err != nil {
		return err
	}
	say("starting kube-apiserver on " + e.cfg.Host)
	if err := e.start(ctx, "kube-apiserver", bins.APIServer, e.apiserverArgs(etcdURL, ports[2])...); err != nil {
		return err
	}
	if err := e.waitAPI(ctx); err != nil {
		return err
	}
	say("starting kube-controller-manager and kube-scheduler")
	if err := e.start(ctx, "kube-controller-manager", bins.ControllerManager, e.controllerManagerArgs(ports[3])...); err != nil {
		return err
	}
	if err := e.start(ctx, "kube-scheduler", bins.Scheduler,
		"--kubeconfig", e.kubeconfig, "--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[4]),
		"--cert-dir", filepath.Join(e.dir, "scheduler"),
		"--authentication-kubeconfig", e.kubeconfig, "--authorization-kubeconfig", e.kubeconfig); err != nil {
		return err
	}
	return nil
}

// start starts one process and records it for Stop. A process that exits
// at once is reported with its log.
func (e *Env) start(ctx context.Context, name, bin string, args ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kubeenv: starting %s: %w", name, err)
	}
	p, err := startProc(name, bin, filepath.Join(e.dir, "logs"), args...)
	if err != nil {
		return err
	}
	e.procs = append(e.procs, p)
	return nil
}

func (e *Env) apiserverArgs(etcdURL string, port int) []string {
	s := e.secrets
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(e.dir, "apiserver"),
		"--tls-cert-file=" + s.serveCert,
		"--tls-private-key-file=" + s.serveKey,
		"--client-ca-file=" + s.caCert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + s.saKey,
		"--service-account-signing-key-file=" + s.saKey,
		"--token-auth-file=" + s.tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=" + serviceCIDR,
		// Loopback is no valid Endpoints address: keep the apiserver from
		// reconciling the "kubernetes" Service's endpoints to it.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
	}
}

func (e *Env) controllerManagerArgs(port int) []string {
	return []string{
		"--kubeconfig=" + e.kubeconfig,
		"--authentication-kubeconfig=" + e.kubeconfig,
		"--authorization-kubeconfig=" + e.kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(e.dir, "controller-manager"),
		"--controllers=" + strings.Join(Controllers, ","),
		"--service-account-private-key-file=" + e.secrets.saKey,
		"--root-ca-file=" + e.secrets.caCert,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--use-service-account-credentials=false",
	}
}

// startAgent runs opts.Agent in the background until Stop.
func (e *Env) startAgent(opts Options) {
	ctx, cancel := context.WithCancel(context.Background())
	e.agentStop = cancel
	e.agentDone = make(chan struct{})
	logPath := filepath.Join(e.dir, "logs", "agent.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	var logger *slog.Logger
	if err == nil {
		logger = slog.New(slog.NewTextHandler(f, nil))
	} else {
		logger = slog.Default()
	}
	images := make(map[string]string, len(opts.Images))
	for k, v := range opts.Images {
		images[k] = v
	}
	node := Node{Name: "kubeenv-node", Images: images, Resolve: e.resolveImage,
		WorkDir: filepath.Join(e.dir, "agent"), Logger: logger}
	go func() {
		defer close(e.agentDone)
		if f != nil {
			defer f.Close()
		}
		if err := opts.Agent(ctx, rest.CopyConfig(e.cfg), node); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("node agent ended", "err", err)
		}
	}()
}

// RegisterImage makes image (a container image name as pods name it) run
// the local binary at path, for the node agent, from now on. Tests sharing
// the control plane should use image names of their own.
func (e *Env) RegisterImage(image, path string) {
	e.imagesMu.Lock()
	defer e.imagesMu.Unlock()
	e.images[image] = path
}

// resolveImage returns the binary registered for image.
func (e *Env) resolveImage(image string) (string, bool) {
	e.imagesMu.Lock()
	defer e.imagesMu.Unlock()
	p, ok := e.images[image]
	return p, ok
}

// Stop stops the node agent, then kube-scheduler, kube-controller-manager,
// kube-apiserver and etcd, and removes the directory the environment made.
// It is safe to call more than once.
func (e *Env) Stop() {
	e.stopOnce.Do(func() {
		if e.agentStop != nil {
			e.agentStop()
			select {
			case <-e.agentDone:
			case <-time.After(30 * time.Second):
			}
		}
		for i := len(e.procs) - 1; i >= 0; i-- {
			e.procs[i].stop(10 * time.Second)
		}
		if e.ownDir {
			os.RemoveAll(e.dir)
		}
	})
}

// Dir returns the directory holding the environment's data, credentials
// and logs (logs/<process>.log).
func (e *Env) Dir() string { return e.dir }

// Logs returns the last n lines of each process's log, for a failing
// test's output.
func (e *Env) Logs(n int) string {
	var b strings.Builder
	for _, p := range e.procs {
		fmt.Fprintf(&b, "--- %s (%s) ---\n%s\n", p.name, p.logPath, tailFile(p.logPath, n))
	}
	if _, err := os.Stat(filepath.Join(e.dir, "logs", "agent.log")); err == nil {
		fmt.Fprintf(&b, "--- agent ---\n%s\n", tailFile(filepath.Join(e.dir, "logs", "agent.log"), n))
	}
	return b.String()
}

// Leftovers returns the control-plane processes whose process group still
// has a member: after Stop, there should be none.
func (e *Env) Leftovers() []string {
	var left []string
	for _, p := range e.procs {
		if err := syscall.Kill(-p.cmd.Process.Pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			left = append(left, fmt.Sprintf("%s (process group %d)", p.name, p.cmd.Process.Pid))
		}
	}
	return left
}

// PIDs returns the process ids of the control-plane processes.
func (e *Env) PIDs() []int {
	pids := make([]int, len(e.procs))
	for i, p := range e.procs {
		pids[i] = p.cmd.Process.Pid
	}
	return pids
}

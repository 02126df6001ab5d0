package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Options configures the agent. NodeName, WorkDir and an image source are required.
type Options struct {
	// NodeName is the name of the Node the agent registers and whose pods it runs.
	NodeName string
	// Images maps an image name (with or without tag or digest) to a local binary path.
	Images map[string]string
	// Resolve, when set, is asked for images that Images lacks, so images can be added while
	// the agent runs.
	Resolve func(image string) (path string, ok bool)
	// WorkDir holds the per-pod directories and the container logs.
	WorkDir string
	// Logger receives the agent's own log lines; nil discards them.
	Logger *slog.Logger
	// PodIPs is the IPv4 range pod addresses are taken from (all but the first two and the
	// last). A range outside 127.0.0.0/8 is made local with a route on the loopback interface,
	// which needs CAP_NET_ADMIN. The zero value means 198.51.100.0/24 (TEST-NET-2) when that
	// route can be added, else 127.0.0.0/24. See the package documentation.
	PodIPs netip.Prefix
}

// ErrOptions is wrapped by Run's errors about its Options.
var ErrOptions = errors.New("nodeagent: bad options")

// Run registers the node, runs the pods bound to it until ctx ends, then stops every pod it
// runs (gracefully, within each pod's grace period) and returns. It returns an error only when
// it cannot start (bad options, the Node cannot be registered, the informer cannot sync).
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	if cfg == nil {
		return fmt.Errorf("%w: nil rest.Config", ErrOptions)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("nodeagent: client: %w", err)
	}
	return run(ctx, client, cfg.Host, opts)
}

// agent is one running node agent.
type agent struct {
	client  kubernetes.Interface
	opts    Options
	log     *slog.Logger
	apiHost string // KUBERNETES_SERVICE_HOST for containers
	apiPort string // KUBERNETES_SERVICE_PORT for containers
	ips     *ipPool
	// kubeletPort is the log server's port, published as the Node's kubelet endpoint.
	kubeletPort int32
	// logFiles are the container logs written or followed: path → *logFile.
	logFiles sync.Map

	mu   sync.Mutex
	pods map[types.UID]*podWorker
	wg   sync.WaitGroup // pod workers
	stop chan struct{}  // closed when Run's context ends
}

func newAgent(client kubernetes.Interface, apiURL string, opts Options) (*agent, error) {
	if opts.NodeName == "" {
		return nil, fmt.Errorf("%w: NodeName is empty", ErrOptions)
	}
	if opts.WorkDir == "" {
		return nil, fmt.Errorf("%w: WorkDir is empty", ErrOptions)
	}
	if len(opts.Images) == 0 && opts.Resolve == nil {
		return nil, fmt.Errorf("%w: neither Images nor Resolve is set", ErrOptions)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("node", opts.NodeName)
	ipRange, err := podIPRange(opts.PodIPs, log)
	if err != nil {
		return nil, err
	}
	pool, err := newIPPool(ipRange)
	if err != nil {
		return nil, err
	}
	a := &agent{client: client, opts: opts, log: log, ips: pool,
		pods: map[types.UID]*podWorker{}, stop: make(chan struct{})}
	a.apiHost, a.apiPort = splitAPIURL(apiURL)
	return a, nil
}

// splitAPIURL turns a rest.Config Host into host and port ("https://127.0.0.1:6443").
func splitAPIURL(s string) (string, string) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", ""
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, "443"
	}
	return host, port
}

func run(ctx context.Context, client kubernetes.Interface, apiURL string, opts Options) error {
	a, err := newAgent(client, apiURL, opts)
	if err != nil {
		return err
	}
	logs, err := a.startLogServer()
	if err != nil {
		return err
	}
	defer logs.stop()
	a.kubeletPort = logs.port()
	if err := a.registerNode(ctx); err != nil {
		return err
	}
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); a.heartbeat(ctx) }()
	defer func() { <-hbDone }()

	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", opts.NodeName).String()
		}))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.sync(obj) },
		UpdateFunc: func(_, obj any) { a.sync(obj) },
		DeleteFunc: a.forget,
	}); err != nil {
		return fmt.Errorf("nodeagent: informer: %w", err)
	}
	infCtx, cancelInf := context.WithCancel(context.Background())
	factory.Start(infCtx.Done())
	defer factory.Shutdown()
	defer cancelInf()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		a.shutdown()
		return nil
	}
	a.log.Info("node agent running")
	<-ctx.Done()
	a.shutdown()
	return nil
}

// shutdown stops every pod worker (gracefully) and waits for them.
func (a *agent) shutdown() {
	a.mu.Lock()
	close(a.stop)
	for _, w := range a.pods {
		w.requestStop(false)
	}
	a.mu.Unlock()
	a.wg.Wait()
	a.mu.Lock()
	for uid, w := range a.pods {
		w.release()
		delete(a.pods, uid)
	}
	a.mu.Unlock()
}

// sync starts a worker for a new pod bound here or passes a changed pod to its worker.
func (a *agent) sync(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != a.opts.NodeName {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.stop:
		return
	default:
	}
	if w := a.pods[pod.UID]; w != nil {
		w.update(pod)
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		if pod.DeletionTimestamp != nil {
			go a.deletePod(pod)
		}
		return // finished before this agent started; never run again
	}
	w := newPodWorker(a, pod)
	a.pods[pod.UID] = w
	a.wg.Add(1)
	go func() { defer a.wg.Done(); w.run() }()
}

// forget handles a pod object that is gone: its processes are stopped and its files removed.
func (a *agent) forget(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	w := a.pods[pod.UID]
	delete(a.pods, pod.UID)
	a.mu.Unlock()
	if w == nil {
		return
	}
	w.requestStop(false)
	go func() {
		<-w.done
		w.release()
	}()
}

// deletePod deletes a pod object with grace 0, as the kubelet does once its containers are gone.
func (a *agent) deletePod(pod *corev1.Pod) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zero := int64(0)
	err := a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1DeleteOptions(&zero, pod.UID))
	if err != nil && !isNotFound(err) {
		a.log.Warn("delete pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

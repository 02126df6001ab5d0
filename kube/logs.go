package kube

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/logfwd"
)

// WithPodLogs streams the container log of every pod of the plugin into
// the host's logger (tether.WithLogger), each line re-levelled as a local
// plugin's stderr is (JSON lines of log/slog and hclog keep their level,
// message and attributes; other lines are debug), with the plugin's name
// ("plugin") and the pod's ("pod") attached. It follows pods as they come
// and go, from the lines stamped when Open began on, and resumes a dropped
// stream where it stopped, without repeating a line. It costs one stream
// per pod through the API server, and the host's account needs watch on
// pods and get on pods/log. For kube targets only.
func WithPodLogs() tether.Option {
	return opt("WithPodLogs", func(c *config) { c.podLogs = true })
}

// podLogsResource is the subresource a pod's log is read from, as RBAC
// names it.
const podLogsResource = "pods/log"

// LogsOptions says which lines of a plugin's pods Logs reads.
type LogsOptions struct {
	// Follow keeps reading: new lines, and the pods that come, until the
	// context ends.
	Follow bool
	// Tail, when not negative, reads only the last Tail lines of each pod
	// there is at the start (a pod that comes later is read from its
	// first line); negative reads every line.
	Tail int64
	// Since, when not zero, skips the lines stamped before it.
	Since time.Time
}

// Logs reads the container log of every pod of plugin name in namespace
// ns, passing each line (with its newline, if it had one) to line with the
// pod's name. Lines of one pod come in order from one goroutine at a time;
// lines of different pods may come concurrently. Without Follow it returns
// once every started pod's log is read; with Follow it follows pods as they
// come and go, resuming a dropped stream without repeating a line, until
// ctx ends, and returns nil then.
func Logs(ctx context.Context, c kubernetes.Interface, ns, name string, opts LogsOptions, line func(pod, line string)) error {
	if !opts.Follow {
		return readLogs(ctx, c, ns, name, opts, line)
	}
	f, err := followLogs(ctx, c, ns, name, logsConfig{LogsOptions: opts,
		sink: func(pod string) func(string) { return func(l string) { line(pod, l) } }})
	if err != nil {
		return err
	}
	<-ctx.Done()
	f.close()
	return nil
}

// readLogs is Logs without Follow.
func readLogs(ctx context.Context, c kubernetes.Interface, ns, name string, opts LogsOptions, line func(pod, line string)) error {
	var pods *corev1.PodList
	err := withRetry(ctx, func() (err error) {
		pods, err = c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: ManagedSelector(name)})
		return err
	})
	if err != nil {
		return apiFailure(name, "list", "pods", "", ns, err)
	}
	var errs []error
	for _, p := range sortedPods(pods.Items) {
		if !started(p) {
			continue
		}
		o := &corev1.PodLogOptions{Container: p.Spec.Containers[0].Name, Timestamps: true}
		if opts.Tail >= 0 {
			o.TailLines = &opts.Tail
		}
		if !opts.Since.IsZero() {
			o.SinceTime = &metav1.Time{Time: opts.Since}
		}
		rc, err := c.CoreV1().Pods(ns).GetLogs(p.Name, o).Stream(ctx)
		if err != nil {
			errs = append(errs, apiFailure(name, "get", podLogsResource, p.Name, ns, err))
			continue
		}
		cur := logCursor{last: opts.Since}
		err = cur.copy(rc, func(l string) { line(p.Name, l) }, true)
		rc.Close()
		if err != nil {
			errs = append(errs, &APIError{Verb: "get", Resource: podLogsResource, Name: p.Name, Namespace: ns, Err: err})
		}
	}
	return errors.Join(errs...)
}

// logsConfig is what a logFollower reads and where the lines go.
type logsConfig struct {
	LogsOptions
	sink func(pod string) func(line string) // the line consumer of one pod's stream
	log  *slog.Logger                       // the follower's own warnings; nil discards them
	// open opens a pod's log stream; nil is the API server's pods/log.
	open func(ctx context.Context, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error)
}

// podLogSink is the runtime's sink: each line re-levelled into log with
// the plugin's and the pod's names, as a local plugin's stderr.
func podLogSink(log *slog.Logger, plugin string) func(pod string) func(string) {
	return func(pod string) func(string) {
		return logfwd.New(log.With("plugin", plugin, "pod", pod), 0).Line
	}
}

// startPodLogs starts following the plugin's pod logs for a runtime that
// asked for them (WithPodLogs), from the lines stamped at began on.
func startPodLogs(ctx context.Context, r *runtime, cfg config, began time.Time) (*logFollower, error) {
	if !cfg.podLogs {
		return nil, nil
	}
	return followLogs(ctx, r.c, r.ns, r.name, logsConfig{LogsOptions: LogsOptions{Follow: true, Tail: -1, Since: began},
		sink: podLogSink(r.env.Logger, r.name), log: r.env.Logger})
}

// logFollower follows the pods of one plugin and streams each one's log.
type logFollower struct {
	c        kubernetes.Interface
	ns, name string
	cfg      logsConfig
	factory  informers.SharedInformerFactory
	store    cache.Store
	ctx      context.Context
	cancel   context.CancelFunc
	initial  map[string]bool // the pods there were at the start

	mu      sync.Mutex
	streams map[types.UID]*podStream
	closed  bool
	wg      sync.WaitGroup
}

// followLogs lists and watches the plugin's pods, failing with an error
// naming the verb the account may not use, and streams the log of each
// pod whose container has started until close.
func followLogs(ctx context.Context, c kubernetes.Interface, ns, name string, cfg logsConfig) (*logFollower, error) {
	sel := ManagedSelector(name)
	initial, err := mayWatchPods(ctx, c, ns, name, sel)
	if err != nil {
		return nil, err
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	f := &logFollower{c: c, ns: ns, name: name, cfg: cfg, initial: initial, streams: map[types.UID]*podStream{}}
	if f.cfg.open == nil {
		f.cfg.open = func(ctx context.Context, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
			return c.CoreV1().Pods(ns).GetLogs(pod, o).Stream(ctx)
		}
	}
	f.ctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
	f.factory = informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	inf := f.factory.Core().V1().Pods().Informer()
	f.store = inf.GetStore()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    f.sync,
		UpdateFunc: func(_, o any) { f.sync(o) },
		DeleteFunc: f.gone,
	})
	f.factory.Start(f.ctx.Done())
	synced := make(chan bool, 1)
	go func() { synced <- cache.WaitForCacheSync(f.ctx.Done(), inf.HasSynced) }()
	select {
	case <-synced:
		return f, nil
	case <-ctx.Done():
		f.close()
		return nil, &tether.PluginError{Plugin: name, Kind: tether.ErrStartTimeout,
			Detail: "the plugin's pods were not listed in time", Err: context.Cause(ctx)}
	}
}

// mayWatchPods lists the plugin's pods and starts a watch of them once, so
// that an account without list or watch on pods fails at once, naming the
// verb; it returns the names of the pods there are.
func mayWatchPods(ctx context.Context, c kubernetes.Interface, ns, name, sel string) (map[string]bool, error) {
	api := c.CoreV1().Pods(ns)
	names := map[string]bool{}
	verb, err := listThenWatch(ctx, func() (string, error) {
		list, err := api.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return "", err
		}
		for _, p := range list.Items {
			names[p.Name] = true
		}
		return list.ResourceVersion, nil
	}, func(o metav1.ListOptions) (watch.Interface, error) {
		o.LabelSelector = sel
		return api.Watch(ctx, o)
	})
	if err != nil {
		return nil, apiFailure(name, verb, "pods", "", ns, err)
	}
	return names, nil
}

// sync starts streaming the log of a pod whose container has started.
func (f *logFollower) sync(o any) {
	p, ok := o.(*corev1.Pod)
	if !ok || !started(p) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.streams[p.UID] != nil { // streaming, or done with the pod, which logs no more
		return
	}
	s := &podStream{f: f, pod: p.Name, uid: p.UID, container: p.Spec.Containers[0].Name, tail: -1}
	if f.initial[p.Name] {
		s.tail = f.cfg.Tail
	}
	s.ctx, s.cancel = context.WithCancel(f.ctx)
	f.streams[p.UID] = s
	f.wg.Add(1)
	go s.run()
}

// podGoneGrace is how long the stream of a deleted pod may go on, for the
// lines it still holds, before it is cut (the kubelet ends it when the
// container exits, which comes before the deletion).
const podGoneGrace = 5 * time.Second

// gone cuts the stream of a deleted pod after podGoneGrace, and forgets
// the pod once its stream ended.
func (f *logFollower) gone(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.streams[p.UID]
	switch {
	case s == nil:
	case s.ended:
		delete(f.streams, p.UID)
	case !s.deleted:
		s.deleted = true
		s.timer = time.AfterFunc(podGoneGrace, s.cancel)
	}
}

// close stops following and every stream, and waits for them.
func (f *logFollower) close() {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.closed = true
	for _, s := range f.streams {
		if s.timer != nil {
			s.timer.Stop()
		}
	}
	f.mu.Unlock()
	f.cancel()
	f.factory.Shutdown()
	f.wg.Wait()
}

// started reports whether a pod's first container has run, so that it has
// a log.
func started(p *corev1.Pod) bool {
	if len(p.Spec.Containers) == 0 {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == p.Spec.Containers[0].Name {
			return cs.State.Running != nil || cs.State.Terminated != nil || cs.RestartCount > 0
		}
	}
	return false
}

// sortedPods is pods by name.
func sortedPods(pods []corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, len(pods))
	for i := range pods {
		out[i] = &pods[i]
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultGrace is the grace period of a pod that does not set one (Kubernetes' default).
const defaultGrace = 30 * time.Second

// podWorker runs one pod: its address, volumes, containers and status.
type podWorker struct {
	a   *agent
	dir string // WorkDir/pods/NS/NAME
	log *slog.Logger

	mu        sync.Mutex
	pod       *corev1.Pod // latest object seen
	ip        netip.Addr  // set once before the containers start
	cs        []corev1.ContainerStatus
	startTime metav1.Time
	grace     time.Duration // of the stop under way
	deleting  bool          // delete the object once the containers are gone
	events    map[string]time.Time

	dirty    chan struct{} // status changed; capacity 1
	stopReq  chan struct{} // closed by requestStop
	stopOnce sync.Once
	done     chan struct{} // closed when run returns
}

func newPodWorker(a *agent, pod *corev1.Pod) *podWorker {
	w := &podWorker{a: a, pod: pod.DeepCopy(), startTime: metav1.Now(),
		dir:   filepath.Join(a.opts.WorkDir, "pods", pod.Namespace, pod.Name),
		log:   a.log.With("pod", pod.Namespace+"/"+pod.Name),
		dirty: make(chan struct{}, 1), stopReq: make(chan struct{}), done: make(chan struct{}),
		events: map[string]time.Time{}}
	for _, c := range pod.Spec.Containers {
		w.cs = append(w.cs, corev1.ContainerStatus{Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
	}
	if pod.DeletionTimestamp != nil {
		w.requestStopLocked(true)
	}
	return w
}

// root is the directory that stands for the container's filesystem root: mounts appear under it.
func (w *podWorker) root() string { return filepath.Join(w.dir, "root") }

// podSnapshot is the latest pod object (not to be modified).
func (w *podWorker) podSnapshot() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

// update records a newer pod object; a deletionTimestamp starts the graceful stop.
func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pod = pod.DeepCopy()
	if pod.DeletionTimestamp != nil {
		w.requestStopLocked(true)
	}
}

// requestStop stops the pod's containers; with del the pod object is deleted afterwards.
func (w *podWorker) requestStop(del bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requestStopLocked(del)
}

func (w *podWorker) requestStopLocked(del bool) {
	w.stopOnce.Do(func() {
		w.deleting = del
		w.grace = defaultGrace
		if g := w.pod.Spec.TerminationGracePeriodSeconds; g != nil {
			w.grace = time.Duration(*g) * time.Second
		}
		if g := w.pod.DeletionGracePeriodSeconds; g != nil {
			w.grace = time.Duration(*g) * time.Second
		}
		close(w.stopReq)
	})
}

// stopGrace is the grace period of the stop under way.
func (w *podWorker) stopGrace() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.grace
}

// markDirty asks the status writer for a write.
func (w *podWorker) markDirty() {
	select {
	case w.dirty <- struct{}{}:
	default:
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// run is the pod's life: address, volumes, containers, then the stop and, for a deletion,
// the removal of the object.
func (w *podWorker) run() {
	defer close(w.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.stopReq:
			cancel()
		case <-ctx.Done():
		}
	}()
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); w.statusWriter(ctx) }()
	w.markDirty()

	if w.setup(ctx) && !w.stopping() {
		var wg sync.WaitGroup
		for i := range w.cs {
			wg.Add(1)
			go func() { defer wg.Done(); w.runContainer(ctx, i) }()
		}
		wg.Wait()
	}
	<-w.stopReq // a finished pod keeps its address and status until it is deleted
	cancel()
	<-writerDone
	w.mu.Lock()
	del, pod := w.deleting, w.pod
	w.mu.Unlock()
	if del {
		w.a.deletePod(pod)
	}
}

// stopping reports whether a stop was requested.
func (w *podWorker) stopping() bool {
	select {
	case <-w.stopReq:
		return true
	default:
		return false
	}
}

// setup takes the pod's address and writes its volumes, retrying until it works or ctx ends.
func (w *podWorker) setup(ctx context.Context) bool {
	for delay := time.Second; ; delay = min(2*delay, 10*time.Second) {
		ip, err := w.a.ips.get()
		if err == nil {
			w.mu.Lock()
			w.ip = ip
			w.mu.Unlock()
			w.markDirty()
			break
		}
		w.setAllWaiting("ContainerCreating", err.Error())
		if !sleep(ctx, delay) {
			return false
		}
	}
	for delay := time.Second; ; delay = min(2*delay, 10*time.Second) {
		err := os.MkdirAll(w.root(), 0o700)
		if err == nil {
			err = w.prepareVolumes(ctx)
		}
		if err == nil {
			return true
		}
		w.log.Info("volumes not ready", "err", err)
		w.setAllWaiting("ContainerCreating", err.Error())
		if !sleep(ctx, delay) {
			return false
		}
	}
}

// setAllWaiting sets every container's state to waiting with reason and message.
func (w *podWorker) setAllWaiting(reason, msg string) {
	for i := range w.cs {
		w.setWaiting(i, reason, msg)
	}
}

// release gives back the pod's address and removes its directory (logs are kept elsewhere).
func (w *podWorker) release() {
	w.mu.Lock()
	ip := w.ip
	w.ip = netip.Addr{}
	w.mu.Unlock()
	if ip.IsValid() {
		w.a.ips.put(ip)
	}
	if err := os.RemoveAll(w.dir); err != nil {
		w.log.Warn("remove pod directory", "err", err)
	}
	pod := w.podSnapshot()
	for _, c := range pod.Spec.Containers { // the logs stay; their writers are gone
		w.a.logFiles.Delete(LogPath(w.a.opts.WorkDir, pod.Namespace, pod.Name, c.Name))
	}
}

// containerEnvError formats a container config error for the waiting message.
func containerEnvError(c *corev1.Container, err error) string {
	return fmt.Sprintf("container %s: %v", c.Name, err)
}

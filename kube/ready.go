package kube

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
)

// Reasons a deployment did not become ready, in NotReadyError.Reason.
const (
	ReasonCrashLoop     = "crash loop"
	ReasonUnschedulable = "unschedulable"
	ReasonImage         = "image not found"
	ReasonProbe         = "readiness probe failing"
	ReasonCreate        = "container not created"
	ReasonPending       = "not ready yet"
)

// NotReadyError says why a plugin's replicas were not all ready in time,
// from one pod that was not: Reason is one of the Reason constants.
type NotReadyError struct {
	// Ready, Updated and Available are the Deployment's replicas that are
	// ready, that run its current spec, and that have been ready for its
	// minReadySeconds; Desired is its spec's number. Stale says the
	// Deployment controller had not yet observed the current spec.
	Ready, Updated, Available, Desired int32
	Stale                              bool
	Reason                             string
	Pod, Container                     string
	// ExitCode and Message: the container's last termination (crash loop),
	// the scheduler's or the image pull's message otherwise.
	ExitCode int32
	Message  string
	// Log is the tail of the container's log (or its termination message
	// when the log cannot be read).
	Log string
}

// Error says how many replicas were ready, why one was not, and the tail
// of its log.
func (e *NotReadyError) Error() string {
	var b strings.Builder
	b.WriteString(e.replicas())
	if e.Pod != "" {
		fmt.Fprintf(&b, "; pod %s: %s", e.Pod, e.Reason)
	}
	if e.Reason == ReasonCrashLoop {
		fmt.Fprintf(&b, " (container %s last exited with code %d)", e.Container, e.ExitCode)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Log != "" {
		fmt.Fprintf(&b, "; last log lines:\n%s", e.Log)
	}
	return b.String()
}

// replicas says how far the replicas got, in the terms that are true of
// them: ready ones may be old ones while a rollout is under way.
func (e *NotReadyError) replicas() string {
	switch {
	case e.Stale:
		return fmt.Sprintf("the Deployment controller has not yet acted on the current spec (%d of %d replicas ready)", e.Ready, e.Desired)
	case e.Ready < e.Desired:
		return fmt.Sprintf("%d of %d replicas ready", e.Ready, e.Desired)
	case e.Updated < e.Desired:
		return fmt.Sprintf("only %d of %d replicas run the current spec (the rollout has not finished; %d replicas of any spec ready)",
			e.Updated, e.Desired, e.Ready)
	case e.Available < e.Desired:
		return fmt.Sprintf("%d of %d replicas ready but only %d available (ready for the Deployment's minReadySeconds)",
			e.Ready, e.Desired, e.Available)
	}
	return fmt.Sprintf("%d of %d replicas ready", e.Ready, e.Desired)
}

// logLines is how many of a container's last log lines an error quotes.
const logLines = 10

// waitReady waits until the Deployment's available replicas are the
// desired number, and returns it as it then was; it says why not when
// timeout (or ctx) ends first.
func waitReady(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, timeout time.Duration) (*appsv1.Deployment, error) {
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *appsv1.Deployment
	for {
		err := withRetry(wctx, func() (err error) {
			last, err = c.AppsV1().Deployments(d.Namespace).Get(wctx, d.Name, metav1.GetOptions{})
			return err
		})
		if err != nil && wctx.Err() == nil {
			return nil, apiFailure(d.Name, "get", "deployments.apps", d.Name, d.Namespace, err)
		}
		if err == nil && ready(last) {
			return last, nil
		}
		if err == nil {
			reportProgress(wctx, c, last)
		}
		select {
		case <-wctx.Done():
			if last == nil {
				last = d
			}
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer dcancel()
			return nil, &tether.PluginError{Plugin: d.Name, Kind: tether.ErrStartTimeout,
				Detail: fmt.Sprintf("the Deployment was not ready within %v", timeout), Err: diagnose(dctx, c, last)}
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitListed waits until the Service's EndpointSlices list as many ready
// endpoints on port as the Deployment d (ready) wants replicas: the
// EndpointSlice controller follows the pods' readiness a moment after the
// Deployment controller counts it. timeout <= 0 means DefaultReadyTimeout.
func waitListed(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, port int32, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	want := desired(d)
	sel := metav1.ListOptions{LabelSelector: labelServiceName + "=" + d.Name}
	listed := 0
	for {
		var list *discoveryv1.EndpointSliceList
		err := withRetry(wctx, func() (err error) {
			list, err = c.DiscoveryV1().EndpointSlices(d.Namespace).List(wctx, sel)
			return err
		})
		if err != nil && wctx.Err() == nil {
			return apiFailure(d.Name, "list", endpointSlices, "", d.Namespace, err)
		}
		if err == nil {
			if listed = len(readyAddresses(pointers(list.Items), port)); listed >= int(want) {
				return nil
			}
		}
		select {
		case <-wctx.Done():
			e := &tether.PluginError{Plugin: d.Name, Kind: tether.ErrStartTimeout,
				Detail: fmt.Sprintf("%d of %d replicas ready, but the Service's EndpointSlices listed %d of them ready within %v",
					want, want, listed, timeout)}
			if listed == 0 {
				e.Err = &NoEndpointsError{Service: d.Name, Namespace: d.Namespace, Ready: want, Desired: want}
			}
			return e
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pointers are the addresses of the items of a list.
func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// ready reports whether the rollout is complete, as kubectl rollout status
// says: every desired replica runs the current revision and is available,
// and no replica of an older one is left (pending termination, it may
// still serve).
func ready(d *appsv1.Deployment) bool {
	want := desired(d)
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas >= want && s.AvailableReplicas >= want &&
		s.Replicas <= s.UpdatedReplicas
}

func desired(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// diagnose finds a pod of the Deployment that is not ready and says why.
func diagnose(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment) *NotReadyError {
	st := d.Status
	e := &NotReadyError{Ready: st.ReadyReplicas, Updated: st.UpdatedReplicas, Available: st.AvailableReplicas,
		Desired: desired(d), Stale: st.ObservedGeneration < d.Generation, Reason: ReasonPending}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return e
	}
	pods, err := c.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		e.Message = "could not list its pods: " + err.Error()
		return e
	}
	best := 0
	for i := range pods.Items {
		if cand, rank := podProblem(ctx, c, &pods.Items[i]); rank > best {
			cand.Ready, cand.Updated, cand.Available, cand.Desired, cand.Stale = e.Ready, e.Updated, e.Available, e.Desired, e.Stale
			best, e = rank, cand
		}
	}
	return e
}

// podProblem says what keeps one pod from being ready, ranked: the higher,
// the more telling (a crash beats a failing probe beats a pending pod).
func podProblem(ctx context.Context, c kubernetes.Interface, p *corev1.Pod) (*NotReadyError, int) {
	e := &NotReadyError{Pod: p.Name, Reason: ReasonPending}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			e.Reason, e.Message = ReasonUnschedulable, strings.TrimSpace(cond.Reason+": "+cond.Message)
			return e, 3
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		e.Container = cs.Name
		if w := cs.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" || w.Reason == "InvalidImageName") {
			e.Reason, e.Message = ReasonImage, w.Reason+": "+w.Message
			return e, 5
		}
		if w := cs.State.Waiting; w != nil && w.Message != "" && (w.Reason == "CreateContainerConfigError" ||
			w.Reason == "CreateContainerError" || w.Reason == "ContainerCreating") {
			e.Reason, e.Message = ReasonCreate, w.Reason+": "+w.Message // a missing Secret, key or ConfigMap
			return e, 3
		}
		if t := terminated(cs); t != nil && (cs.RestartCount > 0 || cs.State.Terminated != nil) {
			e.Reason, e.ExitCode, e.Message = ReasonCrashLoop, t.ExitCode, t.Reason
			e.Log = containerLog(ctx, c, p, cs.Name, true, t.Message)
			return e, 4
		}
		if !cs.Ready && cs.State.Running != nil {
			e.Reason = ReasonProbe
			e.Log = containerLog(ctx, c, p, cs.Name, false, "")
			return e, 2
		}
	}
	if p.Status.Phase == corev1.PodPending {
		return e, 1
	}
	return e, 0
}

// terminated is a container's current or last termination.
func terminated(cs corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	if cs.State.Terminated != nil {
		return cs.State.Terminated
	}
	return cs.LastTerminationState.Terminated
}

// containerLog is the tail of a container's log (the previous run's after
// a crash), or fallback when the log cannot be read.
func containerLog(ctx context.Context, c kubernetes.Interface, p *corev1.Pod, container string, previous bool, fallback string) string {
	tail := int64(logLines)
	opts := &corev1.PodLogOptions{Container: container, TailLines: &tail, Previous: previous}
	rc, err := c.CoreV1().Pods(p.Namespace).GetLogs(p.Name, opts).Stream(ctx)
	if err != nil && previous {
		opts.Previous = false // the agent may keep only the current run's log
		rc, err = c.CoreV1().Pods(p.Namespace).GetLogs(p.Name, opts).Stream(ctx)
	}
	if err != nil {
		return lastLines(fallback, logLines)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil || strings.TrimSpace(string(b)) == "" {
		return lastLines(fallback, logLines)
	}
	return lastLines(string(b), logLines)
}

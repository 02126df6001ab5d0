package nodeagent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// setWaiting puts container i in state waiting.
func (w *podWorker) setWaiting(i int, reason, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.cs[i]
	if s.State.Waiting != nil && s.State.Waiting.Reason == reason && s.State.Waiting.Message == msg {
		return
	}
	s.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	s.Ready = false
	w.markDirty()
}

// setRunning records that container i started (restartCount counts every start after the first).
func (w *podWorker) setRunning(i int, started time.Time, id, imageID string, restarts int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.cs[i]
	s.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}
	s.ContainerID, s.ImageID, s.RestartCount = id, imageID, restarts
	s.Started = ptr(w.pod.Spec.Containers[i].StartupProbe == nil)
	s.Ready = false
	w.markDirty()
}

// setStarted records that container i's startup probe passed.
func (w *podWorker) setStarted(i int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cs[i].Started = ptr(true)
	w.markDirty()
}

// setReady sets container i's readiness (only while it runs).
func (w *podWorker) setReady(i int, ready bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.cs[i]
	if s.State.Running == nil || s.Ready == ready {
		return
	}
	s.Ready = ready
	w.markDirty()
}

// setExited records container i's exit: with restart the state becomes waiting CrashLoopBackOff
// and the exit goes to lastState; without it the state is terminated.
func (w *podWorker) setExited(i int, t corev1.ContainerStateTerminated, restart bool, backoff time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.cs[i]
	s.Ready, s.Started = false, ptr(false)
	t.ContainerID = s.ContainerID
	if !restart {
		s.State = corev1.ContainerState{Terminated: &t}
	} else {
		s.LastTerminationState = corev1.ContainerState{Terminated: &t}
		s.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: "back-off " + backoff.String() + " restarting failed container=" + s.Name + " pod=" + w.pod.Name}}
	}
	w.markDirty()
}

func ptr[T any](v T) *T { return &v }

// phase computes the pod phase from its container states.
func phase(cs []corev1.ContainerStatus) corev1.PodPhase {
	terminated, failed, running, restarting := 0, 0, 0, 0
	for _, s := range cs {
		switch {
		case s.State.Terminated != nil:
			terminated++
			if s.State.Terminated.ExitCode != 0 {
				failed++
			}
		case s.State.Running != nil:
			running++
		case s.LastTerminationState.Terminated != nil:
			restarting++
		}
	}
	switch {
	case len(cs) > 0 && terminated == len(cs) && failed == 0:
		return corev1.PodSucceeded
	case len(cs) > 0 && terminated == len(cs):
		return corev1.PodFailed
	case running > 0 || restarting > 0 || terminated > 0:
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// buildStatus is the pod status to write, starting from the object's current one.
func (w *podWorker) buildStatus(old corev1.PodStatus) corev1.PodStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := *old.DeepCopy()
	st.HostIP, st.HostIPs = "127.0.0.1", []corev1.HostIP{{IP: "127.0.0.1"}}
	if w.ip.IsValid() {
		st.PodIP, st.PodIPs = w.ip.String(), []corev1.PodIP{{IP: w.ip.String()}}
	}
	st.StartTime = &w.startTime
	st.ContainerStatuses = make([]corev1.ContainerStatus, len(w.cs))
	var unready []string
	for i := range w.cs {
		st.ContainerStatuses[i] = *w.cs[i].DeepCopy()
		if !w.cs[i].Ready {
			unready = append(unready, w.cs[i].Name)
		}
	}
	ready := len(w.cs) > 0 && len(unready) == 0
	st.Phase = phase(w.cs)
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		ready = false
	}
	now := metav1.Now()
	setCond(&st, corev1.PodScheduled, true, now)
	setCond(&st, corev1.PodReadyToStartContainers, w.ip.IsValid(), now)
	setCond(&st, corev1.PodInitialized, true, now)
	setCond(&st, corev1.ContainersReady, ready, now)
	setCond(&st, corev1.PodReady, ready, now)
	if !ready {
		msg := fmt.Sprintf("containers with unready status: %v", unready)
		if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
			msg = "the pod has finished"
		}
		for i := range st.Conditions {
			if t := st.Conditions[i].Type; t == corev1.ContainersReady || t == corev1.PodReady {
				st.Conditions[i].Reason, st.Conditions[i].Message = "ContainersNotReady", msg
			}
		}
	}
	return st
}

// setCond sets a pod condition, keeping its transition time when the status is unchanged.
func setCond(st *corev1.PodStatus, t corev1.PodConditionType, ok bool, now metav1.Time) {
	s := corev1.ConditionFalse
	if ok {
		s = corev1.ConditionTrue
	}
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			if st.Conditions[i].Status != s {
				st.Conditions[i].Status, st.Conditions[i].LastTransitionTime = s, now
				st.Conditions[i].Reason, st.Conditions[i].Message = "", ""
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now})
}

// statusWriter writes the pod status whenever it changed, until ctx ends.
func (w *podWorker) statusWriter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.dirty:
		}
		if err := w.writeStatus(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("write pod status", "err", err)
			if sleep(ctx, time.Second) {
				w.markDirty()
			}
		}
	}
}

// writeStatus writes the current status with retry on conflict; a pod that is gone is no error.
func (w *podWorker) writeStatus(ctx context.Context) error {
	pod := w.podSnapshot()
	pods := w.a.client.CoreV1().Pods(pod.Namespace)
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID {
			return nil // a new pod of the same name
		}
		cur.Status = w.buildStatus(cur.Status)
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if isNotFound(err) {
		return nil
	}
	return err
}

// event records a Warning event about container c of the pod, at most once per 10 s per reason.
func (w *podWorker) event(c, reason, msg string) {
	w.mu.Lock()
	pod := w.pod
	key := c + "/" + reason
	if time.Since(w.events[key]) < 10*time.Second {
		w.mu.Unlock()
		return
	}
	w.events[key] = time.Now()
	w.mu.Unlock()
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace,
			Name: pod.Name, UID: pod.UID, FieldPath: "spec.containers{" + c + "}"},
		Reason: reason, Message: msg, Type: corev1.EventTypeWarning, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "kubelet", Host: w.a.opts.NodeName},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.a.client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		w.log.Debug("event", "err", err)
	}
}

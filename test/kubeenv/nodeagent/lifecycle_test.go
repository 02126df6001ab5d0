package nodeagent

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// grpcReadiness is a 1-second gRPC readiness probe on port 7000.
func grpcReadiness(p *corev1.Pod) {
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 1,
		ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 7000}}}
}

func TestReadinessFollowsGRPCHealth(t *testing.T) {
	e := startAgent(t)
	readyFile := filepath.Join(t.TempDir(), "ready")
	e.createPod(t, "ready", "serve", func(p *corev1.Pod) {
		grpcReadiness(p)
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "READY_FILE", Value: readyFile})
	})
	p := e.waitPod(t, "ready", 10*time.Second, "Running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(e.log("ready")) > 1
	})
	if !strings.Contains(strings.Join(e.log("ready"), "\n"), "listening on "+p.Status.PodIP+":7000") {
		t.Fatalf("the process did not bind its pod IP %s: %v", p.Status.PodIP, e.log("ready"))
	}
	// NOT_SERVING: the probe fails (an Unhealthy event says so) and the pod stays unready.
	e.waitEvent(t, "Readiness probe failed", 10*time.Second)
	if p := e.waitPod(t, "ready", time.Second, "fetched", func(*corev1.Pod) bool { return true }); cond(p, corev1.PodReady) {
		t.Fatalf("pod Ready while its health service is NOT_SERVING")
	}
	if err := os.WriteFile(readyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.waitPod(t, "ready", 10*time.Second, "Ready", func(p *corev1.Pod) bool {
		return cond(p, corev1.PodReady) && cond(p, corev1.ContainersReady) && p.Status.ContainerStatuses[0].Ready
	})
	os.Remove(readyFile)
	e.waitPod(t, "ready", 10*time.Second, "unready again", func(p *corev1.Pod) bool {
		return !cond(p, corev1.PodReady) && !p.Status.ContainerStatuses[0].Ready
	})
}

func TestDistinctPodIPs(t *testing.T) {
	e := startAgent(t)
	e.createPod(t, "a", "serve", grpcReadiness)
	e.createPod(t, "b", "serve", grpcReadiness)
	ready := func(p *corev1.Pod) bool { return cond(p, corev1.PodReady) }
	pa := e.waitPod(t, "a", 15*time.Second, "Ready", ready)
	pb := e.waitPod(t, "b", 15*time.Second, "Ready", ready)
	if pa.Status.PodIP == pb.Status.PodIP || pa.Status.PodIP == "" {
		t.Fatalf("pod IPs %q and %q are not distinct", pa.Status.PodIP, pb.Status.PodIP)
	}
}

// deletePodGracefully marks the pod for deletion as the API server does for a graceful delete.
func (e *testEnv) deletePodGracefully(t *testing.T, name string, grace int64) {
	t.Helper()
	ctx := context.Background()
	p, err := e.client.CoreV1().Pods("ns").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
	if _, err := e.client.CoreV1().Pods("ns").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitGone waits until the pod object is deleted and returns when that was seen.
func (e *testEnv) waitGone(t *testing.T, name string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if _, err := e.client.CoreV1().Pods("ns").Get(context.Background(), name, metav1.GetOptions{}); isNotFound(err) {
			return time.Now()
		}
		select {
		case <-deadline:
			t.Fatalf("pod %s still exists after %v", name, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestDeletionTerminatesGracefully(t *testing.T) {
	e := startAgent(t)
	e.createPod(t, "polite", "serve", grpcReadiness)
	e.waitPod(t, "polite", 10*time.Second, "Ready", func(p *corev1.Pod) bool { return cond(p, corev1.PodReady) })
	start := time.Now()
	e.deletePodGracefully(t, "polite", 20)
	if took := e.waitGone(t, "polite", 10*time.Second).Sub(start); took > 5*time.Second {
		t.Errorf("a process that exits on SIGTERM took %v to be removed", took)
	}
	if l := e.log("polite"); len(l) == 0 || l[len(l)-1] != "terminating" {
		t.Errorf("the process did not see SIGTERM: %v", l)
	}
	if _, err := os.Stat(filepath.Join(e.workDir, "pods/ns/polite")); !os.IsNotExist(err) {
		waitNoDir(t, filepath.Join(e.workDir, "pods/ns/polite"))
	}
}

func waitNoDir(t *testing.T, dir string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("pod directory %s left after the pod was deleted", dir)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestDeletionKillsAfterGrace(t *testing.T) {
	e := startAgent(t)
	e.createPod(t, "stubborn", "serve", func(p *corev1.Pod) {
		grpcReadiness(p)
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "IGNORE_TERM", Value: "1"})
	})
	p := e.waitPod(t, "stubborn", 10*time.Second, "Ready", func(p *corev1.Pod) bool { return cond(p, corev1.PodReady) })
	pid, _ := strconv.Atoi(strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "nodeagent://"))
	start := time.Now()
	e.deletePodGracefully(t, "stubborn", 2)
	took := e.waitGone(t, "stubborn", 10*time.Second).Sub(start)
	if took < 2*time.Second {
		t.Errorf("pod removed after %v, before its 2 s grace period", took)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("process %d still exists after the pod was removed: %v", pid, err)
	}
}

func TestTCPLivenessFailureRestarts(t *testing.T) {
	e := startAgent(t)
	e.createPod(t, "dead", "sleep", func(p *corev1.Pod) {
		one := int64(1)
		p.Spec.TerminationGracePeriodSeconds = &one
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 2,
			ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(7000)}}}
	})
	p := e.waitPod(t, "dead", 20*time.Second, "restarted by its liveness probe", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 128+int32(syscall.SIGTERM) || last.Reason != "Error" {
		t.Errorf("lastState.terminated = %+v, want exit 143 (SIGTERM), reason Error", last)
	}
	e.waitEvent(t, "Liveness probe failed", time.Second)
}

// waitEvent waits for a Warning event about the pod whose message contains msg.
func (e *testEnv) waitEvent(t *testing.T, msg string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		evs, err := e.client.CoreV1().Events("ns").List(context.Background(), metav1.ListOptions{})
		if err == nil {
			for _, ev := range evs.Items {
				if ev.Reason == "Unhealthy" && ev.Type == corev1.EventTypeWarning && strings.Contains(ev.Message, msg) {
					return
				}
			}
		}
		select {
		case <-deadline:
			t.Fatalf("no Unhealthy event with %q after %v: %v", msg, timeout, evs)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

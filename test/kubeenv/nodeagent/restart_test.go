package nodeagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func exitWith(code string, policy corev1.RestartPolicy) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.RestartPolicy = policy
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "EXIT_CODE", Value: code})
		p.Spec.Containers[0].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	e := startAgent(t)
	e.createPod(t, "crash", "print", exitWith("3", corev1.RestartPolicyAlways))
	var runs []corev1.ContainerStateTerminated // each run's start and finish
	sawBackOff := false
	p := e.waitPod(t, "crash", 20*time.Second, "restarted 3 times", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			sawBackOff = true
		}
		if t := cs.LastTerminationState.Terminated; t != nil && (len(runs) == 0 || !runs[len(runs)-1].StartedAt.Equal(&t.StartedAt)) {
			runs = append(runs, *t)
		}
		return cs.RestartCount >= 3 && len(runs) >= 3
	})
	cs := p.Status.ContainerStatuses[0]
	last := cs.LastTerminationState.Terminated
	if last.ExitCode != 3 || last.Reason != "Error" || !sawBackOff {
		t.Errorf("lastState %+v, saw CrashLoopBackOff %v", last, sawBackOff)
	}
	if last.Message == "" {
		t.Errorf("FallbackToLogsOnError: empty termination message")
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running while restarting", p.Status.Phase)
	}
	// back-off 1 s then 2 s from one run's exit to the next one's start
	// (how long a run takes, a few ms or a second on a loaded machine, is
	// not counted). The upper bounds tell 1 s from 2 s from 4 s while
	// allowing a slow process start.
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		if i+1 < len(runs) {
			if gap := runs[i+1].StartedAt.Sub(runs[i].FinishedAt.Time); gap < want-50*time.Millisecond || gap > want+want*9/10 {
				t.Errorf("from the exit of run %d to the start of run %d: %v, want about %v", i, i+1, gap, want)
			}
		}
	}
}

func TestRestartPolicies(t *testing.T) {
	e := startAgent(t)
	e.createPod(t, "never-fail", "print", exitWith("1", corev1.RestartPolicyNever))
	e.createPod(t, "onfailure-ok", "print", exitWith("0", corev1.RestartPolicyOnFailure))
	e.createPod(t, "onfailure-fail", "print", exitWith("2", corev1.RestartPolicyOnFailure))
	p := e.waitPod(t, "never-fail", 10*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || cs.State.Terminated.ExitCode != 1 {
		t.Errorf("Never: %+v", cs)
	}
	p = e.waitPod(t, "onfailure-ok", 10*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 {
		t.Errorf("OnFailure exit 0 restarted: %+v", cs)
	}
	e.waitPod(t, "onfailure-fail", 10*time.Second, "restarted", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
}

func TestBackoffSteps(t *testing.T) {
	var b backoff
	var got []time.Duration
	for range 7 {
		got = append(got, b.step())
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("back-off steps %v, want %v seconds", got, want)
		}
	}
	b.reset()
	if d := b.step(); d != time.Second {
		t.Errorf("after reset: %v", d)
	}
}

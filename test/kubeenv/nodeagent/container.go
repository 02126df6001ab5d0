package nodeagent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Back-off between container restarts: 1 s doubling to 30 s, reset after 60 s of running.
const (
	backoffStart = time.Second
	backoffMax   = 30 * time.Second
	backoffReset = 60 * time.Second
)

// backoff is a restart delay that doubles up to a bound.
type backoff struct{ next time.Duration }

func (b *backoff) step() time.Duration {
	if b.next == 0 {
		b.next = backoffStart
	}
	d := b.next
	b.next = min(2*b.next, backoffMax)
	return d
}

func (b *backoff) reset() { b.next = 0 }

// shouldRestart applies restartPolicy to an exit code.
func shouldRestart(p corev1.RestartPolicy, code int32) bool {
	switch p {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

// runContainer runs container i until it should not restart or ctx ends.
func (w *podWorker) runContainer(ctx context.Context, i int) {
	pod := w.podSnapshot()
	c := pod.Spec.Containers[i].DeepCopy()
	var bo backoff
	var starts int32
	for pulls := 0; ctx.Err() == nil; {
		bin, ok := w.a.imagePath(c.Image)
		if !ok {
			reason := "ErrImagePull"
			if pulls > 0 {
				reason = "ImagePullBackOff"
			}
			pulls++
			msg := fmt.Sprintf("image %q not found: no binary is registered for it on node %s", c.Image, w.a.opts.NodeName)
			w.setWaiting(i, reason, msg)
			sleep(ctx, bo.step())
			continue
		}
		env, vals, err := w.envVars(ctx, c)
		if err != nil {
			w.setWaiting(i, "CreateContainerConfigError", containerEnvError(c, err))
			sleep(ctx, bo.step())
			continue
		}
		t := w.runProcess(ctx, i, c, bin, w.argv(c, vals), env, starts)
		starts++
		if ctx.Err() != nil {
			w.setExited(i, t, false, 0)
			return
		}
		restart := shouldRestart(pod.Spec.RestartPolicy, t.ExitCode)
		if t.FinishedAt.Sub(t.StartedAt.Time) >= backoffReset {
			bo.reset()
		}
		d := bo.step()
		w.setExited(i, t, restart, d)
		if !restart {
			return
		}
		sleep(ctx, d)
	}
}

// runProcess starts the container's process, runs its probes and waits for it to end, stopping
// it when ctx ends or the liveness probe fails.
func (w *podWorker) runProcess(ctx context.Context, i int, c *corev1.Container, bin string, args, env []string, restarts int32) corev1.ContainerStateTerminated {
	start := time.Now()
	pod := w.podSnapshot()
	logPath := LogPath(w.a.opts.WorkDir, pod.Namespace, pod.Name, c.Name)
	logf, err := openLog(logPath)
	if err != nil {
		return startError(start, err)
	}
	// Both streams go through one pipe, so that the agent stamps each line in the order printed.
	pr, pw, err := os.Pipe()
	if err != nil {
		logf.Close()
		return startError(start, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, w.dir, pw, pw
	cmd.SysProcAttr = containerSysProcAttr()
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		logf.Close()
		return startError(start, err)
	}
	recorded := w.a.logFile(logPath).record(logf, pr)
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	w.setRunning(i, start, "nodeagent://"+strconv.Itoa(pid), "file://"+bin, restarts)
	w.log.Info("container started", "container", c.Name, "pid", pid, "args", args)

	pctx, pcancel := context.WithCancel(ctx)
	unhealthy := make(chan struct{})
	probesDone := w.startProbes(pctx, i, c, unhealthy)
	select {
	case <-exited:
	case <-ctx.Done():
		stopGroup(pid, exited, w.stopGrace())
	case <-unhealthy:
		grace := defaultGrace
		if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		stopGroup(pid, exited, grace)
	}
	pcancel()
	<-probesDone
	syscall.Kill(-pid, syscall.SIGKILL) // what the process left behind in its group
	waitRecorded(recorded, pr)
	t := corev1.ContainerStateTerminated{StartedAt: metav1.NewTime(start), FinishedAt: metav1.Now()}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		t.ExitCode, t.Signal = 128+int32(ws.Signal()), int32(ws.Signal())
	} else {
		t.ExitCode = int32(ws.ExitStatus())
	}
	t.Reason = "Completed"
	if t.ExitCode != 0 {
		t.Reason = "Error"
	}
	t.Message = w.terminationMessage(c, logPath, t.ExitCode)
	w.log.Info("container exited", "container", c.Name, "pid", pid, "exitCode", t.ExitCode)
	return t
}

// waitRecorded waits until the container's output is in its log, or, if a process that left
// the container's group still holds the pipe, at most 2 s, and then closes the pipe.
func waitRecorded(recorded <-chan struct{}, pr *os.File) {
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-recorded:
	case <-t.C:
		pr.Close()
		<-recorded
	}
}

// startError is the terminated state of a process that could not start.
func startError(start time.Time, err error) corev1.ContainerStateTerminated {
	return corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(),
		StartedAt: metav1.NewTime(start), FinishedAt: metav1.Now()}
}

// stopGroup sends SIGTERM to the process group, then SIGKILL after grace, and waits for the exit.
func stopGroup(pid int, exited <-chan struct{}, grace time.Duration) {
	syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
		return
	case <-t.C:
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
}

// terminationMessage is the file at terminationMessagePath, or the log's end for
// FallbackToLogsOnError when the container failed.
func (w *podWorker) terminationMessage(c *corev1.Container, logPath string, code int32) string {
	p := c.TerminationMessagePath
	if p == "" {
		p = corev1.TerminationMessagePathDefault
	}
	b, err := os.ReadFile(filepath.Join(w.root(), filepath.FromSlash(path.Clean("/"+p))))
	if err == nil && len(b) > 0 {
		return string(b[:min(len(b), 4096)])
	}
	if c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && code != 0 {
		lines, _ := tailFile(logPath, 80)
		s := strings.Join(lines, "\n")
		if len(s) > 2048 {
			s = s[len(s)-2048:]
		}
		return s
	}
	return ""
}

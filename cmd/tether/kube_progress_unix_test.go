//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
)

// TestKubeDeployProgressOnTerminal: on a terminal, deploy's progress is
// one line rewritten in place, erased once the plugin is ready.
func TestKubeDeployProgressOnTerminal(t *testing.T) {
	c := fake.NewClientset()
	tty, term, closeTerm := terminal(t)
	done := runOn(t, c, tty, "kube", "deploy", "greeter", "-n", "plugins", "--image", "g:404", "--port", "7000",
		"--insecure", "--replicas", "2", "--timeout", "20s")
	plugintest.Eventually(t, 10*time.Second, "the Deployment created", func() bool {
		_, err := c.AppsV1().Deployments("plugins").Get(context.Background(), "greeter", metav1.GetOptions{})
		return err == nil
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "greeter-1", Namespace: "plugins", Labels: map[string]string{
		kube.LabelManagedBy: kube.ManagedBy, kube.LabelPlugin: "greeter"}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "plugin",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "g:404 not found"}}}}}}
	if _, err := c.CoreV1().Pods("plugins").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "\r\x1b[Kgreeter: waiting: 0 of 2 replicas ready; pod greeter-1: image not found: ImagePullBackOff: g:404 not found"
	plugintest.Eventually(t, 10*time.Second, "the progress line", func() bool { return strings.Contains(term.String(), want) })
	markFakeReady(t, c, "plugins", "greeter")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("deploy did not return once ready")
	}
	if out := closeTerm(); !strings.HasSuffix(out, "\r\x1b[K") || strings.Contains(out, "\n") {
		t.Errorf("the progress line was not one line erased at the end:\n%q", out)
	}
}

// TestKubeRmProgressOnTerminal: on a terminal, rm that waits more than a
// second for the pods to go says so on one line, erased when they are gone.
func TestKubeRmProgressOnTerminal(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset()
	deployed := make(chan error, 1)
	go func() {
		deployed <- kube.Deploy(ctx, c, "plugins", kube.Spec{Name: "greeter", Image: "g:1", Port: 7000}, kube.DeployOptions{Insecure: true})
	}()
	markFakeReady(t, c, "plugins", "greeter")
	if err := <-deployed; err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "greeter-1", Namespace: "plugins", Labels: map[string]string{
		kube.LabelManagedBy: kube.ManagedBy, kube.LabelPlugin: "greeter"}}}
	if _, err := c.CoreV1().Pods("plugins").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tty, term, closeTerm := terminal(t)
	done := runOn(t, c, tty, "kube", "rm", "greeter", "-n", "plugins", "--timeout", "20s")
	line := regexp.MustCompile(`\r\x1b\[Kgreeter: waiting until its pods are gone \(1\.\ds\)`)
	plugintest.Eventually(t, 10*time.Second, "the progress line", func() bool { return line.MatchString(term.String()) })
	if err := c.CoreV1().Pods("plugins").Delete(ctx, "greeter-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("rm did not return once the pods were gone")
	}
	if out := closeTerm(); !strings.HasSuffix(out, "\r\x1b[K") || strings.Contains(out, "\n") {
		t.Errorf("the progress line was not one line erased at the end:\n%q", out)
	}
}

// terminal opens a pseudo-terminal: tty, its side for the command's
// stderr; term, what was written there so far; closeTerm closes tty and
// returns all that was written.
func terminal(t *testing.T) (tty *os.File, term *syncBuffer, closeTerm func() string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 250}); err != nil {
		t.Fatal(err)
	}
	term = &syncBuffer{}
	read := make(chan struct{})
	go func() { _, _ = io.Copy(term, ptmx); close(read) }()
	return tty, term, func() string {
		tty.Close()
		select {
		case <-read:
		case <-time.After(10 * time.Second):
			t.Fatal("the terminal was not closed within 10 s")
		}
		return term.String()
	}
}

// runOn runs the CLI in this process with the cluster c and stderr on
// tty, and returns where its error will come.
func runOn(t *testing.T, c kubernetes.Interface, tty *os.File, args ...string) <-chan error {
	t.Helper()
	old := newKubeClient
	newKubeClient = func(_, _ string) (kubernetes.Interface, error) { return c, nil }
	done := make(chan error, 1)
	finished := make(chan struct{})
	t.Cleanup(func() {
		select { // the command must end before the client is put back
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Error("the command did not end within 30 s")
		}
		newKubeClient = old
	})
	go func() {
		root := newRoot()
		root.SetOut(&bytes.Buffer{})
		root.SetErr(tty)
		root.SetArgs(args)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- root.ExecuteContext(ctx)
		close(finished)
	}()
	return done
}

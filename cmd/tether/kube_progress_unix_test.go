//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
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
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 250}); err != nil {
		t.Fatal(err)
	}
	term := &syncBuffer{}
	read := make(chan struct{})
	go func() { _, _ = io.Copy(term, ptmx); close(read) }()

	c := fake.NewClientset()
	done := make(chan error, 1)
	go func() {
		old := newKubeClient
		newKubeClient = func(_, _ string) (kubernetes.Interface, error) { return c, nil }
		defer func() { newKubeClient = old }()
		root := newRoot()
		root.SetOut(&bytes.Buffer{})
		root.SetErr(tty)
		root.SetArgs([]string{"kube", "deploy", "greeter", "-n", "plugins", "--image", "g:404", "--port", "7000",
			"--insecure", "--replicas", "2", "--timeout", "20s"})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- root.ExecuteContext(ctx)
	}()
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
	tty.Close()
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal was not closed within 10 s")
	}
	out := term.String()
	if !strings.HasSuffix(out, "\r\x1b[K") || strings.Contains(out, "\n") {
		t.Errorf("the progress line was not one line erased at the end:\n%q", out)
	}
}

package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/plugintest"
)

// runningPod is a pod of plugin greeter whose container runs.
func runningPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("uid-" + name),
		Labels: map[string]string{LabelManagedBy: ManagedBy, LabelPlugin: "greeter"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "plugin"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "plugin",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
}

// logServer serves pods/log as the API server does, each pod's requests
// answered by its function (n counts that pod's requests from 1).
func logServer(t *testing.T, serve map[string]func(w http.ResponseWriter, r *http.Request, n int)) kubernetes.Interface {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pod, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/"+testNS+"/pods/")
		pod, ok2 := strings.CutSuffix(pod, "/log")
		if !ok || !ok2 || serve[pod] == nil {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		counts[pod]++
		n := counts[pod]
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		serve[pod](w, r, n)
	}))
	t.Cleanup(srv.Close)
	c, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func flush(w http.ResponseWriter) { w.(http.Flusher).Flush() }

// TestPodLogsResumeWithoutDuplicates: a pod's stream dropped in the middle
// of a line is resumed with sinceTime from the last timestamp seen (the
// API passes it with whole seconds, so the server repeats lines); each
// line reaches the host's logger once, re-levelled (a slog JSON line at
// warn stays warn with its attributes), with the plugin's and pod's names;
// Close ends the streams without a leak.
func TestPodLogsResumeWithoutDuplicates(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // first registered, so it runs after the server's Close
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(ms int) string { return base.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano) }
	lines := []string{
		at(100) + ` {"time":"x","level":"WARN","msg":"one","k":1}`,
		at(200) + " two",
		at(200) + " three", // the same timestamp as the line before
		at(300) + " four",
		at(400) + " five",
	}
	var sinceSeen []string
	var mu sync.Mutex
	logs := logServer(t, map[string]func(http.ResponseWriter, *http.Request, int){
		"greeter-a": func(w http.ResponseWriter, r *http.Request, n int) {
			q := r.URL.Query()
			mu.Lock()
			sinceSeen = append(sinceSeen, q.Get("sinceTime"))
			mu.Unlock()
			if q.Get("follow") != "true" || q.Get("timestamps") != "true" || q.Get("container") != "plugin" {
				t.Errorf("request %d: query %s, want follow, timestamps and the plugin's container", n, r.URL.RawQuery)
			}
			if n == 1 {
				io.WriteString(w, strings.Join(lines[:3], "\n")+"\n"+lines[3][:len(lines[3])-3])
				flush(w)
				panic(http.ErrAbortHandler) // the connection drops mid-line
			}
			io.WriteString(w, strings.Join(lines, "\n")+"\n") // from the second on
			flush(w)
			<-r.Context().Done()
		},
	})
	c := fake.NewClientset(runningPod("greeter-a"))
	log, rec := plugintest.NewLogRecorder()
	f, err := followLogs(context.Background(), c, testNS, "greeter", logsConfig{
		LogsOptions: LogsOptions{Follow: true, Tail: -1, Since: base},
		sink:        podLogSink(log, "greeter"), log: log,
		open: func(ctx context.Context, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
			return logs.CoreV1().Pods(testNS).GetLogs(pod, o).Stream(ctx)
		}})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 10*time.Second, "five records", func() bool { return len(rec.All()) >= 5 })
	f.close()
	got := rec.All()
	var msgs []string
	for _, r := range got {
		msgs = append(msgs, r.Msg)
		if r.Attrs["plugin"] != "greeter" || r.Attrs["pod"] != "greeter-a" {
			t.Errorf("record %q has attributes %v, want plugin=greeter pod=greeter-a", r.Msg, r.Attrs)
		}
	}
	if want := []string{"one", "two", "three", "four", "five"}; !slices.Equal(msgs, want) {
		t.Fatalf("records %q, want %q once each", msgs, want)
	}
	if got[0].Level != slog.LevelWarn || got[0].Attrs["k"] != "1" || got[1].Level != slog.LevelDebug {
		t.Errorf("records %+v, want the JSON line at warn with k=1 and the plain lines at debug", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sinceSeen) < 2 || sinceSeen[0] != base.Format(time.RFC3339) || sinceSeen[1] != base.Format(time.RFC3339) {
		t.Errorf("sinceTime of the requests %q, want the start, then the last timestamp seen (whole seconds)", sinceSeen)
	}
}

// TestPodLogsFollowPods: a pod that comes is followed from its first
// line; a deleted pod's stream ends when its log ends; Close with a
// stream open ends it.
func TestPodLogsFollowPods(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // first registered, so it runs after the server's Close
	now := time.Now().UTC()
	endA := make(chan struct{})
	logs := logServer(t, map[string]func(http.ResponseWriter, *http.Request, int){
		"greeter-a": func(w http.ResponseWriter, r *http.Request, n int) {
			fmt.Fprintf(w, "%s a1\n", now.Format(time.RFC3339Nano))
			flush(w)
			if n == 1 {
				select {
				case <-endA: // the container exits
				case <-r.Context().Done():
				}
				return
			}
			<-r.Context().Done()
		},
		"greeter-b": func(w http.ResponseWriter, r *http.Request, _ int) {
			fmt.Fprintf(w, "%s b1\n", now.Add(time.Second).Format(time.RFC3339Nano))
			flush(w)
			<-r.Context().Done()
		},
	})
	c := fake.NewClientset(runningPod("greeter-a"))
	var mu sync.Mutex
	var got []string
	f, err := followLogs(context.Background(), c, testNS, "greeter", logsConfig{
		LogsOptions: LogsOptions{Follow: true, Tail: -1},
		sink: func(pod string) func(string) {
			return func(l string) { mu.Lock(); got = append(got, pod+": "+l); mu.Unlock() }
		},
		open: func(ctx context.Context, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
			return logs.CoreV1().Pods(testNS).GetLogs(pod, o).Stream(ctx)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	lines := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
	streams := func() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.streams) }
	plugintest.Eventually(t, 10*time.Second, "pod a's line", func() bool { return len(lines()) == 1 })
	if _, err := c.CoreV1().Pods(testNS).Create(context.Background(), runningPod("greeter-b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 10*time.Second, "pod b's line", func() bool { return len(lines()) == 2 })
	// Pod a is deleted: marked, its container exits (its stream ends), its
	// status changes, then the object goes. Its log is not read again.
	a := runningPod("greeter-a")
	a.DeletionTimestamp = &metav1.Time{Time: now}
	update := func() {
		t.Helper()
		if _, err := c.CoreV1().Pods(testNS).Update(context.Background(), a, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		plugintest.Eventually(t, 10*time.Second, "the update seen", func() bool {
			o, _, _ := f.store.GetByKey(testNS + "/greeter-a")
			p, ok := o.(*corev1.Pod)
			return ok && p.DeletionTimestamp != nil && p.Status.Phase == a.Status.Phase
		})
	}
	update()
	close(endA)
	ended := func() bool { f.mu.Lock(); defer f.mu.Unlock(); s := f.streams[a.UID]; return s != nil && s.ended }
	plugintest.Eventually(t, 10*time.Second, "pod a's stream ended", ended)
	a.Status.Phase = corev1.PodFailed
	a.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 143}}
	update()
	if err := c.CoreV1().Pods(testNS).Delete(context.Background(), "greeter-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 10*time.Second, "pod a forgotten", func() bool { return streams() == 1 })
	if want := []string{"greeter-a: a1\n", "greeter-b: b1\n"}; !slices.Equal(lines(), want) {
		t.Errorf("lines %q, want %q", lines(), want)
	}
}

// TestOpenWithPodLogs: a client opened with WithPodLogs logs its pods'
// lines into its logger with the plugin's and the pod's names (the fake
// client's pods/log answers "fake logs", a plain line: debug); Close stops
// the streams and leaves no goroutine.
func TestOpenWithPodLogs(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	c := deployed(t, port)
	if _, err := c.CoreV1().Pods(testNS).Create(context.Background(), runningPod("greeter-a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	leaks := goleak.IgnoreCurrent()
	log, rec := plugintest.NewLogRecorder()
	client, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithInsecure(), WithPodLogs(), tether.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 10*time.Second, "the pod's line in the host's logger", func() bool {
		return slices.ContainsFunc(rec.All(), func(r plugintest.LogRecord) bool {
			return r.Msg == "fake logs" && r.Level == slog.LevelDebug && r.Attrs["plugin"] == "greeter" && r.Attrs["pod"] == "greeter-a"
		})
	})
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, leaks)
}

// An account that may not watch pods: Open with WithPodLogs fails at once
// naming the verb and resource, and removes what it deployed.
func TestPodLogsWatchForbiddenEndsOpen(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	c := fake.NewClientset()
	c.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "",
			errors.New(`user "system:serviceaccount:plugins:host" cannot watch resource "pods"`))
	})
	spec := goodSpec()
	spec.TLSSecret, spec.Port, spec.Replicas = "", port, new(int32(1))
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		markReady(t, c, "greeter")
		s := slice("greeter-1", "greeter", port, map[string]bool{"127.0.0.1": true})
		if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	}()
	_, _, err := openWithin(t, 20*time.Second, "kube://plugins/greeter", WithClient(c), WithDeploy(spec), WithInsecure(), WithPodLogs())
	<-ready
	var ae *APIError
	if !errors.Is(err, tether.ErrHost) || !errors.As(err, &ae) || ae.Verb != "watch" || ae.Resource != "pods" {
		t.Fatalf("Open: %v, want ErrHost with an *APIError on watch pods", err)
	}
	if want := "may not watch pods in namespace plugins"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
	assertNothingLeft(t, c)
}

package kubecluster

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
)

// sliceWatches counts the watch requests on EndpointSlices a client sends
// the API server, and those whose stream is still open.
type sliceWatches struct {
	next         http.RoundTripper
	mu           sync.Mutex
	started, now int
}

func (w *sliceWatches) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Query().Get("watch") != "true" && req.URL.Query().Get("watch") != "1" ||
		!strings.HasSuffix(req.URL.Path, "/endpointslices") {
		return w.next.RoundTrip(req)
	}
	resp, err := w.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	w.mu.Lock()
	w.started++
	w.now++
	w.mu.Unlock()
	resp.Body = &countedBody{ReadCloser: resp.Body, w: w}
	return resp, nil
}

func (w *sliceWatches) counts() (started, open int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started, w.now
}

type countedBody struct {
	io.ReadCloser
	w    *sliceWatches
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() {
		b.w.mu.Lock()
		b.w.now--
		b.w.mu.Unlock()
	})
	return b.ReadCloser.Close()
}

// TestTenClientsOneWatchOnAPIServer is issue 16's acceptance line: ten
// clients of one namespace (two plugins) make one watch on EndpointSlices,
// counted as the API server gets them; every client calls its plugin; the
// watch ends when the last client closes.
func TestTenClientsOneWatchOnAPIServer(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, name := range []string{"g1", "g2"} {
		err := kube.Deploy(t.Context(), c.client, c.ns, kube.Spec{Name: name, Image: greeterImage, Port: 7000, Replicas: new(int32(1))},
			kube.DeployOptions{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg := c.env.Config()
	watches := &sliceWatches{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { watches.next = rt; return watches })
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var clients []*tether.Client
	t.Cleanup(func() {
		for _, cl := range clients {
			cl.Close()
		}
	})
	for i := range 10 {
		name := []string{"g1", "g2"}[i%2]
		cl, err := tether.Open(t.Context(), "kube://"+c.ns+"/"+name, tether.WithInterface("greeter", 1),
			tether.WithStartTimeout(time.Minute), tether.WithLogger(slog.New(slog.DiscardHandler)),
			kube.WithClient(kc), kube.WithInsecure())
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		clients = append(clients, cl)
	}
	started, open := watches.counts()
	t.Logf("10 clients: %d watch requests on EndpointSlices, %d open", started, open)
	if open != 1 || started > 2 {
		t.Errorf("10 clients: %d watch requests on EndpointSlices, %d open; want 1 open (and at most the first client's check besides)", started, open)
	}
	for i, cl := range clients {
		g, err := tether.Dispense(cl, "greeter", greeterv1.NewGreeterClient)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Greet(t.Context(), &greeterv1.GreetRequest{Name: "pod"}); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	for _, cl := range clients {
		if err := cl.Close(); err != nil {
			t.Fatal(err)
		}
	}
	clients = nil
	plugintest.Eventually(t, 10*time.Second, "the watch closed after the last client", func() bool {
		_, open := watches.counts()
		return open == 0
	})
}

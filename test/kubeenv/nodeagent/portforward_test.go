package nodeagent

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// TestPortForwardEndpoint: the kubelet server's /portForward/NS/POD,
// upgraded to SPDY with protocol portforward.k8s.io, connects a data and
// error stream pair to the pod's IP on the streams' port header, as the API
// server's pods/portforward expects of a kubelet; a port nothing listens on
// is reported on the error stream, and a pod the agent does not run is 404.
func TestPortForwardEndpoint(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	a := &agent{opts: Options{WorkDir: t.TempDir()}, log: slog.New(slog.DiscardHandler), pods: map[types.UID]*podWorker{}}
	w := newPodWorker(a, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1"}})
	w.ip = netip.MustParseAddr("127.0.0.1")
	a.pods["uid-1"] = w
	srv := httptest.NewTLSServer(a.kubeletHandler())
	defer srv.Close()

	port := lis.Addr().(*net.TCPAddr).Port
	data, errs, closeConn := forward(t, srv.URL+"/portForward/ns/p", port)
	if data == nil {
		t.Fatal("the data stream to a listening port was reset")
	}
	if _, err := data.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if err := readWithin(data, got, 10*time.Second); err != nil || string(got) != "ping\n" {
		t.Errorf("echo through the forwarded stream: %q %v, want \"ping\\n\"", got, err)
	}
	closeConn()

	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := free.Addr().(*net.TCPAddr).Port
	free.Close()
	_, errs, closeConn = forward(t, srv.URL+"/portForward/ns/p/uid-1", freePort)
	msg := make(chan string, 1)
	go func() { b, _ := io.ReadAll(errs); msg <- string(b) }()
	select {
	case m := <-msg:
		if !strings.Contains(m, "connection refused") {
			t.Errorf("error stream of a port nothing listens on: %q, want it to say connection refused", m)
		}
	case <-time.After(20 * time.Second):
		t.Error("no error on the error stream of a port nothing listens on within 20s")
	}
	closeConn()

	resp, err := srv.Client().Post(srv.URL+"/portForward/ns/other", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("port-forward to a pod the agent does not run: %d, want 404", resp.StatusCode)
	}
}

// forward opens a port-forward connection to rawURL and one stream pair
// to port, as client-go's port-forward does; data is nil when the node
// reset it at once.
func forward(t *testing.T, rawURL string, port int) (data, errs streamhttp.Stream, closeConn func()) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	rt, upgrader, err := spdy.RoundTripperFor(&rest.Config{Host: u.Host, TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	conn, proto, err := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: rt}, http.MethodPost, u).Dial("portforward.k8s.io")
	if err != nil || proto != "portforward.k8s.io" {
		t.Fatalf("upgrade of %s: %q %v", rawURL, proto, err)
	}
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(port))
	h.Set(corev1.PortForwardRequestIDHeader, "1")
	if errs, err = conn.CreateStream(h); err != nil {
		t.Fatal(err)
	}
	_ = errs.Close()
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	// The data stream may be reset as it is created when the pod's port
	// refuses: the error stream says why.
	data, _ = conn.CreateStream(h)
	return data, errs, func() { _ = conn.Close() }
}

// readWithin fills b from r, failing after d.
func readWithin(r io.Reader, b []byte, d time.Duration) error {
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(r, b); done <- err }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("nothing read within %v", d)
	}
}

package nodeagent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/portforward"
)

// Port-forward timeouts, the kubelet's defaults: a forwarding connection
// with no stream open for streamIdleTimeout is closed; a stream pair whose
// second stream does not come within streamCreationTimeout is dropped.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

// kubeletHandler is the handler of the agent's kubelet server: the
// port-forward endpoint, and the container logs for everything else.
func (a *agent) kubeletHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/portForward/", a.servePortForward)
	mux.HandleFunc("/", a.serveLogs)
	return mux
}

// servePortForward answers the kubelet's port-forward endpoint,
// GET|POST /portForward/NS/POD[/UID], upgraded to SPDY (protocol
// portforward.k8s.io; each forwarded connection is a pair of streams,
// streamType data and error, with the same port and requestID headers) or
// to a WebSocket, as the API server's pods/portforward subresource proxies
// it. Each data stream is connected to the pod's IP on its port header.
func (a *agent) servePortForward(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/portForward/"), "/")
	if (r.Method != http.MethodGet && r.Method != http.MethodPost) || len(parts) < 2 || len(parts) > 3 {
		http.Error(w, "only GET or POST /portForward/NAMESPACE/POD[/UID] is served", http.StatusNotFound)
		return
	}
	uid := ""
	if len(parts) == 3 {
		uid = parts[2]
	}
	ip, podUID, ok := a.podIP(parts[0], parts[1])
	switch {
	case !ok:
		http.Error(w, fmt.Sprintf("pod %s/%s does not exist on this node", parts[0], parts[1]), http.StatusNotFound)
		return
	case !ip.IsValid():
		http.Error(w, fmt.Sprintf("pod %s/%s has no IP yet", parts[0], parts[1]), http.StatusServiceUnavailable)
		return
	case uid != "" && uid != podUID:
		http.Error(w, fmt.Sprintf("pod %s/%s has another UID", parts[0], parts[1]), http.StatusNotFound)
		return
	}
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	portforward.ServePortForward(w, r, podForwarder{ip: ip}, parts[1], podUID, opts,
		streamIdleTimeout, streamCreationTimeout, []string{portforward.ProtocolV1Name})
}

// podIP is the IP and UID of the pod ns/name this agent runs; ok is false
// when it runs no such pod. The IP is the zero Addr until the pod has one.
func (a *agent) podIP(ns, name string) (ip netip.Addr, uid string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.pods {
		w.mu.Lock()
		match := w.pod.Namespace == ns && w.pod.Name == name
		ip, uid = w.ip, string(w.pod.UID)
		w.mu.Unlock()
		if match {
			return ip, uid, true
		}
	}
	return netip.Addr{}, "", false
}

// podForwarder connects forwarded streams to ports of one pod's IP, as a
// container runtime connects them inside the pod's network namespace.
type podForwarder struct{ ip netip.Addr }

// podDialTimeout bounds the connection to the pod's port.
const podDialTimeout = 10 * time.Second

// PortForward copies between stream and a connection to the pod's port
// until either side ends; a refused or failed connection is the error the
// client's error stream gets.
func (f podForwarder) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	d := net.Dialer{Timeout: podDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(f.ip.String(), strconv.Itoa(int(port))))
	if err != nil {
		return err
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(conn, stream)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(stream, conn)
		done <- struct{}{}
	}()
	<-done
	// Either side ended: close the pod's end, which ends the other copy
	// once the caller closes the stream.
	_ = conn.Close()
	return nil
}

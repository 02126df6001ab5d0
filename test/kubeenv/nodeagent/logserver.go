package nodeagent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// logServer serves the kubelet's container-log endpoint, GET /containerLogs/NS/POD/CONTAINER
// (tailLines and limitBytes honoured; previous and follow are not: the log holds every run), over
// HTTPS with a self-signed certificate, so the API server's pods/log subresource works. The API
// server does not verify a kubelet's certificate unless it is given --kubelet-certificate-authority.
type logServer struct {
	srv  *http.Server
	lis  net.Listener
	done chan struct{}
}

// startLogServer listens on 127.0.0.1 on a free port.
func (a *agent) startLogServer() (*logServer, error) {
	cert, err := selfSigned()
	if err != nil {
		return nil, fmt.Errorf("nodeagent: log server certificate: %w", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("nodeagent: log server: %w", err)
	}
	s := &logServer{lis: lis, done: make(chan struct{}),
		srv: &http.Server{Handler: a.kubeletHandler(), ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}}
	go func() {
		defer close(s.done)
		if err := s.srv.ServeTLS(lis, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Warn("log server", "err", err)
		}
	}()
	return s, nil
}

// port is the port the server listens on.
func (s *logServer) port() int32 { return int32(s.lis.Addr().(*net.TCPAddr).Port) }

// stop closes the server and waits for it.
func (s *logServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.done
}

// serveLogs answers GET /containerLogs/NS/POD/CONTAINER.
func (a *agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/containerLogs/") || len(parts) != 3 {
		http.Error(w, "only GET /containerLogs/NAMESPACE/POD/CONTAINER is served", http.StatusNotFound)
		return
	}
	n := 1 << 30
	if s := r.URL.Query().Get("tailLines"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v >= 0 {
			n = v
		}
	}
	lines, err := LogTail(a.opts.WorkDir, parts[0], parts[1], parts[2], n)
	if err != nil {
		http.Error(w, fmt.Sprintf("no log for container %s of pod %s/%s", parts[2], parts[0], parts[1]), http.StatusNotFound)
		return
	}
	out := strings.Join(lines, "\n")
	if len(lines) > 0 {
		out += "\n"
	}
	if s := r.URL.Query().Get("limitBytes"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v >= 0 && v < len(out) {
			out = out[:v]
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(out))
}

// selfSigned makes a certificate for 127.0.0.1, valid for a year.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:   pkix.Name{CommonName: "tether-nodeagent"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

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
	"time"
)

// logServer serves the kubelet's container-log endpoint, GET /containerLogs/NS/POD/CONTAINER
// (see serveLogs), over
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

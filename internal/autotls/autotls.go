// Package autotls makes the one-time certificates of automatic mutual TLS
// between a host and a plugin it launches, the way go-plugin does: each side
// generates a self-signed certificate valid for "localhost", the host passes
// its certificate to the plugin in the environment, the plugin returns its own
// on the handshake line, and each side trusts only the other's.
package autotls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ServerName is the name both certificates are valid for.
const ServerName = "localhost"

// Generate returns a fresh self-signed certificate with its key, and the
// certificate in PEM form.
func Generate() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: ServerName, Organization: []string{"tether plugin"}},
		DNSNames:              []string{ServerName},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// ServerConfig is the plugin's TLS configuration: its own certificate, and
// only the host's certificate (PEM) accepted from clients.
func ServerConfig(own tls.Certificate, hostPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(hostPEM) {
		return nil, errors.New("the host's certificate is not valid PEM")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{own},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		ServerName:   ServerName,
	}, nil
}

// ClientConfig is the host's TLS configuration: its own certificate, and
// only the plugin's certificate (DER, from the handshake line) trusted.
func ClientConfig(own tls.Certificate, pluginDER []byte) (*tls.Config, error) {
	cert, err := x509.ParseCertificate(pluginDER)
	if err != nil {
		return nil, fmt.Errorf("the plugin's certificate does not parse: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{own},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS12,
		ServerName:   ServerName,
	}, nil
}

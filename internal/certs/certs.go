// Package certs makes the certificates of mutual TLS between network hosts
// and plugins: a certificate authority, server certificates it signs (with
// DNS and IP subject alternative names) and client certificates it signs,
// written to PEM files. Everything is ECDSA P-256 with the standard
// library's crypto/x509.
//
// Lifetimes: a CA is valid for [CALifetime] (5 years), a leaf for
// [LeafLifetime] (1 year) unless asked otherwise; a leaf never outlives the CA
// that signs it (its end is cut to the CA's). Every certificate starts
// [Backdate] before it was made, so a peer whose clock is a little behind
// accepts it at once.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

const (
	// CALifetime is how long a CA is valid by default.
	CALifetime = 5 * 365 * 24 * time.Hour
	// LeafLifetime is how long a server or client certificate is valid by default.
	LeafLifetime = 365 * 24 * time.Hour
	// Backdate is how long before its making a certificate becomes valid.
	Backdate = 5 * time.Minute
)

// Errors the package returns, wrapped with the detail; test with errors.Is.
var (
	// ErrBadName: a common name, DNS name or file name is empty or malformed.
	ErrBadName = errors.New("bad name")
	// ErrNoSAN: a server certificate was asked for without a DNS name or IP address.
	ErrNoSAN = errors.New("a server certificate needs at least one DNS name or IP address")
	// ErrBadLifetime: a lifetime is not positive.
	ErrBadLifetime = errors.New("lifetime must be positive")
	// ErrNotCA: a certificate used to sign is not a CA's.
	ErrNotCA = errors.New("not a CA certificate")
	// ErrExpired: the CA is not valid now.
	ErrExpired = errors.New("CA certificate is not valid now")
)

// Pair is a certificate with its private key.
type Pair struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA makes a self-signed CA named name (its common name), valid for
// lifetime, that may sign leaf certificates only (path length 0).
func NewCA(name string, lifetime time.Duration) (*Pair, error) {
	if err := checkCommonName(name); err != nil {
		return nil, err
	}
	tmpl, err := template(name, time.Now(), lifetime)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return sign(tmpl, nil)
}

// IssueServer makes a server certificate signed by ca for TLS servers
// reachable under dnsNames and ips, with common name name, valid for
// lifetime (cut to the CA's end).
func (ca *Pair) IssueServer(name string, dnsNames []string, ips []net.IP, lifetime time.Duration) (*Pair, error) {
	if len(dnsNames) == 0 && len(ips) == 0 {
		return nil, ErrNoSAN
	}
	for _, d := range dnsNames {
		if err := CheckDNSName(d); err != nil {
			return nil, err
		}
	}
	return ca.issue(name, lifetime, x509.ExtKeyUsageServerAuth, func(t *x509.Certificate) {
		t.DNSNames = dnsNames
		t.IPAddresses = ips
	})
}

// IssueClient makes a client certificate signed by ca with common name
// name, valid for lifetime (cut to the CA's end).
func (ca *Pair) IssueClient(name string, lifetime time.Duration) (*Pair, error) {
	return ca.issue(name, lifetime, x509.ExtKeyUsageClientAuth, nil)
}

func (ca *Pair) issue(name string, lifetime time.Duration, usage x509.ExtKeyUsage, edit func(*x509.Certificate)) (*Pair, error) {
	if err := checkCommonName(name); err != nil {
		return nil, err
	}
	if !ca.Cert.IsCA || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNotCA, ca.Cert.Subject.CommonName)
	}
	now := time.Now()
	if now.Before(ca.Cert.NotBefore) || now.After(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("%w: %q is valid from %s to %s", ErrExpired, ca.Cert.Subject.CommonName,
			ca.Cert.NotBefore.UTC().Format(time.RFC3339), ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	tmpl, err := template(name, now, lifetime)
	if err != nil {
		return nil, err
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	if edit != nil {
		edit(tmpl)
	}
	return sign(tmpl, ca)
}

// template is the part every certificate shares: a random 128-bit serial,
// the subject, and the validity from now-Backdate to now+lifetime.
func template(name string, now time.Time, lifetime time.Duration) (*x509.Certificate, error) {
	if lifetime <= 0 {
		return nil, fmt.Errorf("%w: %v", ErrBadLifetime, lifetime)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(lifetime),
		BasicConstraintsValid: true,
	}, nil
}

// sign makes a key for tmpl and signs it with parent's key, or with its own
// when parent is nil.
func sign(tmpl *x509.Certificate, parent *Pair) (*Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, parentKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Pair{Cert: cert, Key: key}, nil
}

// checkCommonName refuses an empty name or one with control characters.
func checkCommonName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: the name is empty", ErrBadName)
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%w: %q has control characters", ErrBadName, name)
	}
	return nil
}

// CheckDNSName reports whether d is a host name a certificate can name:
// dot-separated labels of letters, digits and hyphens (not at a label's
// ends), at most 63 bytes each, optionally behind a leading "*." wildcard.
func CheckDNSName(d string) error {
	bad := func(why string) error { return fmt.Errorf("%w: DNS name %q %s", ErrBadName, d, why) }
	rest := strings.TrimPrefix(d, "*.")
	if rest == "" || len(d) > 253 {
		return bad("is empty or too long")
	}
	if net.ParseIP(d) != nil {
		return bad("is an IP address (give it as an IP address)")
	}
	for label := range strings.SplitSeq(rest, ".") {
		if label == "" || len(label) > 63 {
			return bad("has an empty or over-long label")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return bad("has a label starting or ending with '-'")
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return bad(fmt.Sprintf("has the character %q", c))
			}
		}
	}
	return nil
}

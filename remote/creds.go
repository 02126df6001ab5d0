package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// tlsCreds is TLS credentials that wait for the server's first bytes before
// they call the connection up (the server name they check is the
// endpoint's, which gRPC passes as the authority): with TLS 1.3 a server refuses a client
// certificate only after the handshake, and its alert ("tls: certificate
// required", "tls: unknown certificate authority") would otherwise be lost
// behind the next write's "broken pipe".
type tlsCreds struct {
	credentials.TransportCredentials
	opts Options // names the options in messages
}

func newTLSCreds(inner credentials.TransportCredentials, o Options) *tlsCreds {
	return &tlsCreds{TransportCredentials: inner, opts: o}
}

// ClientHandshake is the TLS handshake against the endpoint's server name,
// then the read of the server's first bytes.
func (c *tlsCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) {
			return nil, nil, fmt.Errorf("TLS handshake with %s: the server does not speak TLS (is it plaintext? "+
				"then %s): %w", raw.RemoteAddr(), c.opts.name("WithInsecure"), err)
		}
		return nil, nil, fmt.Errorf("TLS handshake with %s (server name %q): %w", raw.RemoteAddr(), authority, err)
	}
	return firstBytes(ctx, conn, info, raw.RemoteAddr(),
		"refused the connection after the TLS handshake (is the client certificate one it trusts?)")
}

// Clone returns a copy.
func (c *tlsCreds) Clone() credentials.TransportCredentials {
	return newTLSCreds(c.TransportCredentials.Clone(), c.opts)
}

// plainCreds is plaintext that names the likely cause when a server
// closes the connection before its first bytes: a TLS port.
type plainCreds struct {
	credentials.TransportCredentials
	opts Options // names the options in messages
}

func newPlainCreds(o Options) *plainCreds { return &plainCreds{insecure.NewCredentials(), o} }

// ClientHandshake connects in plaintext; a server that closes the
// connection before sending anything is reported as likely a TLS port. (It
// cannot wait for the server's first bytes as tlsCreds does: a TLS server
// says nothing until the client speaks.)
func (c *plainCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return nil, nil, err
	}
	return &plainConn{Conn: conn, opts: c.opts}, info, nil
}

// Clone returns a copy.
func (c *plainCreds) Clone() credentials.TransportCredentials { return newPlainCreds(c.opts) }

// firstBytes waits a little for the server's first bytes on a new TLS 1.3
// connection (a gRPC server sends its settings at once) and returns the
// connection with them still to be read, or an error saying the server
// refused it. A server that says nothing within firstReadWait (one that
// waits for the client's preface) gets the connection as it is.
func firstBytes(ctx context.Context, conn net.Conn, info credentials.AuthInfo, addr net.Addr, refused string) (net.Conn, credentials.AuthInfo, error) {
	if ti, ok := info.(credentials.TLSInfo); !ok || ti.State.Version < tls.VersionTLS13 {
		return conn, info, nil // before 1.3 a client certificate is refused in the handshake
	}
	d := time.Now().Add(firstReadWait)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	_ = conn.SetReadDeadline(d)
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	_ = conn.SetReadDeadline(time.Time{})
	var ne net.Error
	if n == 0 && err != nil && !(errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil) {
		conn.Close()
		return nil, nil, fmt.Errorf("%s %s: %w", addr, refused, err)
	}
	return &readAhead{Conn: conn, buf: buf[:n]}, info, nil
}

// firstReadWait bounds the wait for a TLS server's first bytes: its
// refusal of a client certificate comes within a round trip.
const firstReadWait = time.Second

// plainConn explains a plaintext connection closed before its first byte.
type plainConn struct {
	net.Conn
	opts Options // names the options in messages
	got  bool    // some bytes came
}

func (p *plainConn) Read(b []byte) (int, error) {
	n, err := p.Conn.Read(b)
	if n > 0 {
		p.got = true
	} else if err != nil && !p.got {
		o := p.opts
		err = fmt.Errorf("%s closed a plaintext connection before it sent anything (does it serve TLS? "+
			"then give the host %s or %s, not %s): %w", p.RemoteAddr(),
			o.name("WithTLSFiles"), o.name("WithTLSConfig"), o.name("WithInsecure"), err)
	}
	return n, err
}

// readAhead is a connection whose first bytes were read already.
type readAhead struct {
	net.Conn
	buf []byte
}

func (r *readAhead) Read(p []byte) (int, error) {
	if len(r.buf) > 0 {
		n := copy(p, r.buf)
		r.buf = r.buf[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/tetherplug/tether"
)

// sniffWait bounds the wait for a server's answer to the TLS ClientHello
// of CheckPlaintextPeer.
const sniffWait = time.Second

// CheckPlaintextPeer tells, for a plaintext Transport, a server that
// speaks TLS from one that does not, on conn, a fresh connection to addr
// that the caller closes afterwards. It sends a TLS ClientHello and
// nothing else: a server that answers it with a TLS handshake or a TLS
// alert serves TLS, and plaintext calls to it would only be cut off until
// the start timeout. Then the result is a *tether.PluginError of kind
// tether.ErrTLS naming the options to give; otherwise (a plaintext server
// closes the connection or answers in HTTP/2, a silent one says nothing
// within a second) nil. A TLS Transport always gets nil.
func (tr *Transport) CheckPlaintextPeer(ctx context.Context, plugin, addr string, conn net.Conn) error {
	pc, ok := tr.creds.(*plainCreds)
	if !ok || !speaksTLS(ctx, conn) {
		return nil
	}
	o := pc.opts
	return &tether.PluginError{Plugin: plugin, Kind: tether.ErrTLS, Detail: fmt.Sprintf(
		"%s serves TLS (it answered a TLS handshake) and the host connects in plaintext: give the host %s or %s, not %s",
		addr, o.name("WithTLSFiles"), o.name("WithTLSConfig"), o.name("WithInsecure"))}
}

// speaksTLS reports whether the server on conn answers a ClientHello in
// TLS. Nothing is verified and nothing is sent after the handshake: the
// connection is only asked what it speaks.
func speaksTLS(ctx context.Context, conn net.Conn) bool {
	ctx, cancel := context.WithTimeout(ctx, sniffWait)
	defer cancel()
	err := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "tether-probe"}).HandshakeContext(ctx)
	var alert tls.AlertError
	var op *net.OpError // crypto/tls reports an alert it received so
	return err == nil || errors.As(err, &alert) || errors.As(err, &op) && op.Op == "remote error"
}

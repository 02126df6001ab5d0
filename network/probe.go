package network

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/remote"
)

// probeTimeout bounds the one connection a single-address target is
// probed with.
const probeTimeout = 2 * time.Second

// probe connects once to the one address of a tcp or unix target. When the
// connection is refused, or the Unix socket does not exist, nothing listens
// there: retrying until the start timeout would only hide the cause, so
// the load fails at once with it, of kind tether.ErrUnavailable. When the
// host connects in plaintext and the server answers a TLS handshake, the
// load fails at once too, of kind tether.ErrTLS (tr.CheckPlaintextPeer).
// Any other outcome (a connection, a timeout, an unreachable network)
// leaves the client to connect and retry as usual. Targets of several
// addresses and dns targets are not probed: some of their instances may be
// down.
func probe(ctx context.Context, name string, a address, tr *remote.Transport) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, a.network, a.addr)
	if err == nil {
		defer conn.Close()
		return tr.CheckPlaintextPeer(ctx, name, a.addr, conn)
	}
	detail := ""
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		detail = "nothing listens at " + a.addr
	case errors.Is(err, syscall.ENOENT) && a.network == "unix":
		detail = "there is no socket at " + a.addr
	default:
		return nil
	}
	return &tether.PluginError{Plugin: name, Kind: tether.ErrUnavailable, Detail: detail, Err: err}
}

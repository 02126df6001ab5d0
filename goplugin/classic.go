package goplugin

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetherplug/tether/internal/execruntime"
	gpwire "github.com/tetherplug/tether/internal/goplugin"
)

// Classic mode: each brokered connection has a listener of its own, which
// the side that accepts announces on the stream (ConnInfo without Knock);
// the other side dials the announced address.

// classicListen makes a listener for id in the plugin's private socket
// directory, a 0600 socket (loopback TCP for a plugin on TCP), and
// announces it.
func (b *GRPCBroker) classicListen(id uint32) (net.Listener, error) {
	var ln net.Listener
	var err error
	if b.env.Network == "unix" {
		b.mu.Lock()
		b.seq++
		name := fmt.Sprintf("h%d-%d.sock", id, b.seq)
		b.mu.Unlock()
		path := filepath.Join(b.env.SocketDir, name)
		if ln, err = net.Listen("unix", path); err == nil {
			// Owner-only, like the 0700 directory it is in.
			if err = os.Chmod(path, 0o600); err != nil {
				_ = ln.Close()
			}
		}
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, b.errorf(id, "could not listen: %w", err)
	}
	l := &trackedListener{Listener: ln, b: b}
	if !b.track(l) {
		_ = ln.Close()
		return nil, b.alive()
	}
	info := &gpwire.ConnInfo{ServiceID: id, Network: ln.Addr().Network(), Address: ln.Addr().String()}
	if err := b.send(info); err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
}

// trackedListener is a listener the broker closes when it ends; closing
// it first takes it off the broker's list.
type trackedListener struct {
	net.Listener
	b    *GRPCBroker
	once sync.Once
	err  error
}

func (l *trackedListener) Close() error {
	l.once.Do(func() {
		l.b.untrack(l)
		l.err = l.Listener.Close() // a Unix listener removes its socket file
	})
	return l.err
}

// deliverInfo keeps the plugin's announcement of an id for Dial, at most
// DialTimeout when nobody waits for it (go-plugin's rule).
func (b *GRPCBroker) deliverInfo(m gpwire.ConnInfo) {
	p := b.pending(m.ServiceID)
	select {
	case p.ch <- m:
	default: // an announcement for the id is already waiting: keep the first
	}
	time.AfterFunc(DialTimeout, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.infos[m.ServiceID] == p && len(p.ch) > 0 {
			delete(b.infos, m.ServiceID)
		}
	})
}

// pending is the announcement slot of id.
func (b *GRPCBroker) pending(id uint32) *pendingInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.infos[id]
	if !ok {
		p = &pendingInfo{ch: make(chan gpwire.ConnInfo, 1)}
		b.infos[id] = p
	}
	return p
}

// classicDialer waits for the plugin's announcement of id and returns a
// dialer of the announced address.
func (b *GRPCBroker) classicDialer(id uint32) (func(context.Context, string) (net.Conn, error), error) {
	p := b.pending(id)
	defer func() {
		b.mu.Lock()
		if b.infos[id] == p {
			delete(b.infos, id)
		}
		b.mu.Unlock()
	}()
	timer := time.NewTimer(DialTimeout)
	defer timer.Stop()
	var m gpwire.ConnInfo
	select {
	case m = <-p.ch:
	case <-timer.C:
		return nil, b.errorf(id, "%w: the plugin announced no listener for it within %v", ErrDialTimeout, DialTimeout)
	case <-b.done:
		return nil, b.alive()
	}
	if err := b.checkAnnounced(m); err != nil {
		return nil, b.errorf(id, "%w: %v", ErrAddressRefused, err)
	}
	return func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, m.Network, m.Address)
	}, nil
}

// checkAnnounced refuses an address the plugin announced unless it is
// loopback TCP or a Unix socket (not a link to one) directly in the
// plugin's private socket directory: the host dials only its own plugin,
// with its own certificate.
func (b *GRPCBroker) checkAnnounced(m gpwire.ConnInfo) error {
	switch m.Network {
	case "tcp":
		return execruntime.CheckLocal(m.Network, m.Address)
	case "unix":
		if b.env.SocketDir == "" || filepath.Dir(filepath.Clean(m.Address)) != filepath.Clean(b.env.SocketDir) {
			return fmt.Errorf("the Unix socket %q is not in the plugin's directory %s", m.Address, b.env.SocketDir)
		}
		fi, err := os.Lstat(m.Address)
		if err != nil {
			return fmt.Errorf("the Unix socket %q: %w", m.Address, err)
		}
		if fi.Mode().Type() != os.ModeSocket {
			return fmt.Errorf("%q is not a Unix socket (%v)", m.Address, fi.Mode().Type())
		}
		return nil
	default:
		return fmt.Errorf("network %q at %q is neither unix nor tcp", m.Network, m.Address)
	}
}

package netguard

import (
	"container/list"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// Guard admits a server's connections within its Limits. Wrap the
// server's listener with Listener and give the server ServerOptions.
type Guard struct {
	limits      Limits
	log         *rateLog
	userTimeout time.Duration // TCP_USER_TIMEOUT of its connections, if any

	mu      sync.Mutex
	pending *list.List // of *conn not yet through the handshake, oldest first
	perPeer map[string]int
	total   int
}

// New returns a guard for l (zero fields take their defaults) logging to
// log at most once per interval for each kind of event.
func New(l Limits, log *slog.Logger) *Guard {
	return &Guard{limits: l.withDefaults(), log: newRateLog(log), pending: list.New(), perPeer: map[string]int{}}
}

// Listener wraps lis: each connection it accepts is admitted by the guard
// or closed at once, and its failures to accept are logged.
func (g *Guard) Listener(lis net.Listener) net.Listener { return &listener{Listener: lis, g: g} }

// counts are the connections a guard holds: in all, and those still in
// their handshake.
func (g *Guard) counts() (total, pending int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total, g.pending.Len()
}

type listener struct {
	net.Listener
	g *Guard
}

// Accept returns the next connection the guard admits. A failure is logged
// (but the listener's close) and returned as it is, for the server to back
// off and try again.
func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil, err // the server stops
		}
		if err != nil {
			l.g.log.log(slog.LevelError, "accepting a connection failed; new hosts wait until it succeeds", "error", err.Error())
			return nil, err
		}
		if l.g.userTimeout > 0 {
			setUserTimeout(c, l.g.userTimeout)
		}
		if gc := l.g.admit(c); gc != nil {
			return gc, nil
		}
	}
}

// conn is an admitted connection; Close releases its place.
type conn struct {
	net.Conn
	g        *Guard
	peer     string
	pending  *list.Element // nil once through the handshake
	released bool
	once     sync.Once
}

// Close closes the connection and gives its place back.
func (c *conn) Close() error {
	c.g.mu.Lock()
	c.g.release(c)
	c.g.mu.Unlock()
	var err error
	c.once.Do(func() { err = c.Conn.Close() })
	return err
}

// admit counts c in, making room by closing the oldest pending connection
// where a limit is reached, or closes c when none can make room.
func (g *Guard) admit(c net.Conn) *conn {
	peer := peerOf(c.RemoteAddr())
	var evicted []*conn
	var gc *conn
	g.mu.Lock()
	refuse := g.refusal(peer)
	if refuse == "" {
		if g.perPeer[peer] >= g.limits.MaxConnsPerPeer {
			evicted = append(evicted, g.evict(peer))
		}
		if g.total >= g.limits.MaxConns || g.pending.Len() >= g.limits.MaxPending {
			evicted = append(evicted, g.evict(""))
		}
		gc = &conn{Conn: c, g: g, peer: peer}
		gc.pending = g.pending.PushBack(gc)
		g.perPeer[peer]++
		g.total++
	}
	g.mu.Unlock()

	for _, v := range evicted {
		if v != nil {
			v.once.Do(func() { _ = v.Conn.Close() })
			g.log.log(slog.LevelWarn, "closed a connection that had not finished its handshake, to make room", "peer", v.peer, "max_pending", g.limits.MaxPending)
		}
	}
	if refuse != "" {
		_ = c.Close()
		g.log.log(slog.LevelWarn, refuse, "peer", peer, "max_conns", g.limits.MaxConns, "max_conns_per_peer", g.limits.MaxConnsPerPeer)
	}
	return gc
}

// refusal is why a new connection of peer cannot be admitted (a limit is
// reached and no pending connection can make room), or "". g.mu is held.
func (g *Guard) refusal(peer string) string {
	switch {
	case g.perPeer[peer] >= g.limits.MaxConnsPerPeer && g.oldestPending(peer) == nil:
		return "refused a connection: too many from its address"
	case g.total >= g.limits.MaxConns && g.pending.Len() == 0:
		return "refused a connection: too many connections"
	}
	return ""
}

// oldestPending is the oldest pending connection (of peer, unless peer is
// empty), or nil. g.mu is held.
func (g *Guard) oldestPending(peer string) *conn {
	for e := g.pending.Front(); e != nil; e = e.Next() {
		if c := e.Value.(*conn); peer == "" || c.peer == peer {
			return c
		}
	}
	return nil
}

// evict releases the oldest pending connection (of peer, unless peer is
// empty) and returns it for the caller to close, or nil. g.mu is held.
func (g *Guard) evict(peer string) *conn {
	c := g.oldestPending(peer)
	if c != nil {
		g.release(c)
	}
	return c
}

// release gives c's place back, once. g.mu is held.
func (g *Guard) release(c *conn) {
	if c.released {
		return
	}
	c.released = true
	if c.pending != nil {
		g.pending.Remove(c.pending)
		c.pending = nil
	}
	if g.perPeer[c.peer]--; g.perPeer[c.peer] <= 0 {
		delete(g.perPeer, c.peer)
	}
	g.total--
}

// established marks c through its handshake and HTTP/2 preface: no longer
// pending, so no longer closed to make room.
func (g *Guard) established(c *conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.pending != nil {
		g.pending.Remove(c.pending)
		c.pending = nil
	}
}

// peerOf is the IP address of a remote address, or all of it.
func peerOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// credentials wraps transport credentials so that the guard learns when
// a connection is through its handshake.
func (g *Guard) credentials(c credentials.TransportCredentials) credentials.TransportCredentials {
	return &guardedCreds{TransportCredentials: c}
}

type guardedCreds struct {
	credentials.TransportCredentials
}

// ServerHandshake runs the handshake and returns the secured connection
// watched for the HTTP/2 preface, which ends the connection's pending time.
func (gc *guardedCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, info, err := gc.TransportCredentials.ServerHandshake(raw)
	if own, ok := raw.(*conn); ok && err == nil {
		c = &prefaceConn{Conn: c, own: own, left: prefaceLen}
	}
	return c, info, err
}

// Clone clones the wrapped credentials.
func (gc *guardedCreds) Clone() credentials.TransportCredentials {
	return &guardedCreds{TransportCredentials: gc.TransportCredentials.Clone()}
}

// prefaceLen is the length of the HTTP/2 client preface
// ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), which gRPC reads first and checks.
const prefaceLen = 24

// prefaceConn is a secured connection that marks its guarded connection
// established once the preface is read (gRPC closes a connection whose
// preface is wrong). Only gRPC's one reader calls Read.
type prefaceConn struct {
	net.Conn
	own  *conn
	left int
}

func (p *prefaceConn) Read(b []byte) (int, error) {
	n, err := p.Conn.Read(b)
	if p.left > 0 {
		if p.left -= n; p.left <= 0 {
			p.own.g.established(p.own)
		}
	}
	return n, err
}

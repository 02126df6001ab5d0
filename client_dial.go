package tether

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// One Client connection reaches endpoints of different networks with
// different credentials (each launched process has its own one-time
// certificate), so both are chosen per address: the address string is
// "NETWORK:ADDRESS", and its attributes carry the endpoint's credentials.

// dialEndpoint dials an address of the form "unix:/path" or "tcp:host:port",
// and records in p how far the connection gets.
// An endpoint with a Dial of its own is dialled with it.
func (p *dialProgress) dialEndpoint(ctx context.Context, addr string) (net.Conn, error) {
	network, address, ok := strings.Cut(addr, ":")
	if !ok {
		return nil, fmt.Errorf("tether: bad endpoint address %q", addr)
	}
	var conn net.Conn
	var err error
	if dial := p.dialer(addr); dial != nil {
		conn, err = dial(ctx)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, network, address)
	}
	if err != nil {
		return nil, err
	}
	// The connection is returned as it is, not wrapped: gRPC sets
	// TCP_USER_TIMEOUT (from keepalive) only on a *net.TCPConn.
	p.set(addr, stageConnected)
	return conn, nil
}

// dialStage is how far a connection to an endpoint got.
type dialStage int32

const (
	stageNone      dialStage = iota
	stageConnected           // the endpoint accepted it (TCP or Unix socket)
	stageSecured             // its TLS handshake completed (or it is plaintext)
	stageSpoke               // the endpoint sent its first bytes of HTTP/2 after that
)

// dialProgress records how far the latest connection to each endpoint got,
// so that a start that times out can say where it stuck: no TLS handshake,
// or no HTTP/2 settings from a server that accepts connections and never
// speaks.
type dialProgress struct {
	mu      sync.Mutex
	stages  map[string]dialStage
	secure  map[string]bool                                    // the endpoint's connection uses TLS
	dialers map[string]func(context.Context) (net.Conn, error) // the current endpoints' Dial, by key
}

// setDialers records the Dial of those of eps, the runtime's current
// endpoints, that have one.
func (p *dialProgress) setDialers(eps []Endpoint) {
	m := map[string]func(context.Context) (net.Conn, error){}
	for _, ep := range eps {
		if ep.Dial != nil {
			m[ep.key()] = ep.Dial
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dialers = m
}

// dialer is the Dial of the endpoint of key, nil when it has none.
func (p *dialProgress) dialer(key string) func(context.Context) (net.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dialers[key]
}

func (p *dialProgress) set(key string, s dialStage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.initLocked()
	p.stages[key] = s
}

func (p *dialProgress) setSecure(key string, secure bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.initLocked()
	p.secure[key] = secure
}

func (p *dialProgress) initLocked() {
	if p.stages == nil {
		p.stages, p.secure = map[string]dialStage{}, map[string]bool{}
	}
}

// stuck says where the connections of endpoints that were reached but
// never spoke stopped, one clause per endpoint, or "" when none did.
func (p *dialProgress) stuck() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var why []string
	for _, key := range slices.Sorted(maps.Keys(p.stages)) {
		_, addr, _ := strings.Cut(key, ":")
		switch {
		case p.stages[key] == stageConnected && p.secure[key]:
			why = append(why, addr+" accepted the connection but did not complete the TLS handshake")
		case p.stages[key] == stageSecured && p.secure[key]:
			why = append(why, addr+" completed the TLS handshake but sent no HTTP/2 settings (is it a gRPC server?)")
		case p.stages[key] == stageSecured:
			why = append(why, addr+" accepted the connection but sent no HTTP/2 settings (is it a gRPC server?)")
		}
	}
	return strings.Join(why, "; ")
}

// spokeConn is a secured connection that records the endpoint's first
// bytes: the server's HTTP/2 settings. Only gRPC's one reader calls Read.
type spokeConn struct {
	net.Conn
	key   string
	p     *dialProgress
	spoke bool
}

func (c *spokeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.spoke {
		c.spoke = true
		c.p.set(c.key, stageSpoke)
	}
	return n, err
}

type credsKey struct{}

// endpointCreds holds one endpoint's credentials (nil means plaintext)
// and its address key in address attributes. It is comparable, as
// attributes need.
type endpointCreds struct {
	creds credentials.TransportCredentials
	key   string
}

// Equal makes attributes compare endpoints' credentials by identity.
func (e endpointCreds) Equal(o any) bool {
	oe, ok := o.(endpointCreds)
	return ok && oe.creds == e.creds && oe.key == e.key
}

// perEndpointCreds is the connection's transport credentials: it hands
// each handshake to the credentials of the endpoint being dialled, and
// records how far it got in progress.
type perEndpointCreds struct{ progress *dialProgress }

var plaintext = insecure.NewCredentials()

// endpointOf is the credentials and key of the endpoint being dialled.
func endpointOf(ctx context.Context) endpointCreds {
	info := credentials.ClientHandshakeInfoFromContext(ctx)
	ec, _ := info.Attributes.Value(credsKey{}).(endpointCreds)
	if ec.creds == nil {
		ec.creds = plaintext
	}
	return ec
}

func (p perEndpointCreds) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	ep := endpointOf(ctx)
	p.progress.setSecure(ep.key, ep.creds.Info().SecurityProtocol != plaintext.Info().SecurityProtocol)
	secured, info, err := ep.creds.ClientHandshake(ctx, authority, conn)
	if err != nil {
		return nil, nil, err
	}
	p.progress.set(ep.key, stageSecured)
	return &spokeConn{Conn: secured, key: ep.key, p: p.progress}, info, nil
}

func (perEndpointCreds) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, fmt.Errorf("tether: host-side credentials cannot serve")
}

func (perEndpointCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tether-endpoint"}
}

func (p perEndpointCreds) Clone() credentials.TransportCredentials { return p }

func (perEndpointCreds) OverrideServerName(string) error { return nil }

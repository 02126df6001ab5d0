package tether

import (
	"context"
	"fmt"
	"net"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// One Client connection reaches endpoints of different networks with
// different credentials (each launched process has its own one-time
// certificate), so both are chosen per address: the address string is
// "NETWORK:ADDRESS", and its attributes carry the endpoint's credentials.

// dialEndpoint dials an address of the form "unix:/path" or "tcp:host:port".
func dialEndpoint(ctx context.Context, addr string) (net.Conn, error) {
	network, address, ok := strings.Cut(addr, ":")
	if !ok {
		return nil, fmt.Errorf("tether: bad endpoint address %q", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

type credsKey struct{}

// endpointCreds holds one endpoint's credentials in address attributes;
// nil means plaintext. It is comparable, as attributes need.
type endpointCreds struct {
	creds credentials.TransportCredentials
}

// Equal makes attributes compare endpoints' credentials by identity.
func (e endpointCreds) Equal(o any) bool {
	oe, ok := o.(endpointCreds)
	return ok && oe.creds == e.creds
}

// perEndpointCreds is the connection's transport credentials: it hands
// each handshake to the credentials of the endpoint being dialled.
type perEndpointCreds struct{}

var plaintext = insecure.NewCredentials()

func credsFor(ctx context.Context) credentials.TransportCredentials {
	info := credentials.ClientHandshakeInfoFromContext(ctx)
	if info.Attributes != nil {
		if ec, ok := info.Attributes.Value(credsKey{}).(endpointCreds); ok && ec.creds != nil {
			return ec.creds
		}
	}
	return plaintext
}

func (perEndpointCreds) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return credsFor(ctx).ClientHandshake(ctx, authority, conn)
}

func (perEndpointCreds) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, fmt.Errorf("tether: host-side credentials cannot serve")
}

func (perEndpointCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tether-endpoint"}
}

func (perEndpointCreds) Clone() credentials.TransportCredentials { return perEndpointCreds{} }

func (perEndpointCreds) OverrideServerName(string) error { return nil }

package network

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/tetherplug/tether"
)

// address is one host:port (or socket path) a target names.
type address struct {
	network string // "tcp" or "unix"
	host    string // the host part, for the TLS server name; "" for unix
	addr    string // host:port, or the socket path
}

// badTarget is the error of a target this runtime cannot use as given.
func badTarget(t tether.Target, detail string, err error) *tether.PluginError {
	return &tether.PluginError{Plugin: t.Raw, Kind: tether.ErrBadTarget, Detail: detail, Err: err}
}

// rest returns what follows "scheme://" in the raw target: the authority,
// then the path.
func rest(t tether.Target) (authority, path string) {
	_, r, _ := strings.Cut(t.Raw, "://")
	if i := strings.IndexAny(r, "/?#"); i >= 0 {
		return r[:i], r[i:]
	}
	return r, ""
}

// parseTCP parses tcp://h1:7000,h2:7000 into its addresses.
func parseTCP(t tether.Target) ([]address, error) {
	auth, path := rest(t)
	if path != "" && path != "/" {
		return nil, badTarget(t, "a tcp target is tcp://host:port[,host:port...] with no path", nil)
	}
	if auth == "" {
		return nil, badTarget(t, "a tcp target names at least one host:port, as in tcp://10.0.0.7:7000", nil)
	}
	var out []address
	seen := map[string]bool{}
	for part := range strings.SplitSeq(auth, ",") {
		host, err := hostPort(part)
		if err != nil {
			return nil, badTarget(t, fmt.Sprintf("address %q: %v", part, err), nil)
		}
		a := address{network: "tcp", host: host, addr: part}
		if !seen[a.addr] {
			seen[a.addr] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// hostPort checks one host:port and returns its host.
func hostPort(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("it is empty")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("it is not host:port (an IPv6 host goes in brackets, as in [::1]:7000)")
	}
	if host == "" {
		return "", fmt.Errorf("it has no host")
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return "", fmt.Errorf("%q is not an IPv6 address", host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return host, nil
}

// parseUnix parses unix:///abs/path.sock.
func parseUnix(t tether.Target) ([]address, error) {
	auth, path := rest(t)
	if auth != "" || !strings.HasPrefix(path, "/") || path == "/" {
		return nil, badTarget(t, "a unix target is unix:///absolute/path/to/socket", nil)
	}
	return []address{{network: "unix", addr: path}}, nil
}

// parseDNS parses dns:///name:port into the name and port to resolve.
func parseDNS(t tether.Target) (name, port string, err error) {
	auth, path := rest(t)
	if auth != "" {
		return "", "", badTarget(t, "a dns target is dns:///name:port; a DNS server authority is not supported", nil)
	}
	hp := strings.TrimPrefix(path, "/")
	if hp == "" || strings.Contains(hp, "/") {
		return "", "", badTarget(t, "a dns target is dns:///name:port, as in dns:///plugins.internal:7000", nil)
	}
	host, err := hostPort(hp)
	if err != nil {
		return "", "", badTarget(t, fmt.Sprintf("%q: %v", hp, err), nil)
	}
	_, port, _ = net.SplitHostPort(hp)
	return host, port, nil
}

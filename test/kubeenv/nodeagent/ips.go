package nodeagent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// ErrNoPodIP is returned when every address of the pod range is taken.
var ErrNoPodIP = errors.New("nodeagent: no free pod IP")

// ipPool hands out loopback addresses. Each address taken is also held with flock(2) on a file
// in the system temporary directory, so agents in other processes skip it.
type ipPool struct {
	first, last netip.Addr
	lockDir     string

	mu    sync.Mutex
	taken map[netip.Addr]*os.File
}

// Pod address ranges: the default, made local with a route, and the fallback when it cannot be.
var (
	defaultPodIPs  = netip.MustParsePrefix("198.51.100.0/24")
	fallbackPodIPs = netip.MustParsePrefix("127.0.0.0/24")
)

// podIPRange checks or chooses the pod address range and makes it local to this machine.
func podIPRange(p netip.Prefix, log *slog.Logger) (netip.Prefix, error) {
	if !p.IsValid() {
		if err := addLocalRoute(defaultPodIPs); err != nil {
			log.Warn("pod IPs fall back to loopback addresses, which EndpointSlices reject",
				"range", fallbackPodIPs, "cause", err)
			return fallbackPodIPs, nil
		}
		return defaultPodIPs, nil
	}
	p = p.Masked()
	a := p.Addr()
	if !a.Is4() || p.Bits() < 8 || p.Bits() > 30 || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return p, fmt.Errorf("%w: PodIPs %s is not an IPv4 unicast range of 4 to 2^24 addresses", ErrOptions, p)
	}
	if !a.IsLoopback() {
		if err := addLocalRoute(p); err != nil {
			return p, fmt.Errorf("%w: PodIPs %s cannot be made local (needs CAP_NET_ADMIN): %w", ErrOptions, p, err)
		}
	}
	return p, nil
}

func newIPPool(p netip.Prefix) (*ipPool, error) {
	first := p.Addr().Next().Next() // skip the network address and .1, the node's
	last := first
	for n := last.Next(); p.Contains(n) && p.Contains(n.Next()); n = n.Next() {
		last = n // stop before the broadcast address
	}
	dir := filepath.Join(os.TempDir(), "tether-nodeagent-ips")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("nodeagent: pod IP locks: %w", err)
	}
	return &ipPool{first: first, last: last, lockDir: dir, taken: map[netip.Addr]*os.File{}}, nil
}

// size is how many addresses the pool has.
func (p *ipPool) size() int {
	a, b := p.first.As4(), p.last.As4()
	n := func(x [4]byte) int { return int(x[1])<<16 | int(x[2])<<8 | int(x[3]) }
	return n(b) - n(a) + 1
}

// get takes the lowest free address.
func (p *ipPool) get() (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a := p.first; a.Compare(p.last) <= 0; a = a.Next() {
		if p.taken[a] != nil {
			continue
		}
		f, err := os.OpenFile(filepath.Join(p.lockDir, a.String()), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("nodeagent: pod IP lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue // another agent holds it
		}
		p.taken[a] = f
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("%w in %s-%s", ErrNoPodIP, p.first, p.last)
}

// put gives an address back.
func (p *ipPool) put(a netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.taken[a]; f != nil {
		f.Close() // releases the flock
		delete(p.taken, a)
	}
}

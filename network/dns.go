package network

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"time"
)

// resolveTimeout bounds one re-resolution of a dns target.
const resolveTimeout = 10 * time.Second

// resolve looks the target's name up and returns its addresses, sorted and
// without duplicates; an empty answer is an error.
func (r *runtime) resolve(ctx context.Context) ([]address, error) {
	hosts, err := lookupHost(ctx, r.name)
	if err != nil {
		return nil, err
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	if len(hosts) == 0 {
		return nil, errors.New("the name resolved to no address")
	}
	out := make([]address, 0, len(hosts))
	for _, h := range hosts {
		h, _, _ = strings.Cut(h, "%") // a zone is no part of a TLS name
		out = append(out, address{network: "tcp", host: r.name, addr: net.JoinHostPort(h, r.port)})
	}
	return out, nil
}

// reresolve resolves the name every interval until Close, and reports the
// new set when it changed. A failed or empty lookup keeps the last set.
func (r *runtime) reresolve(interval time.Duration) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
		go func() {
			select {
			case <-r.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		addrs, err := r.resolve(ctx)
		cancel()
		select {
		case <-r.stop:
			return // nothing more is reported after Close
		default:
		}
		if err != nil {
			r.log.Warn("could not resolve the plugin's name; keeping its last known addresses",
				"name", r.name, "error", err, "addresses", len(r.last))
			continue
		}
		if !sameAddrs(addrs, r.last) {
			r.last = addrs
			r.env.Endpoints.UpdateEndpoints(r.endpoints(addrs))
		}
	}
}

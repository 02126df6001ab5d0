package tether

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/wire"
)

// described is what one instance said of itself.
type described struct {
	resp     *tetherv1.DescribeResponse // nil for a go-plugin plugin
	protocol int
	// proxied: a go-plugin plugin behind tether serve, which answered
	// Describe for it (FeatureGoPlugin). It has no stdio stream for us.
	proxied bool
}

// describeInstance asks the instance behind ctx's pinned endpoint what it
// serves, and checks that it fits: the first instance fixes the versions
// of the interfaces (the highest each side shares); a later one must serve
// the same versions. The returned error says which interface does not fit
// and why.
func (c *Client) describeInstance(ctx context.Context, ep Endpoint) (described, error) {
	var resp *tetherv1.DescribeResponse
	var err error
	if len(ep.Describe) > 0 {
		resp = &tetherv1.DescribeResponse{}
		if uerr := proto.Unmarshal(ep.Describe, resp); uerr != nil {
			return described{}, &PluginError{Plugin: c.name, Kind: ErrNotPlugin, Detail: "its Describe answer is not a tether.v1.DescribeResponse", Err: uerr}
		}
	} else {
		resp, err = tetherv1.NewPluginClient(c.conn).Describe(ctx, &tetherv1.DescribeRequest{}, grpc.WaitForReady(true))
	}
	d := described{resp: resp, protocol: ep.ProtocolVersion}
	switch status.Code(err) {
	case codes.OK:
		if d.protocol == 0 {
			vs := make([]int, len(resp.ProtocolVersions))
			for i, v := range resp.ProtocolVersions {
				vs[i] = int(v)
			}
			if d.protocol = wire.HighestShared(c.opts.protocolVersions, vs); d.protocol == 0 {
				return d, &VersionError{Plugin: c.name, HostVersions: c.opts.protocolVersions, PluginVersions: vs}
			}
		}
		if slices.Contains(resp.GetFeatures(), FeatureGoPlugin) {
			// A proxy answered for a go-plugin plugin, from its handshake:
			// the one protocol version stands for every interface.
			d.resp, d.proxied = nil, true
			if err := c.goPluginFits(); err != nil {
				return d, err
			}
		}
	case codes.Unimplemented:
		// A go-plugin plugin: it knows only the global protocol version,
		// which stands for the version of every interface.
		d.resp = nil
		if d.protocol == 0 {
			return d, &PluginError{Plugin: c.name, Kind: ErrNotPlugin,
				Detail: "it serves no tether.v1.Plugin/Describe, and its runtime knows no protocol version for it"}
		}
		if err := c.goPluginFits(); err != nil {
			return d, err
		}
	default:
		e := &PluginError{Plugin: c.name, Kind: ErrNotPlugin, Detail: "it accepted no gRPC connection", Err: err}
		if ctx.Err() != nil {
			e.Kind, e.Detail, e.Err = ErrStartTimeout, "it accepted no gRPC connection in time", c.admission.lastError()
		}
		return d, e
	}
	if d.resp != nil && len(c.opts.callbacks) > 0 && !slices.Contains(d.resp.GetFeatures(), FeatureCallbacks) {
		return d, &PluginError{Plugin: c.name, Kind: ErrNotImplemented,
			Detail: "the host provides callbacks but the plugin does not serve tether.v1.Callbacks"}
	}
	c.fitMu.Lock()
	defer c.fitMu.Unlock()
	if c.chosen == nil {
		return d, c.negotiate(d, ep)
	}
	return d, c.fits(d)
}

// goPluginFits says why a go-plugin plugin does not fit this host: it
// serves no callbacks.
func (c *Client) goPluginFits() error {
	if len(c.opts.callbacks) > 0 {
		return &PluginError{Plugin: c.name, Kind: ErrNotImplemented,
			Detail: "the host provides callbacks but the plugin is not a tether plugin"}
	}
	return nil
}

// served lists the versions of each interface an instance serves.
func (d described) served(wants []Want) map[string][]int {
	m := map[string][]int{}
	if d.resp == nil {
		for _, w := range wants {
			m[w.Interface] = []int{d.protocol}
		}
		return m
	}
	for _, in := range d.resp.Interfaces {
		m[in.Name] = append(m[in.Name], int(in.Version))
	}
	return m
}

// negotiate picks, with the first instance, the highest version shared per
// interface asked for, and the highest served of the others.
func (c *Client) negotiate(d described, ep Endpoint) error {
	served := d.served(c.opts.wants)
	chosen := map[string]int{}
	for name, vs := range served {
		chosen[name] = slices.Max(vs)
	}
	for _, w := range c.opts.wants {
		v := wire.HighestShared(w.Versions, served[w.Interface])
		if v == 0 {
			return &VersionError{Plugin: c.name, Interface: w.Interface, HostVersions: w.Versions, PluginVersions: served[w.Interface]}
		}
		chosen[w.Interface] = v
	}
	c.chosen, c.protocol, c.describe, c.first = chosen, d.protocol, d.resp, ep
	return nil
}

// fits checks a later instance against the versions negotiated first.
func (c *Client) fits(d described) error {
	if d.protocol != c.protocol {
		return &VersionError{Plugin: c.name, HostVersions: []int{c.protocol}, PluginVersions: []int{d.protocol}}
	}
	served := d.served(c.opts.wants)
	for iface, v := range c.chosen {
		if !slices.Contains(served[iface], v) {
			return &VersionError{Plugin: c.name, Interface: iface, HostVersions: []int{v}, PluginVersions: served[iface]}
		}
	}
	return nil
}

// startInstanceExtras starts what each admitted instance gets besides
// calls: a callback tunnel when the host provides callbacks, the stdio
// stream of a go-plugin plugin (not through tether serve, which keeps it
// for its own log). They run until ctx ends.
func (c *Client) startInstanceExtras(ctx context.Context, ep Endpoint, d described) {
	if d.resp == nil {
		if !d.proxied {
			c.startStdio(ctx, ep)
		}
		return
	}
	if c.fast != nil {
		c.fast.add(ctx, ep, d.resp.GetFast())
	}
	if c.callbacks != nil {
		c.callbacks.serveInstance(ctx, c, ep.key())
	}
}

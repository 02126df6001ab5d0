package tether

import (
	"context"
	"fmt"
	"slices"

	"github.com/tetherplug/tether/internal/execruntime"
)

// ReattachConfig is what another host process needs to attach to a plugin
// this host launched and that is still running (see Client.ReattachConfig
// and Attach), in the spirit of go-plugin's ReattachConfig and Terraform's
// TF_REATTACH_PROVIDERS. It marshals to JSON with stable field names.
//
// With automatic mutual TLS it holds key material: the private key of the
// client certificate the plugin trusts, which lets whoever reads it call the
// plugin as this host. Store it readable by its owner only (WriteFile does),
// and never log it.
type ReattachConfig = execruntime.ReattachConfig

// ReattachTLS is the certificate material of a plugin launched with
// WithAutoMTLS, PEM encoded.
type ReattachTLS = execruntime.ReattachTLS

// ReattachSpool is where a plugin launched WithSpool prints, and how far
// the host that made the config had passed its output on.
type ReattachSpool = execruntime.ReattachSpool

// ReadReattachConfig reads and checks a config ReattachConfig.WriteFile
// wrote. A file that is not a valid config, or that holds a private key and
// is readable by others than its owner, is an ErrBadTarget *PluginError
// naming the cause.
func ReadReattachConfig(path string) (ReattachConfig, error) {
	cfg, err := execruntime.ReadReattachConfig(path)
	return cfg, execError(err)
}

// ReattachEndpoint is the endpoint cfg's plugin answers on, with the
// credentials its certificate material makes, for a runtime that follows a
// plugin through configs handed to it (as the run:// runtime does from the
// tether run daemon). Its Instance is nil: the runtime reports the
// plugin's end.
func ReattachEndpoint(cfg ReattachConfig) (Endpoint, error) {
	ep, err := execruntime.ReattachEndpoint(cfg)
	if err != nil {
		return Endpoint{}, execError(err)
	}
	return Endpoint{Network: ep.Network, Address: ep.Address, Creds: ep.Creds, ServerName: ep.ServerName,
		ProtocolVersion: ep.ProtocolVersion}, nil
}

// reattachDoc is the detail of ReattachConfig's errors for other runtimes.
const reattachDoc = "reattach is for local plugins this host launched (exec targets); " +
	"a network plugin is attached by its target already"

// ReattachConfig returns what another host process needs to attach to this
// plugin with Attach: its socket, versions, process id and start time, and
// with WithAutoMTLS the certificate material (which is secret; see
// ReattachConfig). The plugin's runtime must be able to say it (a Runtime
// that implements Reattacher: a local plugin this host launched or
// attached to), with one running instance.
//
// A launched plugin dies with the host that launched it, and Close or Kill
// on that host's Client stops it, whoever is attached; launch it with
// WithOutliveHost for it to survive its host's exit.
func (c *Client) ReattachConfig() (ReattachConfig, error) {
	r, ok := c.runtime.(Reattacher)
	if !ok {
		return ReattachConfig{}, &PluginError{Plugin: c.name, Kind: ErrBadTarget,
			Detail: reattachDoc + ", and this one's target is " + c.target.Raw}
	}
	return r.ReattachConfig(Negotiated{Plugin: c.name, ProtocolVersion: c.protocol, Interfaces: c.Interfaces()})
}

// Detach disconnects from the plugin and leaves it running, for a later
// host to attach to (see ReattachConfig and Attach): a plugin launched
// WithOutliveHost, or one this client attached to; in general, one whose
// Runtime implements Detacher. Detach fails, and the client stays as it
// was, for any other plugin. After Detach the client is closed: calls
// fail, and Kill and Close do nothing.
//
// A detached plugin launched by this host remains its child until the
// host exits; its stderr is still logged until then.
func (c *Client) Detach() error {
	d, ok := c.runtime.(Detacher)
	if !ok {
		return &PluginError{Plugin: c.name, Kind: ErrBadTarget,
			Detail: fmt.Sprintf("the %s runtime cannot leave its plugin running", c.target.Scheme)}
	}
	if err := d.Detach(); err != nil {
		return &PluginError{Plugin: c.name, Kind: ErrBadTarget, Detail: err.Error()}
	}
	c.closeOnce.Do(func() { c.closeErr = c.disconnect() })
	return nil
}

// Attach returns a Client of a running local plugin that another host
// launched, from the config that host's Client.ReattachConfig returned (see
// ReadReattachConfig). It is Open of a reattach:// target with the runtime
// of that config given by WithRuntime. Like Open it returns once the
// plugin has answered Describe with versions that fit the host's
// WithInterface; the plugin must also still speak the config's protocol
// version and serve its interfaces, or Attach fails with a *VersionError.
// The attaching host has a session of its own: WithCallbacks works, and
// the plugin's callbacks for this host reach this host only. Exec options
// (WithArgs, WithAutoMTLS...) are refused; WithStdout and WithStderr take
// the output of a plugin that prints to spool files.
//
// Attaching never stops or signals the plugin: not when Attach fails, and
// not on Close or Kill, which only disconnect this host. The plugin lives as
// long as its launching host lets it (see Client.ReattachConfig); when its
// process ends (when the config has its pid), the Client's Exited is closed.
//
// Errors: a config that cannot be used (no address, a protocol other than
// grpc, bad PEM) is ErrBadTarget naming the field; a plugin whose process
// is gone, or whose pid now belongs to another process (its start time
// differs), or whose socket is gone is ErrUnavailable, at once.
func Attach(ctx context.Context, cfg ReattachConfig, opts ...Option) (*Client, error) {
	if _, err := execruntime.ReattachEndpoint(cfg); err != nil {
		return nil, execError(err)
	}
	// reattach:///abs/socket/path, or reattach://127.0.0.1:PORT
	target := reattachScheme + "://" + cfg.Address
	if cfg.Plugin != "" {
		opts = append([]Option{WithName(cfg.Plugin)}, opts...)
	}
	opts = append(opts, WithRuntime(reattachBuilder{cfg}))
	c, err := Open(ctx, target, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.matchesReattach(cfg); err != nil {
		_ = c.Close() // disconnects only
		return nil, err
	}
	return c, nil
}

// matchesReattach checks that the plugin still serves what the config says
// it negotiated: otherwise another plugin answers at its address.
func (c *Client) matchesReattach(cfg ReattachConfig) error {
	if c.describe == nil {
		return nil // a go-plugin plugin: its protocol version was all there was to check
	}
	vs := make([]int, len(c.describe.ProtocolVersions))
	for i, v := range c.describe.ProtocolVersions {
		vs[i] = int(v)
	}
	if !slices.Contains(vs, cfg.ProtocolVersion) {
		return &VersionError{Plugin: c.name, HostVersions: []int{cfg.ProtocolVersion}, PluginVersions: vs}
	}
	served := described{resp: c.describe}.served(nil)
	for iface, v := range cfg.Interfaces {
		if !slices.Contains(served[iface], v) {
			return &VersionError{Plugin: c.name, Interface: iface, HostVersions: []int{v}, PluginVersions: served[iface]}
		}
	}
	return nil
}

// reattachBuilder is the runtime of one attached plugin, given to Open by
// Attach: it reports the config's endpoint, watches its process, and never
// stops it.
type reattachBuilder struct{ cfg ReattachConfig }

func (reattachBuilder) Scheme() string { return reattachScheme }

func (b reattachBuilder) Build(_ context.Context, _ Target, env RuntimeEnv) (Runtime, error) {
	var out execruntime.Config
	ApplyRuntimeOptions(env, &out)
	rt, err := execruntime.Attach(execEnv(env), b.cfg, out)
	if err != nil {
		return nil, execError(err)
	}
	return reattachRuntime{rt}, nil
}

// reattachRuntime is an attached plugin's Runtime: Close and Detach only
// disconnect.
type reattachRuntime struct{ rt *execruntime.AttachedRuntime }

func (r reattachRuntime) Close(context.Context, func(context.Context, Endpoint) error) error {
	return r.rt.Close()
}

func (r reattachRuntime) Detach() error { return r.rt.Close() }

func (r reattachRuntime) ReattachConfig(Negotiated) (ReattachConfig, error) {
	return r.rt.ReattachConfig(), nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/dynamic"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/kube"
)

func init() { register(newInspectCmd) }

func newInspectCmd() *cobra.Command {
	var flags pluginFlags
	var protos protoFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect TARGET [SYMBOL] [flags] [-- PLUGIN-ARGS...]",
		Short: "Load a plugin and show its handshake, health, interfaces and gRPC services",
		Long: `Inspect loads the plugin TARGET names, a tether or go-plugin gRPC plugin, and
shows what its handshake said, the protocol version negotiated, its health,
the interfaces it describes (tether plugins) and every gRPC service and method
it serves, found through server reflection: the plugin's own services first,
then tether's and gRPC's (tether.v1.*, grpc.health.*, grpc.reflection.*,
plugin.GRPC*). Then it stops the plugin. For a plugin that serves no
reflection, --proto names its .proto files (found in the --import-path
directories, by default the current directory and each file's own) or
--protoset its compiled descriptor sets; the services then come from them.

With SYMBOL, a method (pkg.Service/Method, Service/Method or a bare method
name, as call takes it), a service or a message type, inspect shows that
instead: a method's request and response types with their fields and a JSON
template of its request, a service's methods, a message's fields.

Exit status: 0 inspected; 1 the plugin did not load; 2 a usage error (flags,
arguments, a target without the flags it needs, an unknown SYMBOL, .proto
files that do not compile).

TARGET is a path to a program (never looked up in $PATH), exec:///abs/path, a
plugin already serving on the network (tcp://host:port[,host:port...],
unix:///path.sock, dns:///name:port), or a target of another registered
runtime. PLUGIN-ARGS and --auto-mtls apply to programs only. The TLS flags
apply to network targets only: tcp and dns targets need --tls-ca (and, for
mutual TLS, --tls-cert and --tls-key), or --insecure for plaintext; unix
targets are plaintext unless given TLS flags. A network plugin is not stopped:
inspect only disconnects.

A kube://NAMESPACE/NAME target (package kube) takes the TLS flags too (all
three, or --insecure), and --kubeconfig and --context to choose the cluster;
inspect then lists every pod of the plugin with its IP, readiness, health and
the interfaces its own Describe answers.`,
		Example: `  tether inspect ./bin/plugins/greeter-en
  tether inspect exec:///opt/app/plugins/greeter-en
  tether inspect ./bin/plugins/greeter-en Greet
  tether inspect ./bin/plugins/greeter-en greeter.v1.GreetRequest
  tether inspect ./noreflect --import-path protos --proto tether/echo/v1/echo.proto
  tether inspect tcp://10.0.0.7:7000 --tls-cert pki/host-1.crt --tls-key pki/host-1.key --tls-ca pki/ca.crt
  tether inspect kube://plugins/greeter --context prod --tls-cert host.crt --tls-key host.key --tls-ca ca.crt
  tether inspect ./plugin --json --cookie APP_PLUGIN=4f0b --protocol-version 5 --protocol-version 6 -- --plugin-flag`,
		RunE: func(cmd *cobra.Command, args []string) error {
			own, pluginArgs := splitDash(cmd, args)
			if len(own) != 1 && len(own) != 2 {
				return usagef("inspect takes TARGET [SYMBOL], got %d arguments (see tether inspect --help)", len(own))
			}
			ctx, stopSignals, interrupted := onSignals(cmd.Context())
			defer stopSignals()
			ctx, cancel := context.WithTimeout(ctx, flags.timeout)
			defer cancel()
			if err := protos.load(ctx); err != nil {
				return err
			}
			c, err := flags.launch(ctx, own[0], pluginArgs)
			if err != nil {
				return interrupted(err)
			}
			defer stop(c)
			if len(own) == 2 {
				return interrupted(inspectSymbol(ctx, cmd.OutOrStdout(), c, &protos, own[1], asJSON))
			}
			info, err := inspect(ctx, own[0], c, &flags.tls, &protos)
			if err != nil {
				return interrupted(err)
			}
			if flags.kube.client != nil {
				if info.Pods, err = flags.kubePods(ctx, c.Target()); err != nil {
					return interrupted(err)
				}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return info.print(cmd.OutOrStdout())
		},
	}
	cmd.ValidArgsFunction = completeMethods(&flags, &protos) // a method is a SYMBOL
	flags.add(cmd)
	protos.add(cmd)
	usageFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// inspection is what inspect reports; its JSON form is the --json output.
type inspection struct {
	Plugin          string         `json:"plugin"`
	Pid             int            `json:"pid,omitempty"`
	Handshake       *handshakeInfo `json:"handshake,omitempty"`
	Remote          *remoteInfo    `json:"remote,omitempty"`
	ProtocolVersion int            `json:"protocol_version"`
	// Transport carries the host's calls: "fast" or "grpc".
	Transport string        `json:"transport"`
	Health    string        `json:"health"`
	Describe  *describeInfo `json:"describe,omitempty"`
	Services  []serviceInfo `json:"services"`
	// ServicesFrom says where Services come from: "reflection", "proto"
	// (--proto files) or "protoset" (--protoset files).
	ServicesFrom    string `json:"services_from"`
	ReflectionError string `json:"reflection_error,omitempty"`
	// Pods are a kube target's pods, each described on its own.
	Pods []kube.Pod `json:"pods,omitempty"`
}

type handshakeInfo struct {
	CoreVersion int    `json:"core_version"`
	AppVersion  int    `json:"app_version"`
	Network     string `json:"network"`
	Address     string `json:"address"`
	Protocol    string `json:"protocol"`
	TLS         bool   `json:"tls"`
}

// remoteInfo describes a plugin served on the network, which printed no
// handshake line: the addresses the client connects to.
type remoteInfo struct {
	Addresses []string `json:"addresses"`
	TLS       bool     `json:"tls"`
	// ClientCert: the host presented a client certificate (mutual TLS).
	ClientCert bool `json:"client_cert"`
}

type describeInfo struct {
	Name             string          `json:"name,omitempty"`
	ProtocolVersions []uint32        `json:"protocol_versions"`
	TetherProtocol   uint32          `json:"tether_protocol"`
	Interfaces       []interfaceInfo `json:"interfaces"`
	// Fast is the fast local transport the plugin offers, if any.
	Fast *fastInfo `json:"fast,omitempty"`
}

// fastInfo is where a plugin serves the fast local transport.
type fastInfo struct {
	Network string `json:"network"`
	Address string `json:"address"`
	Version uint32 `json:"version"`
	TLS     bool   `json:"tls"`
}

type interfaceInfo struct {
	Name     string   `json:"name"`
	Version  uint32   `json:"version"`
	Services []string `json:"services"`
}

type serviceInfo struct {
	Name string `json:"name"`
	// Builtin: one of tether's or gRPC's own services, not the plugin's.
	Builtin bool         `json:"builtin,omitempty"`
	Methods []methodInfo `json:"methods"`
}

type methodInfo struct {
	Name     string       `json:"name"`
	Kind     dynamic.Kind `json:"kind"`
	Request  string       `json:"request"`
	Response string       `json:"response"`
}

// inspect asks a loaded plugin everything inspect shows; tf are the TLS
// flags a network target was loaded with, pf where its services are
// learnt.
func inspect(ctx context.Context, target string, c *tether.Client, tf *tlsFlags, pf *protoFlags) (*inspection, error) {
	info := &inspection{Plugin: target, Pid: c.Pid(), ProtocolVersion: c.ProtocolVersion(), Transport: string(c.Transport())}
	if hl := c.Handshake(); hl.CoreVersion != 0 {
		info.Handshake = &handshakeInfo{CoreVersion: hl.CoreVersion, AppVersion: hl.AppVersion, Network: hl.Network,
			Address: hl.Address, Protocol: hl.Protocol, TLS: len(hl.ServerCert) > 0}
	} else {
		info.Remote = &remoteInfo{Addresses: []string{}, TLS: tf.secure(c.Target()), ClientCert: tf.cert != ""}
		for _, in := range c.Instances() {
			info.Remote.Addresses = append(info.Remote.Addresses, in.Network+" "+in.Address)
		}
	}
	conn := c.Conn()
	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: tether.HealthService})
	if err != nil {
		info.Health = "UNKNOWN (" + status.Convert(err).Message() + ")"
	} else {
		info.Health = health.GetStatus().String()
	}

	desc, err := tetherv1.NewPluginClient(conn).Describe(ctx, &tetherv1.DescribeRequest{})
	switch {
	case err == nil:
		d := &describeInfo{Name: desc.GetName(), ProtocolVersions: desc.GetProtocolVersions(), TetherProtocol: desc.GetTetherProtocol()}
		if f := desc.GetFast(); f != nil {
			d.Fast = &fastInfo{Network: f.GetNetwork(), Address: f.GetAddress(), Version: f.GetVersion(), TLS: f.GetTls()}
		}
		for _, in := range desc.GetInterfaces() {
			ii := interfaceInfo{Name: in.GetName(), Version: in.GetVersion(), Services: []string{}}
			for _, s := range in.GetServices() {
				ii.Services = append(ii.Services, s.GetName())
			}
			d.Interfaces = append(d.Interfaces, ii)
		}
		info.Describe = d
	case status.Code(err) == codes.Unimplemented: // a go-plugin plugin
	default:
		return nil, statusExit(fmt.Errorf("describe: %w", err), err)
	}

	info.ServicesFrom = pf.servicesFrom()
	rc, err := pf.source(ctx, conn)
	if err != nil {
		info.ReflectionError = err.Error()
		info.Services = []serviceInfo{}
		return info, nil
	}
	defer rc.Close()
	for _, name := range pluginFirst(rc.Services()) {
		sd, err := rc.Service(name)
		if err != nil {
			return nil, err
		}
		si := serviceInfo{Name: name, Builtin: builtin(name), Methods: []methodInfo{}}
		for i := 0; i < sd.Methods().Len(); i++ {
			md := sd.Methods().Get(i)
			si.Methods = append(si.Methods, methodInfo{Name: string(md.Name()), Kind: dynamic.KindOf(md),
				Request: string(md.Input().FullName()), Response: string(md.Output().FullName())})
		}
		info.Services = append(info.Services, si)
	}
	return info, nil
}

// transportLine says which transport carries the calls, and where.
func (info *inspection) transportLine() string {
	d := info.Describe
	switch {
	case info.Transport == string(tether.TransportFast) && d != nil && d.Fast != nil:
		return fmt.Sprintf("fast (%s %s, %s)", d.Fast.Network, d.Fast.Address, security(d.Fast.TLS, true))
	case d != nil && d.Fast != nil:
		return "grpc (the plugin offers the fast transport, which this host does not use: see its log)"
	}
	return info.Transport
}

func security(tls, mutual bool) string {
	switch {
	case tls && mutual:
		return "mutual TLS"
	case tls:
		return "TLS without a client certificate"
	}
	return "plaintext"
}

// print writes the human form of an inspection.
func (info *inspection) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "plugin:\t%s\n", info.Plugin)
	if h := info.Handshake; h != nil {
		fmt.Fprintf(tw, "pid:\t%d\n", info.Pid)
		fmt.Fprintf(tw, "handshake:\tcore %d, app %d, %s %s, %s, %s\n", h.CoreVersion, h.AppVersion, h.Network, h.Address, h.Protocol, security(h.TLS, true))
	}
	if r := info.Remote; r != nil {
		fmt.Fprintf(tw, "addresses:\t%s, %s\n", strings.Join(r.Addresses, ", "), security(r.TLS, r.ClientCert))
	}
	fmt.Fprintf(tw, "protocol version:\t%d\n", info.ProtocolVersion)
	fmt.Fprintf(tw, "transport:\t%s\n", info.transportLine())
	fmt.Fprintf(tw, "health:\t%s\n", info.Health)
	if d := info.Describe; d != nil {
		if d.Name != "" {
			fmt.Fprintf(tw, "name:\t%s\n", d.Name)
		}
		fmt.Fprintf(tw, "tether protocol:\t%d\n", d.TetherProtocol)
		ifaces := make([]string, len(d.Interfaces))
		for i, in := range d.Interfaces {
			ifaces[i] = fmt.Sprintf("%s v%d (%s)", in.Name, in.Version, strings.Join(in.Services, ", "))
		}
		fmt.Fprintf(tw, "interfaces:\t%s\n", strings.Join(ifaces, "; "))
	} else {
		fmt.Fprintf(tw, "interfaces:\t(not described: not a tether plugin)\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if info.Pods != nil {
		if err := printPods(w, info.Pods); err != nil {
			return err
		}
	}
	if info.ReflectionError != "" {
		_, err := fmt.Fprintf(w, "services: unknown: %s\n", info.ReflectionError)
		return err
	}
	switch info.ServicesFrom {
	case "proto", "protoset":
		fmt.Fprintf(w, "services (from the --%s files):\n", info.ServicesFrom)
	default:
		fmt.Fprintln(w, "services:")
	}
	heading := false
	for _, s := range info.Services {
		if s.Builtin && !heading {
			fmt.Fprintln(w, "tether and gRPC services:")
			heading = true
		}
		fmt.Fprintf(w, "  %s\n", s.Name)
		for _, m := range s.Methods {
			fmt.Fprintf(tw, "    %s(%s) returns (%s)\t%s\n", m.Name, m.Request, m.Response, m.Kind)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/dynamic"
	"github.com/tetherplug/tether/internal/reflectclient"
)

func init() { register(newCallCmd) }

func newCallCmd() *cobra.Command {
	var flags pluginFlags
	var emitDefaults bool
	cmd := &cobra.Command{
		Use:   "call TARGET SERVICE/METHOD [JSON|-] [flags] [-- PLUGIN-ARGS...]",
		Short: "Load a plugin and call one of its gRPC methods with JSON messages",
		Long: `Call loads the plugin TARGET names, finds SERVICE/METHOD through server
reflection and calls it. TARGET is a path to a program (never looked up in
$PATH), exec:///abs/path, a plugin serving on the network (tcp://host:port,
unix:///path.sock, dns:///name:port), or a target of another registered
runtime; PLUGIN-ARGS and --auto-mtls apply to programs only, the TLS flags
(--tls-cert, --tls-key, --tls-ca, --tls-server-name, --insecure) to network
targets only, as in tether inspect --help. The method may be written
greeter.v1.Greeter/Greet, /greeter.v1.Greeter/Greet or greeter.v1.Greeter.Greet; a service name may be shortened to its last parts
(Greeter/Greet) when that is unambiguous.

Requests are JSON (protobuf's JSON mapping), taken from the JSON argument or,
when it is absent or "-", from standard input. Unary and server-streaming
methods take one message (no input at all sends an empty one); client-streaming
and bidirectional methods send each message as it is read, one per line, and
close their side at the end of input.

A unary response is printed as indented JSON; streamed responses are printed
one per line as they arrive. Ctrl-C or SIGTERM cancels the call and stops the
plugin (exit status 130). A failed call prints its gRPC code and message and
exits with status 1.`,
		Example: `  tether call ./bin/plugins/greeter-en greeter.v1.Greeter/Greet '{"name":"Ada"}'
  tether call exec:///opt/app/plugins/greeter-en Greeter/Greet '{"name":"Ada"}'
  tether call tcp://10.0.0.7:7000 Greeter/Greet '{"name":"Ada"}' --tls-cert host-1.crt --tls-key host-1.key --tls-ca ca.crt
  echo '{"name":"Ada"}' | tether call ./plugin greeter.v1.Greeter/Greet
  printf '{"text":"a"}\n{"text":"b"}\n' | tether call ./echoplugin tether.echo.v1.Echo/Bidi`,
		RunE: func(cmd *cobra.Command, args []string) error {
			own, pluginArgs := splitDash(cmd, args)
			if len(own) < 2 || len(own) > 3 {
				return fmt.Errorf("call takes TARGET SERVICE/METHOD [JSON], got %d arguments (see tether call --help)", len(own))
			}
			svc, method, err := parseMethod(own[1])
			if err != nil {
				return err
			}
			input := cmd.InOrStdin()
			if len(own) == 3 && own[2] != "-" {
				input = strings.NewReader(own[2])
			}
			c := caller{flags: &flags, emitDefaults: emitDefaults, stdout: cmd.OutOrStdout()}
			return c.run(cmd.Context(), own[0], pluginArgs, svc, method, input)
		},
	}
	flags.add(cmd)
	cmd.Flags().BoolVar(&emitDefaults, "emit-defaults", false, "print fields that hold their default value too")
	return cmd
}

type caller struct {
	flags        *pluginFlags
	emitDefaults bool
	stdout       io.Writer
}

// run loads the plugin, resolves the method and calls it.
func (c caller) run(parent context.Context, target string, pluginArgs []string, svc, method string, input io.Reader) error {
	ctx, stopSignals, interrupted := onSignals(parent)
	defer stopSignals()

	start, cancelStart := context.WithTimeout(ctx, c.flags.timeout)
	defer cancelStart()
	client, err := c.flags.launch(start, target, pluginArgs)
	if err != nil {
		return interrupted(err)
	}
	defer stop(client)

	rc, err := reflectclient.New(start, client.Conn())
	if err != nil {
		return interrupted(err)
	}
	md, err := findMethod(rc, svc, method)
	types := rc.Types()
	rc.Close()
	if err != nil {
		return err
	}

	callCtx := ctx
	if dynamic.KindOf(md) == dynamic.Unary {
		callCtx = start // unary calls stay within --timeout
	}
	in := dynamic.JSONSource(input, types)
	out := dynamic.JSONSink(c.stdout, types, dynamic.KindOf(md) == dynamic.Unary, c.emitDefaults)
	err = dynamic.Call(callCtx, client.Conn(), md, in, out)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return interrupted(err)
	}
	return callFailed(client, md, err)
}

// callFailed says how a call failed: the gRPC code and message, and how the
// plugin exited if it died.
func callFailed(client *tether.Client, md protoreflect.MethodDescriptor, err error) error {
	name := strings.TrimPrefix(dynamic.FullMethod(md), "/")
	if errors.Is(err, tether.ErrPluginExited) {
		return fmt.Errorf("%s: %w", name, err)
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal:
		// The connection broke: if the plugin died, say how, giving its
		// exit a moment to be seen.
		select {
		case <-client.Exited():
			return fmt.Errorf("%s: %w", name, client.ExitError())
		case <-time.After(2 * time.Second):
		}
	}
	if s, ok := status.FromError(err); ok {
		hint := ""
		if s.Code() == codes.DeadlineExceeded && dynamic.KindOf(md) == dynamic.Unary {
			hint = " (unary calls are bounded by --timeout)"
		}
		return fmt.Errorf("%s failed: code %s: %s%s", name, s.Code(), s.Message(), hint)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// parseMethod splits "pkg.Service/Method", "/pkg.Service/Method" or
// "pkg.Service.Method".
func parseMethod(s string) (svc, method string, err error) {
	t := strings.TrimPrefix(s, "/")
	i := strings.LastIndex(t, "/")
	if i < 0 {
		i = strings.LastIndex(t, ".")
	}
	if i <= 0 || i == len(t)-1 {
		return "", "", fmt.Errorf("method %q: want SERVICE/METHOD, e.g. greeter.v1.Greeter/Greet", s)
	}
	return t[:i], t[i+1:], nil
}

// findMethod looks a method up by service and method name. A service may
// be named by a unique suffix of its full name ("Greeter", "v1.Greeter").
// The error for an unknown name lists what the plugin has.
func findMethod(rc *reflectclient.Client, svc, method string) (protoreflect.MethodDescriptor, error) {
	services := rc.Services()
	if !slices.Contains(services, svc) {
		var matches []string
		for _, s := range services {
			if strings.HasSuffix(s, "."+svc) {
				matches = append(matches, s)
			}
		}
		if len(matches) != 1 {
			return nil, fmt.Errorf("the plugin has no service %q; it serves:\n  %s", svc, strings.Join(services, "\n  "))
		}
		svc = matches[0]
	}
	sd, err := rc.Service(svc)
	if err != nil {
		return nil, err
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		names := make([]string, sd.Methods().Len())
		for i := range names {
			names[i] = string(sd.Methods().Get(i).Name())
		}
		return nil, fmt.Errorf("service %s has no method %q; its methods are:\n  %s", svc, method, strings.Join(names, "\n  "))
	}
	return md, nil
}

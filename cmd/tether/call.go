package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/dynamic"
)

func init() { register(newCallCmd) }

func newCallCmd() *cobra.Command {
	var flags pluginFlags
	var c caller
	cmd := &cobra.Command{
		Use:   "call TARGET [METHOD [JSON|-]] [flags] [-- PLUGIN-ARGS...]",
		Short: "Load a plugin and call one of its gRPC methods with JSON messages",
		Long: `Call loads the plugin TARGET names, finds METHOD through server reflection and
calls it. For a plugin that serves no reflection, --proto names its .proto
files (found in the --import-path directories, by default the current
directory and each file's own) or --protoset its compiled descriptor sets,
which then stand in for reflection. TARGET is a path to a program (never
looked up in $PATH), exec:///abs/path, a plugin serving on the network
(tcp://host:port, unix:///path.sock, dns:///name:port), or a target of another
registered runtime; PLUGIN-ARGS and --auto-mtls apply to programs only, the
TLS flags (--tls-cert, --tls-key, --tls-ca, --tls-server-name, --insecure) to
network targets only, as in tether inspect --help. The method may be written
greeter.v1.Greeter/Greet, /greeter.v1.Greeter/Greet or
greeter.v1.Greeter.Greet; the service may be shortened to its last parts
(Greeter/Greet), or left out (Greet), when only one method matches. Without
METHOD, call lists the plugin's methods on stdout, one per line. --template
prints a JSON request of METHOD with every field, to fill in, and calls
nothing.

Requests are JSON (protobuf's JSON mapping), taken from the JSON argument or,
when it is absent or "-", from standard input. Unary and server-streaming
methods take one message (no input at all sends an empty one); client-streaming
and bidirectional methods send each message as it is read, one per line, and
close their side at the end of input. -H adds request metadata.

A unary response is printed as indented JSON; streamed responses are printed
one per line as they arrive. Ctrl-C or SIGTERM cancels the call and stops the
plugin (exit status 130). Exit status: 0 OK; 1 the plugin did not load or
ended during the call; 2 a usage error (flags, arguments, an unknown method, a
request that is not valid JSON, .proto files that do not compile, a plugin
without reflection and no --proto or --protoset); 64 plus the gRPC code of a
call that failed with a status (NotFound, 5, exits 69).`,
		Example: `  tether call ./bin/plugins/greeter-en greeter.v1.Greeter/Greet '{"name":"Ada"}'
  tether call exec:///opt/app/plugins/greeter-en Greet '{"name":"Ada"}'
  tether call ./bin/plugins/greeter-en                      # list the methods
  tether call ./bin/plugins/greeter-en Greet --template     # a request to fill in
  tether call tcp://10.0.0.7:7000 Greeter/Greet '{"name":"Ada"}' --tls-cert host-1.crt --tls-key host-1.key --tls-ca ca.crt
  echo '{"name":"Ada"}' | tether call ./plugin greeter.v1.Greeter/Greet -H 'x-request-id: 42'
  printf '{"text":"a"}\n{"text":"b"}\n' | tether call ./echoplugin tether.echo.v1.Echo/Bidi
  tether call ./noreflect Unary '{"text":"hi"}' --import-path protos --proto tether/echo/v1/echo.proto
  tether call ./noreflect Unary '{"text":"hi"}' --protoset echo.binpb`,
		RunE: func(cmd *cobra.Command, args []string) error {
			own, pluginArgs := splitDash(cmd, args)
			if len(own) < 1 || len(own) > 3 {
				return usagef("call takes TARGET [METHOD [JSON]], got %d arguments (see tether call --help)", len(own))
			}
			md, err := parseHeaders(c.headers)
			if err != nil {
				return err
			}
			input := cmd.InOrStdin()
			if len(own) == 3 && own[2] != "-" {
				input = strings.NewReader(own[2])
			}
			method := ""
			if len(own) > 1 {
				method = own[1]
			} else if c.template {
				return usagef("--template needs a METHOD")
			}
			c.flags, c.md, c.stdout = &flags, md, cmd.OutOrStdout()
			if err := c.protos.load(cmd.Context()); err != nil {
				return err
			}
			return c.run(cmd.Context(), own[0], pluginArgs, method, input)
		},
		ValidArgsFunction: completeMethods(&flags, &c.protos),
	}
	flags.add(cmd)
	c.protos.add(cmd)
	usageFlags(cmd)
	cmd.Flags().BoolVar(&c.emitDefaults, "emit-defaults", false, "print fields that hold their default value too")
	cmd.Flags().BoolVar(&c.template, "template", false, "print a JSON request of METHOD with every field, and call nothing")
	cmd.Flags().StringArrayVarP(&c.headers, "header", "H", nil, "request metadata 'KEY: VALUE'; repeat for several")
	return cmd
}

type caller struct {
	flags        *pluginFlags
	protos       protoFlags
	emitDefaults bool
	template     bool
	headers      []string
	md           metadata.MD
	stdout       io.Writer
}

// run loads the plugin, resolves the method and calls it; without a method
// it lists the methods, with --template it prints a request to fill in.
func (c caller) run(parent context.Context, target string, pluginArgs []string, method string, input io.Reader) error {
	ctx, stopSignals, interrupted := onSignals(parent)
	defer stopSignals()

	start, cancelStart := context.WithTimeout(ctx, c.flags.timeout)
	defer cancelStart()
	client, err := c.flags.launch(start, target, pluginArgs)
	if err != nil {
		return interrupted(err)
	}
	defer stop(client)

	rc, err := c.protos.source(start, client.Conn())
	if err != nil {
		return interrupted(err)
	}
	if method == "" {
		all, err := allMethods(rc)
		rc.Close()
		if err != nil {
			return interrupted(err)
		}
		_, err = fmt.Fprintln(c.stdout, strings.Join(names(all), "\n"))
		return err
	}
	md, err := findMethod(rc, method)
	types := rc.Types()
	rc.Close()
	if err != nil {
		return interrupted(err)
	}
	if c.template {
		tmpl, err := jsonTemplate(md.Input(), types)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(c.stdout, tmpl)
		return err
	}

	callCtx := ctx
	if dynamic.KindOf(md) == dynamic.Unary {
		callCtx = start // unary calls stay within --timeout
	}
	callCtx = metadata.NewOutgoingContext(callCtx, c.md)
	in := usageSource(dynamic.JSONSource(input, types))
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

// usageSource makes the errors of in, a request that is not valid JSON for
// its type, usage errors.
func usageSource(in dynamic.Source) dynamic.Source {
	return func(msg proto.Message) error {
		err := in(msg)
		if err != nil && !errors.Is(err, io.EOF) {
			return usageError(err)
		}
		return err
	}
}

// parseHeaders turns the -H flags, "key: value" each, into metadata.
func parseHeaders(hs []string) (metadata.MD, error) {
	md := metadata.MD{}
	for _, h := range hs {
		k, v, ok := strings.Cut(h, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("-H %q: want 'KEY: VALUE'", h)
		}
		md.Append(k, strings.TrimSpace(v))
	}
	return md, nil
}

// callFailed says how a call failed: the gRPC code and message, and how the
// plugin exited if it died. A request that was not valid is a usage error,
// a gRPC status exits with 64 plus its code.
func callFailed(client *tether.Client, md protoreflect.MethodDescriptor, err error) error {
	name := methodName(md)
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, dynamic.ErrOneRequest):
		return usageError(err)
	case errors.Is(err, tether.ErrPluginExited):
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
		return statusExit(fmt.Errorf("%s failed: code %s: %s%s", name, s.Code(), s.Message(), hint), err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

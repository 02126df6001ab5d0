package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/kube"
)

// newKubeClient makes the commands' API client from a kubeconfig path and
// context ("": the current one); tests replace it.
var newKubeClient = kube.NewContextClient

// kubeNamespace is the default namespace of a kubeconfig and context, as
// kubectl's; tests may replace it.
var kubeNamespace = kube.DefaultNamespace

// resolveNamespace is the namespace of a tether kube command: -n if given,
// else the kubeconfig context's, as kubectl's.
func (f *kubeFlags) resolveNamespace() error {
	if f.namespace != "" {
		return nil
	}
	ns, err := kubeNamespace(f.kubeconfig, f.context)
	if err != nil {
		return fmt.Errorf("the namespace (give -n NAMESPACE): %w", err)
	}
	f.namespace = ns
	return nil
}

// kubeTargetFlags are the cluster flags of inspect and call, for kube://
// targets.
type kubeTargetFlags struct {
	kubeconfig, context string
	// client is the API client a kube target was loaded with.
	client kubernetes.Interface
}

func (f *kubeTargetFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file of a kube:// target's cluster (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "the kubeconfig context of a kube:// target (default its current-context)")
}

// options are the kube runtime's options for target t: its API client,
// made from --kubeconfig and --context, or with --port-forward (which
// needs the API server's address and credentials, not a client) those
// flags themselves. For a target of any other runtime, a flag given is an
// error naming it.
func (f *kubeTargetFlags) options(t tether.Target, portForward bool) ([]tether.Option, error) {
	if t.Scheme != "kube" {
		for _, g := range []struct{ flag, val string }{{"--kubeconfig", f.kubeconfig}, {"--context", f.context}} {
			if g.val != "" {
				return nil, fmt.Errorf("%s is for kube:// targets, not %s", g.flag, t)
			}
		}
		return nil, nil
	}
	c, err := newKubeClient(f.kubeconfig, f.context)
	if err != nil {
		return nil, err
	}
	f.client = c
	if portForward {
		return []tether.Option{kube.WithKubeconfig(f.kubeconfig), kube.WithContext(f.context)}, nil
	}
	return []tether.Option{kube.WithClient(c)}, nil
}

// optionFlags turns the Go options a message names into the CLI's flags,
// for the kube runtime's errors and the network runtime's.
var optionFlags = strings.NewReplacer(
	// At one place the longest phrase wins: they come first.
	"give the host network.WithTLSFiles or network.WithTLSConfig, not network.WithInsecure",
	"give --tls-ca (and --tls-cert, --tls-key for mutual TLS), not --insecure",
	"give the host kube.WithTLSFiles or kube.WithTLSConfig, not kube.WithInsecure",
	"give --tls-cert, --tls-key and --tls-ca, not --insecure",
	"with kube.WithPortForward() (tether inspect|call --port-forward)", "with --port-forward",
	"give kube.WithTLSFiles(cert, key, ca) or kube.WithTLSConfig, or kube.WithInsecure() to connect in plaintext",
	"give --tls-cert, --tls-key and --tls-ca, or --insecure to connect in plaintext",
	"give network.WithTLSFiles(cert, key, ca) or network.WithTLSConfig, or network.WithInsecure() to connect in plaintext",
	"give --tls-ca (and --tls-cert, --tls-key for mutual TLS), or --insecure to connect in plaintext",
	"unless the host gives kube.WithInsecure()", "unless --insecure",
	"kube.WithInsecure()", "--insecure",
	"network.WithInsecure()", "--insecure",
	"which kube.WithPinnedImages requires", "which --pinned requires",
	", and no kube.WithDeploy spec to create one", ": deploy it first with tether kube deploy",
	"kube.WithInsecure", "--insecure", // in a log line: "connecting to the plugin in plaintext (kube.WithInsecure)"
	"network.WithInsecure", "--insecure",
	"tether.WithoutAutoMTLS turns it off", "--auto-mtls=false turns it off",
)

// flagNamingHandler is a log handler that names the CLI's flags where a
// message names the Go options they stand for.
type flagNamingHandler struct{ slog.Handler }

func (h flagNamingHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Message = optionFlags.Replace(r.Message)
	return h.Handler.Handle(ctx, r)
}

func (h flagNamingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flagNamingHandler{h.Handler.WithAttrs(as)}
}

func (h flagNamingHandler) WithGroup(name string) slog.Handler {
	return flagNamingHandler{h.Handler.WithGroup(name)}
}

// specFlags are the deploy flags of the spec's fields that a
// *kube.FieldError names.
var specFlags = map[string]string{
	"spec.name": "NAME", "namespace": "-n", "spec.image": "--image", "spec.port": "--port",
	"spec.replicas": "--replicas", "spec.tlsSecret": "--tls-secret", "spec.env": "--env", "spec.labels": "--label",
	"spec.serviceAccount": "--service-account", "spec.imagePullSecrets": "--image-pull-secret",
	"spec.nodeSelector": "--node-selector", "spec.tolerations": "--toleration",
	"spec.resources.requests": "--requests", "spec.resources.limits": "--limits",
}

// fieldName matches the field a *kube.FieldError starts with: "spec.port",
// "spec.tolerations[0]", "spec.resources.limits[cpu]".
var fieldName = regexp.MustCompile(`^([a-zA-Z.]+)(\[[^\]]*\])?$`)

// flagNamed is an error whose message names CLI flags where the error it
// wraps names Go options or spec fields.
type flagNamed struct {
	msg string
	err error
}

func (e *flagNamed) Error() string { return e.msg }
func (e *flagNamed) Unwrap() error { return e.err }

// nameFlags rewrites err's message to name the CLI's flags instead of the
// Go options and spec fields it names, keeping err for errors.Is and As.
func nameFlags(err error) error {
	if err == nil {
		return nil
	}
	msg := optionFlags.Replace(err.Error())
	var fe *kube.FieldError
	if errors.As(err, &fe) {
		if m := fieldName.FindStringSubmatch(fe.Field); m != nil && specFlags[m[1]] != "" {
			msg = strings.Replace(msg, fe.Field+": ", fe.Field+" ("+specFlags[m[1]]+"): ", 1)
		}
	}
	if msg == err.Error() {
		return err
	}
	return &flagNamed{msg: msg, err: err}
}

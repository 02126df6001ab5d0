package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether/kube"
)

func init() { register(newKubeCmd) }

// kubeFlags are the flags every tether kube command takes.
type kubeFlags struct {
	kubeconfig, namespace string
	asJSON                bool
}

func (f *kubeFlags) client() (kubernetes.Interface, error) { return newKubeClient(f.kubeconfig) }

// newKubeClient makes the commands' API client; tests replace it.
var newKubeClient = kube.NewClient

func newKubeCmd() *cobra.Command {
	f := &kubeFlags{}
	cmd := &cobra.Command{
		Use:   "kube deploy|ls|rm",
		Short: "Deploy, list and remove plugins on Kubernetes",
		Long: `kube deploys plugins to a Kubernetes cluster as a Deployment behind a Service,
lists the plugins tether deployed in a namespace, and removes them.

The cluster is the one of --kubeconfig, else the pod's service account when run
inside a pod, else $KUBECONFIG or ~/.kube/config. See docs/kubernetes.md.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	pf.StringVarP(&f.namespace, "namespace", "n", "default", "namespace of the plugins")
	pf.BoolVar(&f.asJSON, "json", false, "print JSON instead of lines")
	cmd.AddCommand(newKubeDeployCmd(f), newKubeLsCmd(f), newKubeRmCmd(f))
	return cmd
}

// kubeDeployFlags are the spec of tether kube deploy.
type kubeDeployFlags struct {
	image, tlsSecret, cpu, memory string
	replicas, port                int32
	env, labels                   []string
	args                          []string
	pinned, insecure              bool
	timeout                       time.Duration
}

func newKubeDeployCmd(kf *kubeFlags) *cobra.Command {
	f := &kubeDeployFlags{}
	cmd := &cobra.Command{
		Use:   "deploy NAME --image IMAGE --port PORT --tls-secret SECRET",
		Short: "Deploy a plugin as a Deployment and a Service, and wait until every replica is ready",
		Long: `deploy validates the spec (a validation error names the field and creates
nothing), creates the plugin's Deployment and Service, and waits until every
replica is ready. If they are not ready within --timeout, it removes them and
says why (a crash loop with the last exit and log lines, an unschedulable pod,
a failing readiness probe, an image not found).

The TLS Secret holds tls.crt, tls.key (the pods' server certificate, which
must carry NAME.NAMESPACE.svc) and ca.crt (the CA of the hosts' client
certificates).`,
		Example: `  tether kube deploy greeter -n plugins --image registry.example/greeter@sha256:... \
      --port 7000 --replicas 3 --tls-secret greeter-tls --pinned`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKubeDeploy(cmd.Context(), cmd.OutOrStdout(), kf, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.image, "image", "", "the plugin's container image")
	fl.Int32Var(&f.port, "port", 0, "the port the plugin serves on")
	fl.Int32Var(&f.replicas, "replicas", 1, "number of pods")
	fl.StringVar(&f.tlsSecret, "tls-secret", "", "Secret with tls.crt, tls.key and ca.crt for mutual TLS")
	fl.StringArrayVar(&f.env, "env", nil, "KEY=VALUE in the plugin's environment (repeatable)")
	fl.StringArrayVar(&f.labels, "label", nil, "KEY=VALUE label on every object (repeatable)")
	fl.StringArrayVar(&f.args, "arg", nil, "an argument of the plugin (repeatable)")
	fl.StringVar(&f.cpu, "cpu", "", "CPU request and limit, e.g. 100m")
	fl.StringVar(&f.memory, "memory", "", "memory request and limit, e.g. 64Mi")
	fl.BoolVar(&f.pinned, "pinned", false, "refuse an image not pinned by digest")
	fl.BoolVar(&f.insecure, "insecure", false, "deploy without a TLS Secret: the plugin serves plaintext")
	fl.DurationVar(&f.timeout, "timeout", kube.DefaultReadyTimeout, "how long the replicas may take to be ready")
	return cmd
}

func runKubeDeploy(ctx context.Context, out io.Writer, kf *kubeFlags, f *kubeDeployFlags, name string) error {
	spec := kube.Spec{Name: name, Image: f.image, Port: f.port, Replicas: f.replicas, TLSSecret: f.tlsSecret, Args: f.args}
	var err error
	if spec.Env, err = keyValues("--env", f.env); err != nil {
		return err
	}
	if spec.Labels, err = keyValues("--label", f.labels); err != nil {
		return err
	}
	if spec.Resources, err = resources(f.cpu, f.memory); err != nil {
		return err
	}
	c, err := kf.client()
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	o := kube.DeployOptions{PinnedImages: f.pinned, Insecure: f.insecure, ReadyTimeout: f.timeout}
	if err := kube.Deploy(ctx, c, kf.namespace, spec, o); err != nil {
		return err
	}
	if kf.asJSON {
		return json.NewEncoder(out).Encode(map[string]any{"name": name, "namespace": kf.namespace, "target": kubeTarget(kf.namespace, name)})
	}
	fmt.Fprintf(out, "%s: %d replicas ready; target %s\n", name, max(f.replicas, 1), kubeTarget(kf.namespace, name))
	return nil
}

func kubeTarget(ns, name string) string { return "kube://" + ns + "/" + name }

// keyValues parses repeated KEY=VALUE flags.
func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

// resources makes equal requests and limits from --cpu and --memory.
func resources(cpu, memory string) (corev1.ResourceRequirements, error) {
	var r corev1.ResourceRequirements
	list := corev1.ResourceList{}
	for _, q := range []struct {
		flag, val string
		name      corev1.ResourceName
	}{{"--cpu", cpu, corev1.ResourceCPU}, {"--memory", memory, corev1.ResourceMemory}} {
		if q.val == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.val)
		if err != nil {
			return r, fmt.Errorf("%s %q: %w", q.flag, q.val, err)
		}
		list[q.name] = v
	}
	if len(list) > 0 {
		r.Requests, r.Limits = list, list.DeepCopy()
	}
	return r, nil
}

func newKubeLsCmd(kf *kubeFlags) *cobra.Command {
	tf := &tlsFlags{}
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the plugins tether deployed in a namespace, with replicas, image and interfaces",
		Long: `ls lists the Deployments labelled app.kubernetes.io/managed-by=tether in the
namespace: name, ready/desired replicas, image, and, with the TLS flags (or
--insecure), the interfaces and versions one ready pod answers in Describe.
The pods' certificate must carry NAME.NAMESPACE.svc unless --tls-server-name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKubeLs(cmd.Context(), cmd.OutOrStdout(), kf, tf, timeout)
		},
	}
	tf.add(cmd)
	addPortForward(cmd.Flags(), &tf.portForward)
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long each plugin's Describe may take")
	return cmd
}

func runKubeLs(ctx context.Context, out io.Writer, kf *kubeFlags, tf *tlsFlags, timeout time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	opts := []kube.ListOption{kube.DescribeTimeout(timeout)}
	switch {
	case tf.insecure && tf.given() != "--insecure":
		return fmt.Errorf("--insecure contradicts %s", tf.given())
	case tf.insecure:
		opts = append(opts, kube.DescribeInsecure())
	case tf.given() != "":
		if (tf.cert == "") != (tf.key == "") {
			return fmt.Errorf("--tls-cert and --tls-key go together")
		}
		conf, err := tf.partialConfig()
		if err != nil {
			return err
		}
		conf.ServerName = tf.serverName
		opts = append(opts, kube.DescribeTLS(conf))
	}
	c, err := kf.client()
	if err != nil {
		return err
	}
	if opts, err = lsPortForward(opts, kf, tf); err != nil {
		return err
	}
	plugins, err := kube.List(ctx, c, kf.namespace, opts...)
	if err != nil {
		return err
	}
	if kf.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if plugins == nil {
			plugins = []kube.Plugin{}
		}
		return enc.Encode(plugins)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tREADY\tIMAGE\tINTERFACES")
	for _, p := range plugins {
		ifaces := lsInterfaces(p.Interfaces)
		if p.DescribeError != "" {
			ifaces = "(" + p.DescribeError + ")"
		}
		fmt.Fprintf(w, "%s\t%d/%d\t%s\t%s\n", p.Name, p.Ready, p.Desired, p.Image, ifaces)
	}
	return w.Flush()
}

func newKubeRmCmd(kf *kubeFlags) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove plugins tether deployed, and wait until their pods are gone",
		Long: `rm deletes each plugin's Deployment and Service (only objects labelled as
tether's) and waits until they and their pods are gone. A name with no
Deployment or Service, or only objects tether did not deploy, is an error
(the other names are still removed).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			c, err := kf.client()
			if err != nil {
				return err
			}
			var errs []error // like kubectl delete: remove what is there, then fail naming the rest
			for _, name := range args {
				err := kube.CheckDeployed(ctx, c, kf.namespace, name)
				if err == nil {
					err = kube.Remove(ctx, c, kf.namespace, name)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if !kf.asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: removed\n", name)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long the removal may take")
	return cmd
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether/kube"
)

func init() { register(newKubeCmd) }

// kubeFlags are the flags every tether kube command takes.
type kubeFlags struct {
	kubeconfig, context, namespace string
	asJSON                         bool
}

func (f *kubeFlags) client() (kubernetes.Interface, error) {
	return newKubeClient(f.kubeconfig, f.context)
}

func newKubeCmd() *cobra.Command {
	f := &kubeFlags{}
	cmd := &cobra.Command{
		Use:   "kube deploy|ls|rm|logs",
		Short: "Deploy, list and remove plugins on Kubernetes, and print their logs",
		Long: `kube deploys plugins to a Kubernetes cluster as a Deployment behind a Service,
lists the plugins tether deployed in a namespace, and removes them.

The cluster is the one of --kubeconfig (and --context), else the pod's service
account when run inside a pod, else $KUBECONFIG or ~/.kube/config, as kubectl's.
The namespace is -n, else the kubeconfig context's (inside a pod, the pod's),
else default. See docs/kubernetes.md.`,
		PersistentPreRunE: func(*cobra.Command, []string) error { return f.resolveNamespace() },
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	pf.StringVar(&f.context, "context", "", "the kubeconfig context to use (default its current-context)")
	pf.StringVarP(&f.namespace, "namespace", "n", "", "namespace of the plugins (default the kubeconfig context's)")
	pf.BoolVar(&f.asJSON, "json", false, "print JSON instead of lines")
	cmd.AddCommand(newKubeDeployCmd(f), newKubeLsCmd(f), newKubeRmCmd(f), newKubeLogsCmd(f))
	return cmd
}

func newKubeLsCmd(kf *kubeFlags) *cobra.Command {
	tf := &tlsFlags{}
	var timeout time.Duration
	var all bool
	cmd := &cobra.Command{
		Use:   "ls [-A]",
		Short: "List the plugins tether deployed in a namespace, with replicas, image and interfaces",
		Long: `ls lists the Deployments labelled app.kubernetes.io/managed-by=tether in the
namespace (every namespace with -A, in a NAMESPACE column): name, ready/desired
replicas, image, and, with the TLS flags (or --insecure), the interfaces and
versions one ready pod answers in Describe. The pods' certificate must carry
NAME.NAMESPACE.svc unless --tls-server-name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns := kf.namespace
			if all {
				ns = metav1.NamespaceAll
			}
			return nameFlags(runKubeLs(cmd.Context(), cmd.OutOrStdout(), kf, tf, ns, timeout))
		},
	}
	tf.add(cmd)
	cmd.Flags().Lookup("insecure").Usage = "ask the pods in plaintext, without TLS"
	cmd.Flags().Lookup("tls-server-name").Usage = "name the pods' certificate must carry (default NAME.NAMESPACE.svc)"
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the plugins of every namespace")
	addPortForward(cmd.Flags(), &tf.portForward)
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long each plugin's Describe may take")
	return cmd
}

// runKubeLs lists the plugins of namespace ns (metav1.NamespaceAll: of
// every namespace, with a NAMESPACE column).
func runKubeLs(ctx context.Context, out io.Writer, kf *kubeFlags, tf *tlsFlags, ns string, timeout time.Duration) error {
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
	plugins, err := kube.List(ctx, c, ns, opts...)
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
	if ns == metav1.NamespaceAll {
		fmt.Fprint(w, "NAMESPACE\t")
	}
	fmt.Fprintln(w, "NAME\tREADY\tIMAGE\tINTERFACES")
	for _, p := range plugins {
		ifaces := lsInterfaces(p.Interfaces)
		if p.DescribeError != "" {
			ifaces = "(" + p.DescribeError + ")"
		}
		if ns == metav1.NamespaceAll {
			fmt.Fprintf(w, "%s\t", p.Namespace)
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
					stop := statusOn(cmd.ErrOrStderr()).waitLine(func(elapsed time.Duration) string {
						return fmt.Sprintf("%s: waiting until its pods are gone (%.1fs)", name, elapsed.Seconds())
					})
					err = kube.Remove(ctx, c, kf.namespace, name)
					stop()
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if !kf.asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: removed\n", name)
				}
			}
			return nameFlags(errors.Join(errs...))
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long the removal may take")
	return cmd
}

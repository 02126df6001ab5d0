package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/tetherplug/tether/kube"
)

// kubeDeployFlags are the spec of tether kube deploy.
type kubeDeployFlags struct {
	image, tlsSecret, cpu, memory string
	replicas, port                int32
	env, labels                   []string
	args                          []string
	pinned, insecure              bool
	timeout                       time.Duration
	scheduling                    kubeSchedulingFlags
	dryRun                        bool
	output                        string
}

func newKubeDeployCmd(kf *kubeFlags) *cobra.Command {
	f := &kubeDeployFlags{}
	cmd := &cobra.Command{
		Use:   "deploy NAME --image IMAGE --port PORT --tls-secret SECRET",
		Short: "Deploy a plugin as a Deployment and a Service, and wait until every replica is ready",
		Long: `deploy validates the spec (a validation error names the field and its flag, and
creates nothing), then applies the plugin's Deployment and Service
(server-side apply, field manager "tether"): it creates them, or updates a
plugin tether deployed before, which rolls out the new image or spec. It waits
until every replica runs the spec and is ready, printing on stderr how many
are and why one is not each time that changes. If they are not ready within
--timeout, it says why (a crash loop with the last exit and log lines, an
unschedulable pod, a failing readiness probe, an image not found) and removes
what it created; a plugin that existed is left as its rollout left it, its
old pods serving. --replicas 0 deploys no pod and does not wait.

With --dry-run it prints the Deployment and Service it would create (-o yaml,
the default, as YAML documents separated by ---; -o json as a List) and creates
nothing.

The TLS Secret holds tls.crt, tls.key (the pods' server certificate, which
must carry NAME.NAMESPACE.svc) and ca.crt (the CA of the hosts' client
certificates).`,
		Example: `  tether kube deploy greeter -n plugins --image registry.example/greeter@sha256:... \
      --port 7000 --replicas 3 --tls-secret greeter-tls --pinned
  tether kube deploy greeter --image greeter:v1 --port 7000 --tls-secret greeter-tls \
      --service-account greeter --image-pull-secret regcred --node-selector pool=plugins \
      --toleration dedicated=plugins:NoSchedule --requests cpu=100m,memory=64Mi --limits memory=128Mi \
      --dry-run -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return nameFlags(runKubeDeploy(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), kf, f, args[0]))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.image, "image", "", "the plugin's container image")
	fl.Int32Var(&f.port, "port", 0, "the port the plugin serves on")
	fl.Int32Var(&f.replicas, "replicas", 1, "number of pods (0: none, and no wait)")
	fl.StringVar(&f.tlsSecret, "tls-secret", "", "Secret with tls.crt, tls.key and ca.crt for mutual TLS")
	fl.StringArrayVar(&f.env, "env", nil, "KEY=VALUE in the plugin's environment (repeatable)")
	fl.StringArrayVar(&f.labels, "label", nil, "KEY=VALUE label on every object (repeatable)")
	fl.StringArrayVar(&f.args, "arg", nil, "an argument of the plugin (repeatable)")
	fl.StringVar(&f.cpu, "cpu", "", "CPU request and limit, e.g. 100m")
	fl.StringVar(&f.memory, "memory", "", "memory request and limit, e.g. 64Mi")
	fl.BoolVar(&f.pinned, "pinned", false, "refuse an image not pinned by digest")
	fl.BoolVar(&f.insecure, "insecure", false, "deploy without a TLS Secret: the plugin serves plaintext")
	fl.DurationVar(&f.timeout, "timeout", kube.DefaultReadyTimeout, "how long the replicas may take to be ready")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the objects deploy would create, and create nothing")
	fl.StringVarP(&f.output, "output", "o", "", "with --dry-run: yaml (default) or json")
	f.scheduling.add(cmd)
	return cmd
}

// spec is the kube.Spec the flags describe.
func (f *kubeDeployFlags) spec(name string) (kube.Spec, error) {
	replicas := f.replicas
	spec := kube.Spec{Name: name, Image: f.image, Port: f.port, Replicas: &replicas, TLSSecret: f.tlsSecret, Args: f.args}
	var err error
	if spec.Env, err = keyValues("--env", f.env); err != nil {
		return spec, err
	}
	if spec.Labels, err = keyValues("--label", f.labels); err != nil {
		return spec, err
	}
	if f.cpu != "" || f.memory != "" {
		if len(f.scheduling.requests)+len(f.scheduling.limits) > 0 {
			return spec, errors.New("--cpu and --memory set both requests and limits: give them, or --requests and --limits, not both")
		}
		if spec.Resources, err = resources(f.cpu, f.memory); err != nil {
			return spec, err
		}
	}
	err = f.scheduling.apply(&spec)
	return spec, err
}

func runKubeDeploy(ctx context.Context, out, progress io.Writer, kf *kubeFlags, f *kubeDeployFlags, name string) error {
	if f.output != "" && !f.dryRun {
		return fmt.Errorf("-o %s prints the objects of a --dry-run: give --dry-run", f.output)
	}
	spec, err := f.spec(name)
	if err != nil {
		return err
	}
	// On a terminal the progress is one line rewritten in place;
	// elsewhere (a log, a CI job) a line for each change.
	line := statusOn(progress)
	defer line.clear()
	report := func(e *kube.NotReadyError) { fmt.Fprintln(progress, progressLine(name, e)) }
	if line.w != nil {
		report = func(e *kube.NotReadyError) { line.set(progressLine(name, e)) }
	}
	o := kube.DeployOptions{PinnedImages: f.pinned, Insecure: f.insecure, ReadyTimeout: f.timeout, Progress: report}
	if f.dryRun {
		return printManifest(out, kf.namespace, spec, o, f.output)
	}
	// Whatever can be checked without the cluster is, before reaching it.
	if _, _, err := kube.Manifest(kf.namespace, spec, o); err != nil {
		return err
	}
	c, err := kf.client()
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := kube.Deploy(ctx, c, kf.namespace, spec, o); err != nil {
		return err
	}
	if kf.asJSON {
		return json.NewEncoder(out).Encode(map[string]any{"name": name, "namespace": kf.namespace, "target": kubeTarget(kf.namespace, name)})
	}
	fmt.Fprintf(out, "%s: %d replicas ready; target %s\n", name, f.replicas, kubeTarget(kf.namespace, name))
	return nil
}

// progressLine is deploy's line on stderr while it waits.
func progressLine(name string, e *kube.NotReadyError) string { return name + ": waiting: " + e.Error() }

// printManifest prints what deploy would create, as kubectl's
// --dry-run=client -o yaml|json does.
func printManifest(out io.Writer, ns string, spec kube.Spec, o kube.DeployOptions, format string) error {
	d, svc, err := kube.Manifest(ns, spec, o)
	if err != nil {
		return err
	}
	switch format {
	case "", "yaml":
		for i, obj := range []any{d, svc} {
			b, err := yaml.Marshal(obj)
			if err != nil {
				return err
			}
			if i > 0 {
				fmt.Fprintln(out, "---")
			}
			if _, err := out.Write(b); err != nil {
				return err
			}
		}
		return nil
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "    ")
		return enc.Encode(manifestList{APIVersion: "v1", Kind: "List", Items: []any{d, svc}})
	}
	return fmt.Errorf("-o %s: want yaml or json", format)
}

// manifestList is kubectl's List of the objects of -o json.
type manifestList struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []any  `json:"items"`
}

func kubeTarget(ns, name string) string { return "kube://" + ns + "/" + name }

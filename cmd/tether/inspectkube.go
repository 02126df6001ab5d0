package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/kube"
)

// kubePods lists every pod of the kube target t that inspect loaded, each
// asked for its interfaces and health with the same TLS and handshake.
func (f *pluginFlags) kubePods(ctx context.Context, t tether.Target) ([]kube.Pod, error) {
	ns, name, err := kube.ParseTarget(t)
	if err != nil {
		return nil, err
	}
	host, err := f.hostOptions(ctx)
	if err != nil {
		return nil, err
	}
	opts := []kube.ListOption{kube.DescribeTimeout(startTimeout(ctx, f.timeout)), kube.DescribeWith(host...)}
	if f.tls.insecure {
		opts = append(opts, kube.DescribeInsecure())
	} else {
		conf, err := f.tls.partialConfig()
		if err != nil {
			return nil, err
		}
		conf.ServerName = f.tls.serverName
		opts = append(opts, kube.DescribeTLS(conf))
	}
	return kube.Pods(ctx, f.kube.client, ns, name, opts...)
}

// printPods writes the pods section of inspect's output: one line a pod.
func printPods(w io.Writer, pods []kube.Pod) error {
	fmt.Fprintln(w, "pods:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tIP\tREADY\tHEALTH\tINTERFACES")
	for _, p := range pods {
		health, ifaces := p.Health, lsInterfaces(p.Interfaces)
		if health == "" {
			health = "-"
		}
		if p.DescribeError != "" {
			ifaces = "(" + p.DescribeError + ")"
		}
		ready := "no (" + p.Phase + ")"
		if p.Ready {
			ready = "yes"
		}
		ip := p.IP
		if ip == "" {
			ip = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Name, ip, ready, health, ifaces)
	}
	return tw.Flush()
}

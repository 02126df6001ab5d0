// Command kube-binaries builds the kubeenv control-plane binaries (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) into the user
// cache directory, if they are not there yet, and prints where they are.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/tetherplug/tether/test/kubeenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	begin := time.Now()
	bins, err := kubeenv.EnsureBinaries(ctx, func(s string) {
		fmt.Fprintf(os.Stderr, "kube-binaries: %s (%.0fs)\n", s, time.Since(begin).Seconds())
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("kube-binaries: %s ready in %.1fs:\n  %s\n  %s\n  %s\n  %s\n", kubeenv.Version, time.Since(begin).Seconds(),
		bins.Etcd, bins.APIServer, bins.ControllerManager, bins.Scheduler)
}

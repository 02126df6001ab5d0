// Command kube-binaries builds the kubeenv control-plane binaries (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) and the kubectl
// of the same version into the user cache directory, if they are not there
// yet, and prints where they are. With -link-kubectl PATH it also makes PATH
// a symbolic link to that kubectl (make kube-up puts one in ./bin for the
// quick start).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/tetherplug/tether/test/kubeenv"
)

func main() {
	link := flag.String("link-kubectl", "", "make this path a symbolic link to the built kubectl")
	flag.Parse()
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
	fmt.Printf("kube-binaries: %s ready in %.1fs:\n  %s\n  %s\n  %s\n  %s\n  %s\n", kubeenv.Version, time.Since(begin).Seconds(),
		bins.Etcd, bins.APIServer, bins.ControllerManager, bins.Scheduler, bins.Kubectl)
	if *link != "" {
		if err := relink(bins.Kubectl, *link); err != nil {
			fmt.Fprintln(os.Stderr, "kube-binaries:", err)
			os.Exit(1)
		}
	}
}

// relink makes link a symbolic link to target, replacing a link already
// there (never a file that is not a link).
func relink(target, link string) error {
	if st, err := os.Lstat(link); err == nil {
		if st.Mode()&os.ModeSymlink == 0 {
			return fmt.Errorf("%s exists and is not a symbolic link: leaving it", link)
		}
		if err := os.Remove(link); err != nil {
			return err
		}
	}
	return os.Symlink(target, link)
}

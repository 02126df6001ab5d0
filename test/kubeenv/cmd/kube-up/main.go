// Command kube-up starts a kubeenv control plane and leaves it running
// until interrupted (Ctrl-C or SIGTERM), printing the kubeconfig path for
// kubectl-style clients. Its processes die with it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tetherplug/tether/test/kubeenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	begin := time.Now()
	upCtx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	env, err := kubeenv.Up(upCtx, kubeenv.Options{Progress: func(s string) {
		fmt.Fprintf(os.Stderr, "kube-up: %s (%.1fs)\n", s, time.Since(begin).Seconds())
	}})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf(`kube-up: control plane %s running (ready in %.1fs)
  export KUBECONFIG=%s
  server %s, logs in %s/logs
  stop it with Ctrl-C, or: kill %d
`, kubeenv.Version, time.Since(begin).Seconds(), env.Kubeconfig(), env.Config().Host, env.Dir(), os.Getpid())
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "kube-up: stopping")
	env.Stop()
}

// Command kube-up starts a kubeenv control plane with a node agent and
// leaves it running until interrupted (Ctrl-C or SIGTERM), printing the
// kubeconfig path for kubectl-style clients. Its processes die with it.
//
// Each -image NAME=PATH lets pods run image NAME as the local program
// PATH (`make kube-up` passes the example greeter plugins):
//
//	kube-up -image tether.test/greeter-en:v1=/path/to/bin/plugins/greeter-en
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/tetherplug/tether/test/kubeenv"
	"github.com/tetherplug/tether/test/kubeenv/nodeagent"
)

// images are the -image flags: image name to local program.
type images map[string]string

func (m images) String() string { return fmt.Sprint(map[string]string(m)) }

func (m images) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want NAME=PATH, got %q", v)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("image %s: %s is not an executable file", name, abs)
	}
	m[name] = abs
	return nil
}

func main() {
	imgs := images{}
	flag.Var(imgs, "image", "NAME=PATH: pods of image NAME run the program PATH (repeatable)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	begin := time.Now()
	upCtx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	env, err := kubeenv.Up(upCtx, kubeenv.Options{Images: imgs, Agent: runAgent,
		Progress: func(s string) { fmt.Fprintf(os.Stderr, "kube-up: %s (%.1fs)\n", s, time.Since(begin).Seconds()) }})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := make([]string, 0, len(imgs))
	for n := range imgs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Printf(`kube-up: control plane %s running (ready in %.1fs), one node
  export KUBECONFIG=%s
  server %s, logs in %s/logs
  images: %s
  stop it with Ctrl-C, or: kill %d
`, kubeenv.Version, time.Since(begin).Seconds(), env.Kubeconfig(), env.Config().Host, env.Dir(),
		strings.Join(names, " "), os.Getpid())
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "kube-up: stopping")
	env.Stop()
}

// runAgent is the node agent: it runs the pods scheduled to the node as
// local processes.
func runAgent(ctx context.Context, cfg *rest.Config, n kubeenv.Node) error {
	return nodeagent.Run(ctx, cfg, nodeagent.Options{NodeName: n.Name, Images: n.Images, Resolve: n.Resolve,
		WorkDir: n.WorkDir, Logger: n.Logger})
}

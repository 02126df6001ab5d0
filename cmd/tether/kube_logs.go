package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tetherplug/tether/kube"
)

func newKubeLogsCmd(kf *kubeFlags) *cobra.Command {
	var follow bool
	var tail int64
	cmd := &cobra.Command{
		Use:   "logs NAME [-f] [--tail N]",
		Short: "Print the logs of a plugin's pods, each line prefixed with its pod",
		Long: `logs prints the container log of every pod of a plugin tether deployed, each
line prefixed with [pod/POD], as kubectl logs -l --prefix does. With -f it keeps
printing new lines until interrupted, following pods as they come and go (a
pod that replaces another is printed from its first line), and resumes a
dropped stream without repeating a line. The account needs list and watch on
pods and get on pods/log.`,
		Example: `  tether kube logs greeter -n plugins --tail 20
  tether kube logs greeter -n plugins -f`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKubeLogs(cmd.Context(), cmd.OutOrStdout(), kf, args[0], kube.LogsOptions{Follow: follow, Tail: tail})
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "keep printing new lines, and the pods that come, until interrupted")
	fl.Int64Var(&tail, "tail", -1, "print only the last N lines of each pod there is (-1: all)")
	return cmd
}

func runKubeLogs(ctx context.Context, out io.Writer, kf *kubeFlags, name string, o kube.LogsOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := kf.client()
	if err != nil {
		return err
	}
	if err := kube.CheckDeployed(ctx, c, kf.namespace, name); err != nil {
		return err
	}
	var mu sync.Mutex
	return kube.Logs(ctx, c, kf.namespace, name, o, func(pod, line string) {
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(out, "[pod/"+pod+"] "+line)
	})
}

package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherplug/tether/internal/descsource"
	"github.com/tetherplug/tether/internal/reflectclient"
)

// completionTimeout bounds loading a plugin to complete its methods: a
// shell waits for the answer.
const completionTimeout = 3 * time.Second

// completeMethods completes call's arguments: TARGET as a file, METHOD by
// loading the plugin (with the command's flags, within completionTimeout)
// and listing its methods, or from the files of --proto or --protoset
// without loading it. A plugin that does not load completes nothing.
func completeMethods(flags *pluginFlags, pf *protoFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		own, pluginArgs := splitDash(cmd, args)
		if len(own) == 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		if len(own) != 1 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		timeout := min(flags.timeout, completionTimeout)
		if timeout <= 0 {
			timeout = completionTimeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if pf.flagsGiven() {
			if pf.load(ctx) != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completions(pf.files, toComplete)
		}
		f := *flags
		f.log = slog.New(slog.NewTextHandler(io.Discard, nil)) // a shell's prompt is no place for logs
		f.quiet, f.line = true, nil
		client, err := f.launch(ctx, own[0], pluginArgs)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer stop(client)
		rc, err := reflectclient.New(ctx, client.Conn())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer rc.Close()
		return completions(rc, toComplete)
	}
}

// completions are the methods of src whose full names (pkg.Service/Method)
// start with toComplete, and the bare method names (Method, which call
// accepts when one service alone has it) that do.
func completions(src descsource.Source, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	all, err := allMethods(src)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	full := names(all)
	services := map[string]int{} // bare method name → how many services have it
	for _, name := range full {
		_, bare, _ := strings.Cut(name, "/")
		services[bare]++
	}
	var out []cobra.Completion
	for _, name := range full {
		_, bare, _ := strings.Cut(name, "/")
		switch {
		case strings.HasPrefix(name, toComplete):
			out = append(out, name)
		case strings.HasPrefix(bare, toComplete) && services[bare] == 1:
			out = append(out, bare)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

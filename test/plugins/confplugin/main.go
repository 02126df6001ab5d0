// Command confplugin is a tether plugin that takes arguments, as docs/cli.md's
// ./my-plugin does: --config FILE names a file of `key = "value"` lines whose
// name is the plugin's name in its Describe answer. It serves the Echo
// interface. Without --config, or with a file it cannot read, it says why on
// stderr (after its program's name) and exits with status 2.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

func main() {
	prog := filepath.Base(os.Args[0])
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	config := fs.String("config", "", "the configuration `FILE`")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	name, err := readName(*config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(2)
	}
	tether.Serve(tether.ServeConfig{
		Name: name,
		Implementations: []tether.Implementation{tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, plugintest.EchoServer{})
		})},
	})
}

// readName is the name set in the configuration file path.
func readName(path string) (string, error) {
	if path == "" {
		return "", errors.New("--config FILE is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.TrimSpace(key) != "name" {
			continue
		}
		name, err := strconv.Unquote(strings.TrimSpace(value))
		if err != nil {
			return "", fmt.Errorf("%s:%d: name is not a quoted string: %w", path, n, err)
		}
		return name, nil
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no name = \"...\" line", path)
}

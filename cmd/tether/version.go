package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func init() { register(newVersionCmd) }

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tether's module version, VCS revision and Go version",
		Long: `Print the version of the tether module the binary was built from, the VCS
revision ("modified" when the working tree had uncommitted changes) and the
Go version and platform. "tether --version" prints the same.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), versionText(debug.ReadBuildInfo()))
			return err
		},
	}
}

// versionText is what "tether version" prints for the build information
// info (ok false when the binary has none):
//
//	tether v0.1.0
//	revision 0123456789abcdef0123456789abcdef01234567 (modified)
//	go1.26.0 linux/amd64
//
// The revision line is left out when the build recorded no VCS revision
// (built from the module cache by go install, or with -buildvcs=false).
func versionText(info *debug.BuildInfo, ok bool) string {
	version, goVersion := "unknown", runtime.Version()
	var revision, modified string
	if ok {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tether %s\n", version)
	if revision != "" {
		fmt.Fprintf(&b, "revision %s", revision)
		if modified == "true" {
			b.WriteString(" (modified)")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}

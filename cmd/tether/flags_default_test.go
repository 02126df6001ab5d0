package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// defaultShownByPflag lists flags allowed to say their default in their
// usage although pflag prints it too: none.
var defaultShownByPflag = map[string]bool{}

// TestHelpPrintsEachDefaultOnce: pflag prints "(default X)" after the usage
// of a flag whose default is not the zero value; a usage text that says
// its default too prints it twice. Every command's flags are walked.
func TestHelpPrintsEachDefaultOnce(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Deprecated != "" || !strings.Contains(strings.ToLower(f.Usage), "default") {
				return
			}
			key := c.Name() + " --" + f.Name
			switch twice := pflagShowsDefault(f); {
			case twice && !defaultShownByPflag[key]:
				t.Errorf("tether %s: the usage %q says its default, and pflag adds (default %s)", key, f.Usage, f.DefValue)
			case !twice && defaultShownByPflag[key]:
				t.Errorf("tether %s is fixed: take it out of defaultShownByPflag", key)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
}

// pflagShowsDefault reports whether pflag prints "(default ...)" after the
// flag's usage.
func pflagShowsDefault(f *pflag.Flag) bool {
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	probe := *f
	probe.Usage = "x"
	fs.AddFlag(&probe)
	return strings.Contains(fs.FlagUsages(), "(default ")
}

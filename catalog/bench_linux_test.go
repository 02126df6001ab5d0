//go:build linux

package catalog_test

import (
	"os"
	"strconv"
	"strings"

	"github.com/tetherplug/tether/catalog"
)

// totalRSS sums the resident memory of the catalog's plugin processes.
func totalRSS(cat *catalog.Catalog) float64 {
	var total float64
	for _, e := range cat.Loaded() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(e.Client.Pid()) + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				total += kb * 1024
			}
		}
	}
	return total
}

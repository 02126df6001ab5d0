package tethertest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tetherplug/tether/tethertest"
)

func TestBuildOncePerPackageKeepingItsName(t *testing.T) {
	defer tethertest.Cleanup()
	driver := tethertest.Build(t, "github.com/tetherplug/tether/examples/driver/plugin")
	multi := tethertest.Build(t, "github.com/tetherplug/tether/examples/multi/plugin")
	if driver == multi {
		t.Fatalf("two packages named plugin built to the same path %s", driver)
	}
	for _, p := range []string{driver, multi} {
		if filepath.Base(p) != "plugin" {
			t.Errorf("binary %s is not named after its package", p)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("binary %s is not an executable file: %v", p, err)
		}
	}
	if again := tethertest.Build(t, "github.com/tetherplug/tether/examples/driver/plugin"); again != driver {
		t.Errorf("second Build returned %s, want the first binary %s", again, driver)
	}
	tethertest.Cleanup()
	if _, err := os.Stat(driver); !os.IsNotExist(err) {
		t.Errorf("binary %s still exists after Cleanup: %v", driver, err)
	}
}

package daemon

import (
	"testing"

	"github.com/tetherplug/tether/tethertest"
)

// TestMain checks for leaked goroutines and removes the programs the tests
// built.
func TestMain(m *testing.M) { tethertest.Main(m) }

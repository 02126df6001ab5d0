package tethertest

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs a package's tests, then removes the binaries Build made, and
// fails the run if goroutines are left behind once the tests passed. Call it
// from TestMain:
//
//	func TestMain(m *testing.M) { tethertest.Main(m) }
func Main(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, append(opts, goleak.Cleanup(func(code int) {
		Cleanup()
		os.Exit(code)
	}))...)
}

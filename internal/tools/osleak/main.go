// Command osleak fails when a shared Go file of the module uses a
// Linux-only mechanism: a non-test file whose name has no OS suffix and
// whose //go:build line names no OS (so it builds on every OS) must not
// mention /proc, pidfds, PR_SET_PDEATHSIG, inotify or fallocate in its code.
// Comments may: they explain what other OSes do instead.
//
// Usage: go run ./internal/tools/osleak [DIR]
//
// It walks DIR (default ".") and skips nested modules (directories with
// their own go.mod), testdata, vendor and hidden directories. It prints one
// line per finding, naming the file, line and word, and exits 1 if any.
package main

import (
	"fmt"
	"os"
)

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	findings, err := scan(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "osleak:", err)
		os.Exit(2)
	}
	for _, f := range findings {
		fmt.Fprintln(os.Stderr, f)
	}
	if len(findings) > 0 {
		fmt.Fprintf(os.Stderr, "osleak: %d Linux-only mention(s) in shared files: move that code to a file named _linux.go (or with a //go:build line naming the OS)\n", len(findings))
		os.Exit(1)
	}
}

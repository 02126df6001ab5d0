//go:build !linux

package main

import "testing"

// marked would list the live processes whose environment holds mark.
// Another process's environment cannot be read portably, so it finds none
// here: the leak checks built on it pass vacuously and only Linux runs
// them for real.
func marked(*testing.T, string) []string { return nil }

//go:build !linux

package supervise

// findLaunched: only Linux lists a process's children and their
// environments; elsewhere an outliving process is recorded once ready.
func findLaunched(string) (pid int, socketDir string, ok bool) { return 0, "", false }

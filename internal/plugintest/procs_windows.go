package plugintest

import "os"

// Reaped reports whether no process pid exists any more. On Windows a
// process object lives on while any handle to it is open, so this reports
// whether it can no longer be opened.
func Reaped(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	_ = p.Release()
	return false
}

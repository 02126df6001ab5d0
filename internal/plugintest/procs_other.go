//go:build !linux

package plugintest

// Exited reports whether process pid has exited. Without /proc it cannot
// tell a zombie from a live process, so it is Reaped: weaker than on
// Linux, where a zombie left for another parent counts as exited.
func Exited(pid int) bool { return Reaped(pid) }

// MarkedProcesses would list running processes whose environment carries
// TETHER_TEST_MARK=mark. Another process's environment cannot be read
// portably, so it finds none: leak checks built on it pass vacuously here
// and only Linux runs them for real.
func MarkedProcesses(string) []int { return nil }

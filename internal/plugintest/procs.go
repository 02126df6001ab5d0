package plugintest

// Process checks for leak tests. Reaped is exact on every OS. Exited and
// MarkedProcesses read /proc on Linux (procs_linux.go); elsewhere they are
// weaker (procs_other.go): Exited is Reaped (a zombie left for another
// parent counts as not exited), and MarkedProcesses finds nothing, so a
// leak check built on it passes vacuously there.

// Package proc owns one launched plugin program: it starts the program with
// tether's own pipes, reads its handshake line, forwards its stderr line by
// line, reports its exit, and signals and terminates it. It knows nothing of
// gRPC or of the handshake's format.
//
// # Starting
//
// Start runs Spec.Path as given, never looked up in $PATH. With a checksum
// the bytes that are hashed are the bytes that run, so a file renamed over
// the path after the check does not run; argv[0] is still the path the user
// gave. On Linux the open, hashed file itself is executed (program_linux.go;
// a #! script's interpreter receives that descriptor's path, and the
// descriptor stays open in the program); elsewhere a private copy is
// (program.go). The program leads a process group of its own (and, on
// Windows, a Job Object: sys_windows.go).
//
// With Spec.DieWithHost the program also gets, on Linux, a parent-death
// signal (SIGTERM), and on Unix a host pipe: descriptor 3 is the read end of a pipe whose
// write end only the host holds (never written, and close-on-exec so no
// other child inherits it). The environment says EnvHostPipe=3. A plugin
// that reads EOF there knows its host is gone, even through a wrapper
// script that did not exec. The host closes its end when the process has
// exited and at the start of Terminate. Descriptors: 3 is the host pipe
// when DieWithHost, the checked program's descriptor comes after it. On
// Windows the Job Object, with kill-on-close, does both jobs.
//
// # Output
//
// Stdout and stderr are pipes of tether's own, not exec.Cmd's (which Wait
// closes, losing what a program printed just before it exited). Stderr is
// forwarded line by line from the start; lines longer than MaxLine come in
// MaxLine pieces. Stdout waits for ReadHandshake, then Stdout is the rest.
//
// # Exit
//
// The exit is detected without reaping the process (waitid(WNOWAIT) on
// Linux, kqueue on macOS and FreeBSD, the process handle on Windows), so
// its pid, which is also its process group id, cannot be reused meanwhile.
// With DieWithHost the rest of the group is then sent SIGTERM, given until
// stderr is drained (at most KillTimeout), and sent SIGKILL, all before the
// reap (on Windows, which has no signals, the job is terminated). Exited is closed once stderr is drained,
// bounded by KillTimeout counted from the exit (a grandchild holding stderr
// open cannot stall it), the process reaped and Spec.Dir removed. After the
// reap nothing is ever signalled, so a process tether did not start never
// is. The pipes are closed KillTimeout after the exit.
//
// # Spool files
//
// With Spec.Spool the program's descriptors 1 and 2 are append-only files
// (package spool) instead of pipes, read by followers from where the files
// ended at Start. A program meant to outlive its host then neither dies of
// SIGPIPE nor loses output while no host reads; SpoolOffsets says how far
// output was handed on, for a later host to resume there. At the exit both
// files are read to their end, with the same bounds as pipes.
//
// # Adoption
//
// Adopt takes hold of a process an earlier host started, identified by pid
// and StartTime, through the most reliable handle the OS offers
// (adopt_linux.go, adopt_bsd.go, adopt_windows.go; docs/platforms.md): on
// Linux and Windows one that names that very process, so a process that
// later got the same pid is never signalled; a pid whose start time differs
// is refused, unsignalled.
package proc

// Package proc owns one launched plugin program: it starts the program with
// tether's own pipes, reads its handshake line, forwards its stderr line by
// line, reports its exit, and signals and terminates it.
package proc

// Package bench measures tether against raw grpc-go, side by side in one
// run. Both sides serve the same Echo service from a separate process over a
// Unix socket: tether through the echo test plugin loaded with
// tether.Launch, raw grpc-go through a plain grpc.NewServer program
// (test/plugins/rawecho) dialled with grpc.NewClient. The two sides
// therefore pay the same process boundary, and what differs is what tether
// adds.
//
// The TLS sides (TLSSides) compare the same way over loopback TCP with
// mutual TLS: the echo plugin run as a network plugin (TETHER_LISTEN and
// its TLS variables) reached with tether.Open on a tcp:// target, against
// rawecho -listen dialled with grpc.NewClient and credentials.NewTLS, both
// with the same certificates.
//
// The measurements are functions of a *testing.B so that the package's
// benchmarks (go test -bench . ./bench/) and the benchreport program, which
// prints a Markdown table of both sides and their ratio, run the same code.
package bench

package main

import (
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherplug/tether/internal/netguard"
)

// limitFlags are serve's bounds on what network peers can make it hold,
// the flags of a network plugin's TETHER_MAX_* variables.
type limitFlags struct {
	headerBytes, streams         int
	pending, conns, connsPerPeer int
	handshake                    time.Duration
}

func (l *limitFlags) add(cmd *cobra.Command) {
	d := netguard.Defaults()
	fs := cmd.Flags()
	fs.IntVar(&l.headerBytes, "max-header-bytes", int(d.MaxHeaderBytes), "most bytes a call's headers may take; a call with more is reset")
	fs.IntVar(&l.streams, "max-streams", int(d.MaxStreams), "most calls in flight on one connection; more are refused (REFUSED_STREAM)")
	fs.DurationVar(&l.handshake, "handshake-timeout", d.HandshakeTimeout, "how long a new connection has to finish its TLS handshake")
	fs.IntVar(&l.pending, "max-pending-conns", d.MaxPending, "most connections still in their TLS handshake; a new one closes the oldest")
	fs.IntVar(&l.conns, "max-conns", d.MaxConns, "most connections in all, at most what the descriptor limit allows")
	fs.IntVar(&l.connsPerPeer, "max-conns-per-peer", d.MaxConnsPerPeer, "most connections from one IP address")
}

// limits are the flags' netguard.Limits, or an error naming a flag set to
// a value that is not positive.
func (l *limitFlags) limits() (netguard.Limits, error) {
	for _, v := range []struct {
		name string
		n    int
	}{
		{"--max-header-bytes", l.headerBytes}, {"--max-streams", l.streams}, {"--max-pending-conns", l.pending},
		{"--max-conns", l.conns}, {"--max-conns-per-peer", l.connsPerPeer},
	} {
		if v.n <= 0 || v.n > math.MaxUint32 {
			return netguard.Limits{}, fmt.Errorf("%s %d: want a whole number from 1 to %d", v.name, v.n, uint32(math.MaxUint32))
		}
	}
	if l.handshake <= 0 {
		return netguard.Limits{}, fmt.Errorf("--handshake-timeout %v: want a positive duration", l.handshake)
	}
	return netguard.Limits{MaxHeaderBytes: uint32(l.headerBytes), MaxStreams: uint32(l.streams), HandshakeTimeout: l.handshake,
		MaxPending: l.pending, MaxConns: l.conns, MaxConnsPerPeer: l.connsPerPeer}, nil
}

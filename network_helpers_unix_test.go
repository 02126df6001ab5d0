//go:build unix

package tether_test

import (
	"syscall"
	"testing"
)

func (p *netPlugin) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

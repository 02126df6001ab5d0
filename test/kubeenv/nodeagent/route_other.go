//go:build !linux

package nodeagent

import (
	"errors"
	"net/netip"
)

// addLocalRoute is only implemented on Linux.
func addLocalRoute(p netip.Prefix) error {
	return errors.New("local routes for pod addresses are only made on Linux")
}

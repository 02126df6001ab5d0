package network

import "context"

// SetLookupHost replaces how dns targets are resolved, until restore.
func SetLookupHost(f func(ctx context.Context, name string) ([]string, error)) (restore func()) {
	old := lookupHost
	lookupHost = f
	return func() { lookupHost = old }
}

package tether

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/reflectclient"
)

// ErrCapabilitiesUnknown means the plugin can say neither through tether's
// Describe nor through gRPC server reflection which methods it implements.
var ErrCapabilitiesUnknown = errors.New("capabilities unknown")

// Described reports whether the plugin described itself through tether's
// Describe RPC. Plugins built with hashicorp/go-plugin do not: for them
// interface versions follow the application protocol version, and
// Implements falls back to gRPC server reflection.
func (c *Client) Described() bool { return c.describe != nil }

// Served returns every version of every interface the plugin serves,
// each list sorted ascending. For a plugin that does not describe itself
// it lists the interfaces the host asked for, at the application protocol
// version.
func (c *Client) Served() map[string][]int {
	m := map[string][]int{}
	if c.describe == nil {
		for name, v := range c.chosen {
			m[name] = []int{v}
		}
		return m
	}
	for _, in := range c.describe.Interfaces {
		if v := int(in.Version); !slices.Contains(m[in.Name], v) {
			m[in.Name] = append(m[in.Name], v)
		}
	}
	for _, vs := range m {
		slices.Sort(vs)
	}
	return m
}

// Serves reports whether the plugin serves version v of interface iface.
func (c *Client) Serves(iface string, v int) bool {
	return slices.Contains(c.Served()[iface], v)
}

// Implements reports, before any call, whether the plugin implements the
// gRPC method fullMethod, written as gRPC writes it: "/greeter.v2.Greeter/Farewell".
//
// For the services of its interfaces a tether plugin answered this at
// connect time (Describe lists the services and methods of each interface
// version), so no call is made. For other services (health, the
// controller, services registered outside interfaces, services the plugin
// does not have) and for plugins without Describe, Implements asks gRPC
// server reflection once, bounded by ctx, and remembers the answer; when
// reflection is not served either, the error wraps ErrCapabilitiesUnknown.
//
// Calling a method the plugin lacks fails with an error wrapping
// ErrNotImplemented whatever Implements said.
func (c *Client) Implements(ctx context.Context, fullMethod string) (bool, error) {
	service, method, ok := splitMethod(fullMethod)
	if !ok {
		return false, fmt.Errorf("tether: method name %q is not of the form /package.Service/Method", fullMethod)
	}
	if c.describe != nil {
		if methods, ok := describedMethods(c.describe.Interfaces)[service]; ok {
			return slices.Contains(methods, method), nil
		}
		// Not part of any interface: one of the services every plugin
		// serves, one registered outside interfaces, or none at all.
	}
	methods, err := c.reflectedMethods(ctx, service)
	if err != nil {
		return false, &PluginError{Plugin: c.name, Kind: ErrCapabilitiesUnknown,
			Detail: "no Describe lists service " + service + ", and server reflection failed", Err: err}
	}
	return slices.Contains(methods, method), nil
}

// splitMethod splits "/pkg.Service/Method" (the leading slash optional).
func splitMethod(full string) (service, method string, ok bool) {
	service, method, ok = strings.Cut(strings.TrimPrefix(full, "/"), "/")
	return service, method, ok && service != "" && method != "" && !strings.Contains(method, "/")
}

func describedMethods(ifaces []*tetherv1.Interface) map[string][]string {
	m := map[string][]string{}
	for _, in := range ifaces {
		for _, s := range in.Services {
			m[s.Name] = append(m[s.Name], s.Methods...)
		}
	}
	return m
}

// reflectedMethods returns the methods of service through server
// reflection, none when the plugin does not serve it. Answers are
// remembered per client; failures are not, so a later call with a longer
// deadline may succeed.
func (c *Client) reflectedMethods(ctx context.Context, service string) ([]string, error) {
	c.reflectMu.Lock()
	defer c.reflectMu.Unlock()
	if methods, ok := c.reflected[service]; ok {
		return methods, nil
	}
	if c.reflected != nil && !c.reflectedAll[service] {
		return nil, nil // listed before, and not among the services
	}
	rc, err := reflectclient.New(ctx, c.conn)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if c.reflected == nil {
		c.reflected, c.reflectedAll = map[string][]string{}, map[string]bool{}
		for _, name := range rc.Services() {
			c.reflectedAll[name] = true
		}
	}
	if !c.reflectedAll[service] {
		return nil, nil
	}
	sd, err := rc.Service(service)
	if err != nil {
		return nil, err
	}
	var methods []string
	for i := range sd.Methods().Len() {
		methods = append(methods, string(sd.Methods().Get(i).Name()))
	}
	c.reflected[service] = methods
	return methods, nil
}

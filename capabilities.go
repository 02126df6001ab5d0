package tether

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// ErrCapabilitiesUnknown: the plugin can say neither through tether's
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
	methods, err := c.reflectedMethods(ctx)
	if err != nil {
		return false, &PluginError{Plugin: c.name, Kind: ErrCapabilitiesUnknown, ExitCode: -1,
			Detail: "its Describe does not list service " + service + " and server reflection failed", Err: err}
	}
	return slices.Contains(methods[service], method), nil
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

// reflectedMethods lists the plugin's services and their methods through
// server reflection, once per client; a failure is not remembered, so a
// later call with a longer deadline may succeed.
func (c *Client) reflectedMethods(ctx context.Context) (map[string][]string, error) {
	c.reflectMu.Lock()
	defer c.reflectMu.Unlock()
	if c.reflected != nil {
		return c.reflected, nil
	}
	m, err := reflectMethods(ctx, c.conn)
	if err != nil {
		return nil, err
	}
	c.reflected = m
	return m, nil
}

// reflectMethods asks a gRPC server for its services, then for the file
// defining each, and reads the methods from those descriptors.
func reflectMethods(ctx context.Context, conn grpc.ClientConnInterface) (map[string][]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	ask := func(req *reflectionpb.ServerReflectionRequest) (*reflectionpb.ServerReflectionResponse, error) {
		if err := stream.Send(req); err != nil {
			return nil, err
		}
		resp, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if e := resp.GetErrorResponse(); e != nil {
			return nil, fmt.Errorf("server reflection: %s", e.GetErrorMessage())
		}
		return resp, nil
	}
	resp, err := ask(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: ""}})
	if err != nil {
		return nil, err
	}
	methods := map[string][]string{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		methods[s.GetName()] = nil
	}
	for name := range methods {
		resp, err := ask(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: name}})
		if err != nil {
			return nil, err
		}
		for _, raw := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fd := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(raw, fd); err != nil {
				return nil, fmt.Errorf("server reflection sent a bad descriptor: %w", err)
			}
			for _, sd := range fd.GetService() {
				full := sd.GetName()
				if fd.GetPackage() != "" {
					full = fd.GetPackage() + "." + full
				}
				if full != name {
					continue
				}
				for _, md := range sd.GetMethod() {
					methods[name] = append(methods[name], md.GetName())
				}
			}
		}
	}
	_ = stream.CloseSend()
	return methods, nil
}

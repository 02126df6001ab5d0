package main

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tetherplug/tether/internal/descsource"
	"github.com/tetherplug/tether/internal/dynamic"
)

// builtinPrefixes are the name prefixes of the services tether and gRPC
// serve themselves, beside the plugin's interfaces: inspect lists them
// apart.
var builtinPrefixes = []string{"tether.v1.", "grpc.health.", "grpc.reflection.", "plugin.GRPC"}

// builtin reports whether a service is one of tether's or gRPC's own.
func builtin(service string) bool {
	return slices.ContainsFunc(builtinPrefixes, func(p string) bool { return strings.HasPrefix(service, p) })
}

// pluginFirst sorts service names: the plugin's own, then the built-in
// ones, each group by name.
func pluginFirst(services []string) []string {
	out := slices.Clone(services)
	slices.SortStableFunc(out, func(a, b string) int {
		if ba, bb := builtin(a), builtin(b); ba != bb {
			if ba {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	return out
}

// allMethods returns every method of every service src knows, the
// plugin's own services first.
func allMethods(src descsource.Source) ([]protoreflect.MethodDescriptor, error) {
	var out []protoreflect.MethodDescriptor
	for _, name := range pluginFirst(src.Services()) {
		sd, err := src.Service(name)
		if err != nil {
			return nil, err
		}
		for i := 0; i < sd.Methods().Len(); i++ {
			out = append(out, sd.Methods().Get(i))
		}
	}
	return out, nil
}

// methodName is a method's name as call takes it: pkg.Service/Method.
func methodName(md protoreflect.MethodDescriptor) string {
	return strings.TrimPrefix(dynamic.FullMethod(md), "/")
}

// findMethod looks a method up by the name call was given:
// pkg.Service/Method, /pkg.Service/Method, pkg.Service.Method, a service
// shortened to its last parts (Greeter/Greet, v1.Greeter.Greet), or a bare
// method name (Greet). A name that matches no method, or several, is a
// usage error listing the candidates.
func findMethod(d *descriptors, name string) (protoreflect.MethodDescriptor, error) {
	all, err := allMethods(d)
	if err != nil {
		return nil, err
	}
	t := strings.TrimPrefix(name, "/")
	if t == "" {
		return nil, usagef("method %q: want SERVICE/METHOD or METHOD, e.g. greeter.v1.Greeter/Greet", name)
	}
	matches := matchMethods(all, t)
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return nil, usagef("%s no method %q; %s methods are:\n  %s", d.has("has", "have"), name, d.its(), strings.Join(names(all), "\n  "))
	}
	return nil, usagef("method %q is ambiguous; it matches:\n  %s", name, strings.Join(names(matches), "\n  "))
}

// matchMethods returns the methods of all that name (without a leading
// "/") names.
func matchMethods(all []protoreflect.MethodDescriptor, name string) []protoreflect.MethodDescriptor {
	var matches []protoreflect.MethodDescriptor
	for _, md := range all {
		if methodMatches(md, name) {
			matches = append(matches, md)
		}
	}
	return matches
}

// methodMatches reports whether name (without a leading "/") names md.
func methodMatches(md protoreflect.MethodDescriptor, name string) bool {
	svc, method, sep := "", name, false
	if i := strings.LastIndex(name, "/"); i >= 0 {
		svc, method, sep = name[:i], name[i+1:], true
	} else if i := strings.LastIndex(name, "."); i >= 0 {
		svc, method, sep = name[:i], name[i+1:], true
	}
	if string(md.Name()) != method {
		return false
	}
	full := string(md.Parent().FullName())
	return !sep || full == svc || strings.HasSuffix(full, "."+svc)
}

// names are the methods' names as call takes them.
func names(mds []protoreflect.MethodDescriptor) []string {
	out := make([]string, len(mds))
	for i, md := range mds {
		out[i] = methodName(md)
	}
	return out
}

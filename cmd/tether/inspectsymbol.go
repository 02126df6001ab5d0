package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/descsource"
	"github.com/tetherplug/tether/internal/dynamic"
)

// symbolInfo is what inspect TARGET SYMBOL --json prints.
type symbolInfo struct {
	Symbol string `json:"symbol"`
	// Type is "method", "service", "message" or "enum".
	Type     string          `json:"type"`
	Kind     dynamic.Kind    `json:"kind,omitempty"` // a method's call shape
	Request  *messageInfo    `json:"request,omitempty"`
	Response *messageInfo    `json:"response,omitempty"`
	Message  *messageInfo    `json:"message,omitempty"`
	Methods  []methodInfo    `json:"methods,omitempty"`
	Values   []string        `json:"values,omitempty"`
	Template json.RawMessage `json:"template,omitempty"` // a method's request, or a message, with every field
}

type messageInfo struct {
	Name   string      `json:"name"`
	Fields []fieldInfo `json:"fields"`
}

type fieldInfo struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Number int32  `json:"number"`
	Label  string `json:"label,omitempty"` // "repeated", "optional" or ""
}

// inspectSymbol shows one symbol of the plugin c: a method, a service, a
// message or an enum.
func inspectSymbol(ctx context.Context, w io.Writer, c *tether.Client, pf *protoFlags, symbol string, asJSON bool) error {
	rc, err := pf.source(ctx, c.Conn())
	if err != nil {
		return err
	}
	defer rc.Close()
	d, err := findSymbol(rc, symbol)
	if err != nil {
		return err
	}
	if asJSON {
		info, err := symbolJSON(d, rc.Types())
		if err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	switch d := d.(type) {
	case protoreflect.MethodDescriptor:
		return describeMethod(w, d, rc.Types())
	case protoreflect.ServiceDescriptor:
		fmt.Fprintf(w, "service %s\n", d.FullName())
		for i := 0; i < d.Methods().Len(); i++ {
			md := d.Methods().Get(i)
			fmt.Fprintf(w, "  %s(%s) returns (%s)  %s\n", md.Name(), md.Input().FullName(), md.Output().FullName(), dynamic.KindOf(md))
		}
		return nil
	case protoreflect.MessageDescriptor:
		fmt.Fprintf(w, "message %s\n", d.FullName())
		describeMessage(w, "  ", d)
		tmpl, err := jsonTemplate(d, rc.Types())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "template:\n%s\n", indentLines(tmpl, "  "))
		return err
	case protoreflect.EnumDescriptor:
		fmt.Fprintf(w, "enum %s\n", d.FullName())
		for i := 0; i < d.Values().Len(); i++ {
			v := d.Values().Get(i)
			fmt.Fprintf(w, "  %s = %d;\n", v.Name(), v.Number())
		}
		return nil
	}
	return usagef("%s is a %T, not a method, service, message or enum", symbol, d)
}

// findSymbol looks symbol up: a full name first (pkg.Service/Method counts
// as pkg.Service.Method), then a method as call finds it (Greet,
// Greeter/Greet), then a service by the last parts of its name.
func findSymbol(rc *descriptors, symbol string) (protoreflect.Descriptor, error) {
	full := strings.ReplaceAll(strings.TrimPrefix(symbol, "/"), "/", ".")
	d, err := rc.Symbol(full)
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, descsource.ErrUnknownSymbol) {
		return nil, err
	}
	var services []string
	for _, s := range rc.Services() {
		if strings.HasSuffix(s, "."+full) {
			services = append(services, s)
		}
	}
	if len(services) == 1 {
		return rc.Service(services[0])
	}
	all, err := allMethods(rc)
	if err != nil {
		return nil, err
	}
	if len(services) > 1 {
		return nil, usagef("service %q is ambiguous; it matches:\n  %s", symbol, strings.Join(services, "\n  "))
	}
	if len(matchMethods(all, strings.TrimPrefix(symbol, "/"))) > 0 {
		return findMethod(rc, symbol) // one method, or the error listing the candidates
	}
	return nil, usagef("%s no method, service or message %q; %s services are:\n  %s",
		rc.has("knows", "know"), symbol, rc.its(), strings.Join(pluginFirst(rc.Services()), "\n  "))
}

// symbolJSON is d as inspect --json shows it.
func symbolJSON(d protoreflect.Descriptor, resolver dynamic.Resolver) (*symbolInfo, error) {
	info := &symbolInfo{Symbol: string(d.FullName())}
	var tmplOf protoreflect.MessageDescriptor
	switch d := d.(type) {
	case protoreflect.MethodDescriptor:
		info.Symbol, info.Type, info.Kind = methodName(d), "method", dynamic.KindOf(d)
		info.Request, info.Response, tmplOf = messageJSON(d.Input()), messageJSON(d.Output()), d.Input()
	case protoreflect.ServiceDescriptor:
		info.Type = "service"
		for i := 0; i < d.Methods().Len(); i++ {
			md := d.Methods().Get(i)
			info.Methods = append(info.Methods, methodInfo{Name: string(md.Name()), Kind: dynamic.KindOf(md),
				Request: string(md.Input().FullName()), Response: string(md.Output().FullName())})
		}
	case protoreflect.MessageDescriptor:
		info.Type, info.Message, tmplOf = "message", messageJSON(d), d
	case protoreflect.EnumDescriptor:
		info.Type = "enum"
		for i := 0; i < d.Values().Len(); i++ {
			info.Values = append(info.Values, string(d.Values().Get(i).Name()))
		}
	default:
		return nil, usagef("%s is not a method, service, message or enum", d.FullName())
	}
	if tmplOf != nil {
		tmpl, err := jsonTemplate(tmplOf, resolver)
		if err != nil {
			return nil, err
		}
		info.Template = json.RawMessage(tmpl)
	}
	return info, nil
}

// messageJSON lists a message's fields.
func messageJSON(md protoreflect.MessageDescriptor) *messageInfo {
	mi := &messageInfo{Name: string(md.FullName()), Fields: []fieldInfo{}}
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		fi := fieldInfo{Name: string(fd.Name()), Type: fieldType(fd), Number: int32(fd.Number())}
		switch {
		case fd.IsList():
			fi.Label = "repeated"
		case fd.HasOptionalKeyword():
			fi.Label = "optional"
		}
		mi.Fields = append(mi.Fields, fi)
	}
	return mi
}

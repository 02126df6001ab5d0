package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/tetherplug/tether/internal/dynamic"
)

// jsonTemplate is a request of message type md in JSON with every field
// present, holding its zero value; a repeated field has one element, a map
// one entry, a nested message its own fields (once per type on a path, so
// that recursive types end). Only the first field of a oneof is shown.
func jsonTemplate(md protoreflect.MessageDescriptor, resolver dynamic.Resolver) (string, error) {
	msg := dynamicpb.NewMessage(md)
	fill(msg, nil)
	b, err := protojson.MarshalOptions{EmitUnpopulated: true, Resolver: resolver}.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("template of %s: %w", md.FullName(), err)
	}
	// protojson varies its spacing from build to build on purpose:
	// indent it the same way every time.
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// fill sets every field of msg to a sample value; path holds the message
// types being filled above it.
func fill(msg protoreflect.Message, path []protoreflect.FullName) {
	md := msg.Descriptor()
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return // well-known types have JSON forms of their own; null says "unset"
	}
	for _, p := range path {
		if p == md.FullName() {
			return
		}
	}
	path = append(path, md.FullName())
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && od.Fields().Get(0) != fd {
			continue
		}
		switch {
		case fd.IsMap():
			m := msg.Mutable(fd).Map()
			m.Set(fd.MapKey().Default().MapKey(), sample(m.NewValue(), fd.MapValue(), path))
		case fd.IsList():
			l := msg.Mutable(fd).List()
			l.Append(sample(l.NewElement(), fd, path))
		case fd.Message() != nil:
			fill(msg.Mutable(fd).Message(), path)
		default:
			msg.Set(fd, fd.Default())
		}
	}
}

// sample is v, a new element of list or map field fd (its zero value),
// filled in if it is a message.
func sample(v protoreflect.Value, fd protoreflect.FieldDescriptor, path []protoreflect.FullName) protoreflect.Value {
	switch {
	case fd.Message() != nil:
		fill(v.Message(), path)
	case fd.Kind() == protoreflect.EnumKind && fd.Enum().Values().Len() > 0:
		return protoreflect.ValueOfEnum(fd.Enum().Values().Get(0).Number())
	}
	return v
}

// describeMessage writes md's fields as a .proto file declares them.
func describeMessage(w io.Writer, indent string, md protoreflect.MessageDescriptor) {
	fields := md.Fields()
	if fields.Len() == 0 {
		fmt.Fprintf(w, "%s(no fields)\n", indent)
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		label := ""
		switch {
		case fd.IsMap():
		case fd.IsList():
			label = "repeated "
		case fd.HasOptionalKeyword():
			label = "optional "
		}
		oneof := ""
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			oneof = " (oneof " + string(od.Name()) + ")"
		}
		fmt.Fprintf(w, "%s%s%s %s = %d;%s\n", indent, label, fieldType(fd), fd.Name(), fd.Number(), oneof)
	}
}

// fieldType is a field's type as a .proto file writes it.
func fieldType(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map<" + fieldType(fd.MapKey()) + ", " + fieldType(fd.MapValue()) + ">"
	case fd.Message() != nil:
		return string(fd.Message().FullName())
	case fd.Enum() != nil:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

// describeMethod writes a method with its request and response types, their
// fields and a JSON template of its request.
func describeMethod(w io.Writer, md protoreflect.MethodDescriptor, resolver dynamic.Resolver) error {
	fmt.Fprintf(w, "method %s (%s)\n", methodName(md), dynamic.KindOf(md))
	fmt.Fprintf(w, "request %s\n", md.Input().FullName())
	describeMessage(w, "  ", md.Input())
	fmt.Fprintf(w, "response %s\n", md.Output().FullName())
	describeMessage(w, "  ", md.Output())
	tmpl, err := jsonTemplate(md.Input(), resolver)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "request template:\n%s\n", indentLines(tmpl, "  "))
	return err
}

// indentLines puts prefix before every line of s.
func indentLines(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

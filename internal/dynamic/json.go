package dynamic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Resolver finds message types named in google.protobuf.Any values; a
// *dynamicpb.Types or protoregistry.GlobalTypes will do.
type Resolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// JSONSource reads JSON request messages from r: a sequence of JSON objects
// separated by white space, typically one per line. A message may span
// lines. The n-th message that fails to parse gives an error naming n.
func JSONSource(r io.Reader, resolver Resolver) Source {
	dec := json.NewDecoder(r)
	opts := protojson.UnmarshalOptions{Resolver: resolver}
	n := 0
	return func(msg proto.Message) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return io.EOF
			}
			return fmt.Errorf("request %d: not JSON: %w", n+1, err)
		}
		n++
		if err := opts.Unmarshal(raw, msg); err != nil {
			return fmt.Errorf("request %d: not a %s: %w", n, msg.ProtoReflect().Descriptor().FullName(), err)
		}
		return nil
	}
}

// JSONSink writes each response message to w as JSON followed by a newline:
// indented over several lines when multiline is set, otherwise on one line,
// so that a stream of responses reads as one message per line. With
// emitDefaults, fields holding their zero value are written too.
func JSONSink(w io.Writer, resolver Resolver, multiline, emitDefaults bool) Sink {
	opts := protojson.MarshalOptions{Resolver: resolver, EmitUnpopulated: emitDefaults}
	var mu sync.Mutex
	return func(msg proto.Message) error {
		b, err := opts.Marshal(msg)
		if err != nil {
			return err
		}
		// protojson varies its spacing from build to build on purpose;
		// reformat so that the output is the same every time.
		var buf bytes.Buffer
		if multiline {
			err = json.Indent(&buf, b, "", "  ")
		} else {
			err = json.Compact(&buf, b)
		}
		if err != nil {
			return err
		}
		buf.WriteByte('\n')
		mu.Lock()
		defer mu.Unlock()
		_, err = w.Write(buf.Bytes())
		return err
	}
}

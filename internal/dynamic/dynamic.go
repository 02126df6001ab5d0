// Package dynamic calls gRPC methods known only by their descriptors, of
// any of the four call shapes, with messages built by dynamicpb and read
// from or written as JSON (protojson).
package dynamic

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Kind names a method's call shape.
type Kind string

// The four call shapes of gRPC.
const (
	Unary           Kind = "unary"
	ServerStreaming Kind = "server-streaming"
	ClientStreaming Kind = "client-streaming"
	BidiStreaming   Kind = "bidi-streaming"
)

// KindOf returns a method's call shape.
func KindOf(md protoreflect.MethodDescriptor) Kind {
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		return BidiStreaming
	case md.IsStreamingClient():
		return ClientStreaming
	case md.IsStreamingServer():
		return ServerStreaming
	}
	return Unary
}

// FullMethod is the method's name on the wire: "/package.Service/Method".
func FullMethod(md protoreflect.MethodDescriptor) string {
	return "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
}

// Source yields request messages in turn and io.EOF after the last. It is
// given a new empty message of the method's input type to fill.
type Source func(msg proto.Message) error

// Sink receives each response message as it arrives.
type Sink func(msg proto.Message) error

// ErrOneRequest is returned when a method that takes one request (unary or
// server-streaming) is given more than one.
var ErrOneRequest = errors.New("the method takes exactly one request message, got more")

// Call invokes md on conn. Unary and server-streaming methods take one
// request from in (none at all means an empty message); client-streaming
// and bidirectional methods send every message in yields, as it yields
// them, and close the sending side at io.EOF. Each response goes to out as
// it arrives. Call returns when the call ends: nil after the server's OK
// status, otherwise the gRPC status error, or the first error from in or
// out (which cancels the call).
//
// For streaming requests, in runs in a goroutine of its own that Call does
// not wait for once the call has ended: a Source blocked on input returns
// when that input is closed.
func Call(ctx context.Context, conn grpc.ClientConnInterface, md protoreflect.MethodDescriptor, in Source, out Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	method := FullMethod(md)
	newIn := func() proto.Message { return dynamicpb.NewMessage(md.Input()) }
	newOut := func() proto.Message { return dynamicpb.NewMessage(md.Output()) }

	if !md.IsStreamingClient() {
		req, err := single(in, newIn)
		if err != nil {
			return err
		}
		if !md.IsStreamingServer() {
			resp := newOut()
			if err := conn.Invoke(ctx, method, req, resp); err != nil {
				return err
			}
			return out(resp)
		}
		stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
		if err != nil {
			return err
		}
		if err := stream.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		return receive(stream, newOut, out)
	}

	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: md.IsStreamingServer()}, method)
	if err != nil {
		return err
	}
	sendErr := make(chan error, 1)
	go func() {
		err := send(stream, in, newIn)
		sendErr <- err // before cancel, so that Call reports err, not the cancellation
		if err != nil {
			cancel()
		}
	}()
	recvErr := receive(stream, newOut, out)
	select {
	case err := <-sendErr:
		if err != nil {
			return err
		}
	default:
	}
	return recvErr
}

// single reads the one request of a unary or server-streaming call.
func single(in Source, newIn func() proto.Message) (proto.Message, error) {
	req := newIn()
	switch err := in(req); {
	case errors.Is(err, io.EOF):
		return newIn(), nil
	case err != nil:
		return nil, err
	}
	switch err := in(newIn()); {
	case errors.Is(err, io.EOF):
		return req, nil
	case err != nil:
		return nil, err
	}
	return nil, ErrOneRequest
}

// send sends every request, then closes the sending side. A send that fails
// because the call already ended is not an error here: receive reports the
// call's status.
func send(stream grpc.ClientStream, in Source, newIn func() proto.Message) error {
	for {
		req := newIn()
		err := in(req)
		if errors.Is(err, io.EOF) {
			return stream.CloseSend()
		}
		if err != nil {
			return err
		}
		if err := stream.SendMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// receive hands each response to out until the stream ends.
func receive(stream grpc.ClientStream, newOut func() proto.Message, out Sink) error {
	for {
		resp := newOut()
		err := stream.RecvMsg(resp)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := out(resp); err != nil {
			return fmt.Errorf("writing a response: %w", err)
		}
	}
}

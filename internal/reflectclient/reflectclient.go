// Package reflectclient learns a gRPC server's services and message types
// through gRPC server reflection (grpc.reflection.v1, falling back to
// v1alpha for older servers), and turns them into protobuf descriptors.
//
// A Client holds one reflection stream open; it fetches each file
// descriptor once, with its dependencies, and builds descriptors with
// protodesc, so callers get protoreflect.ServiceDescriptor values they can
// use with dynamicpb.
package reflectclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The reflection methods tried, newest first. v1alpha's messages are the
// same on the wire as v1's, so v1's Go types serve for both.
var methods = []string{
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
}

var streamDesc = &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}

// ErrNoReflection means the server does not serve gRPC server reflection.
var ErrNoReflection = errors.New("server reflection is not available")

// ErrUnknownSymbol means the server knows no symbol of the name asked for.
var ErrUnknownSymbol = errors.New("the server knows no such symbol")

// Client asks one server about its services over a reflection stream. Its
// methods are safe for concurrent use; requests are serialised on the
// stream.
type Client struct {
	mu       sync.Mutex
	stream   grpc.ClientStream
	cancel   context.CancelFunc
	services []string
	protos   map[string]*descriptorpb.FileDescriptorProto // by file name
	files    *protoregistry.Files
}

// New opens a reflection stream on conn and lists the server's services.
// ctx bounds the stream's whole life: cancel it or call Close when done.
// A server without reflection gives an error wrapping ErrNoReflection.
func New(ctx context.Context, conn grpc.ClientConnInterface) (*Client, error) {
	var lastErr error
	for _, method := range methods {
		sctx, cancel := context.WithCancel(ctx)
		stream, err := conn.NewStream(sctx, streamDesc, method)
		if err != nil {
			cancel()
			return nil, err
		}
		c := &Client{stream: stream, cancel: cancel, protos: map[string]*descriptorpb.FileDescriptorProto{}, files: new(protoregistry.Files)}
		resp, err := c.ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}})
		if status.Code(err) == codes.Unimplemented {
			cancel()
			lastErr = err
			continue
		}
		if err != nil {
			cancel()
			return nil, err
		}
		list := resp.GetListServicesResponse()
		if list == nil {
			cancel()
			return nil, fmt.Errorf("reflection: unexpected answer %T to a list request", resp.GetMessageResponse())
		}
		for _, s := range list.GetService() {
			c.services = append(c.services, s.GetName())
		}
		slices.Sort(c.services)
		return c, nil
	}
	return nil, fmt.Errorf("%w: %v", ErrNoReflection, lastErr)
}

// Close ends the reflection stream.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.stream.CloseSend()
	c.cancel()
}

// Services returns the fully qualified names of every service the server
// lists, sorted.
func (c *Client) Services() []string { return slices.Clone(c.services) }

// Service returns the descriptor of a service, fetching the file that
// defines it and every file that file imports.
func (c *Client) Service(name string) (protoreflect.ServiceDescriptor, error) {
	d, err := c.Symbol(name)
	if err != nil {
		return nil, fmt.Errorf("reflection: service %s: %w", name, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a service", name)
	}
	return sd, nil
}

// Symbol returns the descriptor of a fully qualified name the server knows:
// a service, a method (pkg.Service.Method), a message, an enum or a field,
// fetching the file that defines it and every file that file imports. A
// name the server does not know is an error wrapping ErrUnknownSymbol.
func (c *Client) Symbol(name string) (protoreflect.Descriptor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, err := c.files.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
		return d, nil
	}
	resp, err := c.ask(&rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: name}})
	if status.Code(err) == codes.NotFound {
		return nil, fmt.Errorf("%w: %s", ErrUnknownSymbol, name)
	}
	if err != nil {
		return nil, err
	}
	first, err := c.keep(resp)
	if err != nil {
		return nil, err
	}
	fd, err := c.build(first, nil)
	if err != nil {
		return nil, err
	}
	d, err := c.files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("file %s does not define %s", fd.Path(), name)
	}
	return d, nil
}

// Types returns a resolver for every message, enum and extension type
// fetched so far, for protojson's handling of google.protobuf.Any.
func (c *Client) Types() *dynamicpb.Types {
	c.mu.Lock()
	defer c.mu.Unlock()
	return dynamicpb.NewTypes(c.files)
}

// ask sends one request and waits for its answer. An error answer becomes
// a gRPC status error.
func (c *Client) ask(req *rpb.ServerReflectionRequest) (*rpb.ServerReflectionResponse, error) {
	if err := c.stream.SendMsg(req); err != nil {
		return nil, c.recvErr(err)
	}
	resp := new(rpb.ServerReflectionResponse)
	if err := c.stream.RecvMsg(resp); err != nil {
		return nil, c.recvErr(err)
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, status.Error(codes.Code(e.GetErrorCode()), e.GetErrorMessage())
	}
	return resp, nil
}

// recvErr returns the stream's real status when a send failed because the
// stream had already ended.
func (c *Client) recvErr(err error) error {
	if errors.Is(err, io.EOF) {
		if rerr := c.stream.RecvMsg(new(rpb.ServerReflectionResponse)); rerr != nil {
			return rerr
		}
	}
	return err
}

// keep stores the file descriptors of an answer and returns the name of the
// first, the one asked for (dependencies may follow it).
func (c *Client) keep(resp *rpb.ServerReflectionResponse) (string, error) {
	fdr := resp.GetFileDescriptorResponse()
	if fdr == nil || len(fdr.GetFileDescriptorProto()) == 0 {
		return "", fmt.Errorf("unexpected answer %T to a file request", resp.GetMessageResponse())
	}
	first := ""
	for _, raw := range fdr.GetFileDescriptorProto() {
		fdp := new(descriptorpb.FileDescriptorProto)
		if err := proto.Unmarshal(raw, fdp); err != nil {
			return "", fmt.Errorf("bad file descriptor: %w", err)
		}
		if first == "" {
			first = fdp.GetName()
		}
		if _, ok := c.protos[fdp.GetName()]; !ok {
			c.protos[fdp.GetName()] = fdp
		}
	}
	return first, nil
}

// build makes the descriptor of a file after its dependencies, asking the
// server for any file it has not sent yet. Files the server does not know
// (well-known types a non-Go server leaves out) come from the descriptors
// linked into this program. visiting guards against import cycles.
func (c *Client) build(name string, visiting []string) (protoreflect.FileDescriptor, error) {
	if fd, err := c.files.FindFileByPath(name); err == nil {
		return fd, nil
	}
	if slices.Contains(visiting, name) {
		return nil, fmt.Errorf("import cycle through %s", name)
	}
	fdp, ok := c.protos[name]
	if !ok {
		resp, err := c.ask(&rpb.ServerReflectionRequest{
			MessageRequest: &rpb.ServerReflectionRequest_FileByFilename{FileByFilename: name}})
		if err == nil {
			_, err = c.keep(resp)
		}
		if fdp, ok = c.protos[name]; !ok {
			if fd, gerr := protoregistry.GlobalFiles.FindFileByPath(name); gerr == nil {
				return fd, c.files.RegisterFile(fd)
			}
			return nil, fmt.Errorf("file %s: %v", name, err)
		}
	}
	for _, dep := range fdp.GetDependency() {
		if _, err := c.build(dep, append(visiting, name)); err != nil {
			return nil, err
		}
	}
	fd, err := protodesc.NewFile(fdp, c.files)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", name, err)
	}
	return fd, c.files.RegisterFile(fd)
}

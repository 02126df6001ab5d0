// Package descsource is where tether's CLI learns the services and message
// types of a plugin: gRPC server reflection (package reflectclient), or,
// for a plugin that serves none, .proto files compiled on the spot
// (Compile) or compiled descriptor sets (ReadProtosets). Every source has
// the same small interface, Source, so that the code that lists, describes
// and calls methods does not care which one it has.
package descsource

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/tetherplug/tether/internal/reflectclient"
)

// Source yields the descriptors of a plugin's services and of the types
// they use. *reflectclient.Client is one; *Files is another.
type Source interface {
	// Services returns the fully qualified names of the services, sorted.
	Services() []string
	// Service returns the descriptor of a service of Services.
	Service(name string) (protoreflect.ServiceDescriptor, error)
	// Symbol returns the descriptor of a fully qualified name: a service,
	// a method (pkg.Service.Method), a message, an enum or a field. An
	// unknown name is an error wrapping ErrUnknownSymbol.
	Symbol(name string) (protoreflect.Descriptor, error)
	// Types resolves the message types of google.protobuf.Any values.
	Types() *dynamicpb.Types
	// Close releases what the source holds.
	Close()
}

var _ Source = (*reflectclient.Client)(nil)

// ErrUnknownSymbol means the source knows no symbol of the name asked for.
// It is reflectclient's error value, so that errors.Is matches it whichever
// the source.
var ErrUnknownSymbol = reflectclient.ErrUnknownSymbol

// The errors of loading files, each wrapped with the file and the detail.
var (
	// ErrNoFile: a file named on the command line does not exist.
	ErrNoFile = errors.New("no such file")
	// ErrImportNotFound: an import is in none of the import paths.
	ErrImportNotFound = errors.New("import not found")
	// ErrNotDescriptorSet: a protoset file is not a serialized
	// google.protobuf.FileDescriptorSet, or its files do not link.
	ErrNotDescriptorSet = errors.New("not a FileDescriptorSet")
)

// Files is a Source made of file descriptors: every service they declare,
// and every type they and their imports declare.
type Files struct {
	files    *protoregistry.Files
	services []string
}

var _ Source = (*Files)(nil)

// newFiles indexes the services of files.
func newFiles(files *protoregistry.Files) *Files {
	f := &Files{files: files}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			f.services = append(f.services, string(fd.Services().Get(i).FullName()))
		}
		return true
	})
	slices.Sort(f.services)
	return f
}

// Services returns the fully qualified names of every service the files
// declare, sorted.
func (f *Files) Services() []string { return slices.Clone(f.services) }

// Service returns the descriptor of a service the files declare.
func (f *Files) Service(name string) (protoreflect.ServiceDescriptor, error) {
	d, err := f.Symbol(name)
	if err != nil {
		return nil, err
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a service", name)
	}
	return sd, nil
}

// Symbol returns the descriptor of a fully qualified name the files
// declare; an unknown name is an error wrapping ErrUnknownSymbol.
func (f *Files) Symbol(name string) (protoreflect.Descriptor, error) {
	d, err := f.files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownSymbol, name)
	}
	return d, nil
}

// Types resolves every message, enum and extension type of the files.
func (f *Files) Types() *dynamicpb.Types { return dynamicpb.NewTypes(f.files) }

// Close does nothing: Files holds no connection.
func (f *Files) Close() {}

// register adds fd and, first, every file it imports to files, each once.
func register(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	imports := fd.Imports()
	for i := 0; i < imports.Len(); i++ {
		if err := register(files, imports.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return files.RegisterFile(fd)
}

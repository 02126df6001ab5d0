package descsource

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ReadProtosets reads compiled descriptor sets, serialized
// google.protobuf.FileDescriptorSet messages as
// `protoc --include_imports -o FILE` and `buf build -o FILE.binpb` write
// them, and links their files together. A file may be in several sets if
// it is the same in each. Imports of google/protobuf's well-known files
// that a set leaves out are taken from those built into tether; any other
// import missing is an error.
func ReadProtosets(paths []string) (*Files, error) {
	var all []*descriptorpb.FileDescriptorProto
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			if os.IsNotExist(err) {
				return nil, fmt.Errorf("%s: %w", path, ErrNoFile)
			}
			return nil, err
		}
		set, err := parseSet(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		all = append(all, set.GetFile()...)
	}
	f, err := linkAll(all)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(paths, ", "), err)
	}
	return f, nil
}

// ParseProtoset links the files of one serialized FileDescriptorSet.
func ParseProtoset(data []byte) (*Files, error) {
	set, err := parseSet(data)
	if err != nil {
		return nil, err
	}
	return linkAll(set.GetFile())
}

// linkAll links file descriptors, each name once: a name given twice must
// be the same file.
func linkAll(all []*descriptorpb.FileDescriptorProto) (*Files, error) {
	protos := map[string]*descriptorpb.FileDescriptorProto{}
	for _, fdp := range all {
		if have, ok := protos[fdp.GetName()]; ok && !proto.Equal(have, fdp) {
			return nil, fmt.Errorf("%w: two different files are named %s", ErrNotDescriptorSet, fdp.GetName())
		}
		protos[fdp.GetName()] = fdp
	}
	files := new(protoregistry.Files)
	for _, fdp := range all {
		if _, err := link(files, protos, fdp.GetName(), nil); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotDescriptorSet, err)
		}
	}
	return newFiles(files), nil
}

// parseSet decodes a FileDescriptorSet that holds at least one named file.
func parseSet(data []byte) (*descriptorpb.FileDescriptorSet, error) {
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(data, set); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotDescriptorSet, err)
	}
	if len(set.GetFile()) == 0 {
		return nil, fmt.Errorf("%w: it holds no file descriptors", ErrNotDescriptorSet)
	}
	for _, fdp := range set.GetFile() {
		if fdp.GetName() == "" {
			return nil, fmt.Errorf("%w: it holds a file descriptor without a name", ErrNotDescriptorSet)
		}
	}
	return set, nil
}

// link makes the descriptor of the file name after its imports, and
// registers it; visiting guards against import cycles.
func link(files *protoregistry.Files, protos map[string]*descriptorpb.FileDescriptorProto, name string, visiting []string) (protoreflect.FileDescriptor, error) {
	if fd, err := files.FindFileByPath(name); err == nil {
		return fd, nil
	}
	if slices.Contains(visiting, name) {
		return nil, fmt.Errorf("import cycle through %s", name)
	}
	fdp, ok := protos[name]
	if !ok {
		if strings.HasPrefix(name, "google/protobuf/") {
			if fd, err := protoregistry.GlobalFiles.FindFileByPath(name); err == nil {
				return fd, register(files, fd)
			}
		}
		if len(visiting) == 0 {
			return nil, fmt.Errorf("no file %s", name)
		}
		return nil, fmt.Errorf("file %s imports %s, which the set lacks (build it with protoc --include_imports)", visiting[len(visiting)-1], name)
	}
	for _, dep := range fdp.GetDependency() {
		if _, err := link(files, protos, dep, append(visiting, name)); err != nil {
			return nil, err
		}
	}
	fd, err := protodesc.NewFile(fdp, files)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", name, err)
	}
	return fd, files.RegisterFile(fd)
}

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/descsource"
	"github.com/tetherplug/tether/internal/reflectclient"
)

// protoFlags are --proto, --import-path and --protoset: the descriptors of
// a plugin that serves no gRPC server reflection, taken from its .proto
// files or from compiled descriptor sets instead.
type protoFlags struct {
	protos      []string
	importPaths []string
	protosets   []string
	files       *descriptors // what load read, or nil: reflection
}

func (p *protoFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringSliceVar(&p.protos, "proto", nil,
		"take the plugin's services from this .proto file instead of server reflection; repeat, or separate with commas, for several")
	fs.StringArrayVar(&p.importPaths, "import-path", nil,
		"a directory to search for --proto files and their imports, before each --proto file's own; repeat for several (default: the current directory)")
	fs.StringSliceVar(&p.protosets, "protoset", nil,
		"take the plugin's services from this compiled FileDescriptorSet (protoc --include_imports -o, buf build -o) instead of server reflection; repeat for several")
}

// descriptors is where a command learns the plugin's services and types:
// server reflection, or the files of --proto or --protoset.
type descriptors struct {
	descsource.Source
	// from names the source in messages: "the plugin", "the --proto
	// files" or "the --protoset files".
	from string
}

// has is from with its verb: "the plugin has", "the --proto files have".
func (d *descriptors) has(singular, plural string) string {
	if d.from == fromPlugin {
		return d.from + " " + singular
	}
	return d.from + " " + plural
}

// its is the possessive of from.
func (d *descriptors) its() string {
	if d.from == fromPlugin {
		return "its"
	}
	return "their"
}

const fromPlugin = "the plugin"

// noReflection is the error of a plugin that serves no reflection, when
// neither --proto nor --protoset was given: docs/cli.md quotes it.
const noReflection = "the plugin serves no gRPC server reflection (grpc.reflection.v1 and v1alpha are unimplemented): " +
	"pass its .proto files with --proto (and --import-path), or a compiled descriptor set with --protoset"

// noReflectionError says to pass --proto or --protoset, in place of the
// reflection client's error, which it wraps.
type noReflectionError struct{ err error }

func (e noReflectionError) Error() string { return noReflection }
func (e noReflectionError) Unwrap() error { return e.err }

// load compiles the --proto files or reads the --protoset files, before
// the plugin is loaded: a mistake in them is a usage error (exit status
// 2). Without either flag it does nothing, and source uses reflection.
func (p *protoFlags) load(ctx context.Context) error {
	var err error
	var src *descsource.Files
	switch {
	case len(p.protos) > 0 && len(p.protosets) > 0:
		return usagef("--proto and --protoset: give one or the other")
	case len(p.importPaths) > 0 && len(p.protos) == 0:
		return usagef("--import-path is where --proto files are searched for: give --proto too")
	case len(p.protos) > 0:
		if src, err = descsource.Compile(ctx, p.protos, p.importPaths); err != nil {
			return usageError(protoError("--proto", err))
		}
		p.files = &descriptors{src, "the --proto files"}
	case len(p.protosets) > 0:
		if src, err = descsource.ReadProtosets(p.protosets); err != nil {
			return usageError(protoError("--protoset", err))
		}
		p.files = &descriptors{src, "the --protoset files"}
	}
	return nil
}

// protoError names the flag of a file that could not be loaded, unless
// the error names a place in a file (FILE:LINE:COL), and says how to fix
// an import not found.
func protoError(flag string, err error) error {
	var pe *descsource.PosError
	switch {
	case errors.Is(err, descsource.ErrImportNotFound):
		return fmt.Errorf("%w (add the directory its import path starts from with --import-path)", err)
	case errors.As(err, &pe):
		return err
	}
	return fmt.Errorf("%s %w", flag, err)
}

// source returns the files load read or, without them, a reflection client
// of the plugin at conn; close it when done. A plugin without reflection is
// a usage error saying which flags to pass.
func (p *protoFlags) source(ctx context.Context, conn grpc.ClientConnInterface) (*descriptors, error) {
	if p.files != nil {
		return p.files, nil
	}
	rc, err := reflectclient.New(ctx, conn)
	if errors.Is(err, reflectclient.ErrNoReflection) {
		return nil, usageError(noReflectionError{err})
	}
	if err != nil {
		return nil, err
	}
	return &descriptors{rc, fromPlugin}, nil
}

// flagsGiven reports whether the files come from --proto or --protoset.
func (p *protoFlags) flagsGiven() bool { return len(p.protos) > 0 || len(p.protosets) > 0 }

// servicesFrom is what inspect --json says the services come from.
func (p *protoFlags) servicesFrom() string {
	switch {
	case len(p.protos) > 0:
		return "proto"
	case len(p.protosets) > 0:
		return "protoset"
	}
	return "reflection"
}

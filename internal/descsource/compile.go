package descsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// ImportPaths are the directories Compile searches for the .proto files it
// is given and for their imports: importPaths in order (the current
// directory when there are none), then the directory of each of protos
// that exists as a path, so that a file's neighbours may be imported by
// their bare names.
func ImportPaths(protos, importPaths []string) []string {
	paths := slices.Clone(importPaths)
	if len(paths) == 0 {
		paths = []string{"."}
	}
	for _, p := range protos {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			paths = append(paths, filepath.Dir(p))
		}
	}
	for i, p := range paths {
		paths[i] = filepath.Clean(p)
	}
	return slices.Compact(paths)
}

// Compile parses and links the .proto files protos and everything they
// import, found in ImportPaths(protos, importPaths); google/protobuf's
// well-known files need not be on disk. Each of protos is a path (as the
// shell gives it) or a name under an import path; the files that import it
// know it by its path relative to the first import path that holds it.
//
// Errors name their cause: a file that is not there (ErrNoFile), an import
// in none of the import paths (ErrImportNotFound, naming the paths), a
// syntax or type error as FILE:LINE:COL: MESSAGE.
func Compile(ctx context.Context, protos, importPaths []string) (*Files, error) {
	if len(protos) == 0 {
		return nil, errors.New("no .proto file to compile")
	}
	l := &loader{importPaths: ImportPaths(protos, importPaths), disk: map[string]string{}}
	names := make([]string, 0, len(protos))
	for _, p := range protos {
		name, err := l.rootName(p)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(l.find))}
	linked, err := c.Compile(ctx, names...)
	if err != nil {
		return nil, l.located(err)
	}
	files := new(protoregistry.Files)
	for _, fd := range linked {
		if err := register(files, fd); err != nil {
			return nil, err
		}
	}
	return newFiles(files), nil
}

// loader finds .proto files in the import paths and remembers where on
// disk each one came from, to name it so in errors.
type loader struct {
	importPaths []string
	mu          sync.Mutex
	disk        map[string]string // file name → path on disk
}

// rootName is the name under which a file named on the command line is
// compiled.
func (l *loader) rootName(arg string) (string, error) {
	fi, err := os.Stat(arg)
	if err == nil && fi.IsDir() {
		return "", fmt.Errorf("%s is a directory, not a .proto file (name the files in it, and give it as an import path)", arg)
	}
	if err == nil {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return "", err
		}
		for _, dir := range l.importPaths {
			absDir, err := filepath.Abs(dir)
			if err != nil {
				return "", err
			}
			if rel, err := filepath.Rel(absDir, abs); err == nil && filepath.IsLocal(rel) {
				return filepath.ToSlash(rel), nil
			}
		}
	}
	name := filepath.ToSlash(filepath.Clean(arg))
	if filepath.IsLocal(name) {
		for _, dir := range l.importPaths {
			if isFile(filepath.Join(dir, filepath.FromSlash(name))) {
				return name, nil
			}
		}
	}
	return "", fmt.Errorf("%s: %w (not in the current directory nor under the import paths %s)", arg, ErrNoFile, l.paths())
}

// find opens the file of a name in the first import path that has it.
func (l *loader) find(name string) (protocompile.SearchResult, error) {
	for _, dir := range l.importPaths {
		p := filepath.Join(dir, filepath.FromSlash(name))
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) || err == nil && !isFile(p) {
			if f != nil {
				f.Close()
			}
			continue
		}
		if err != nil {
			return protocompile.SearchResult{}, err
		}
		l.mu.Lock()
		l.disk[name] = p
		l.mu.Unlock()
		return protocompile.SearchResult{Source: f}, nil
	}
	return protocompile.SearchResult{}, fmt.Errorf("%w: %q is in none of the import paths %s", ErrImportNotFound, name, l.paths())
}

// paths lists the import paths for a message.
func (l *loader) paths() string { return strings.Join(l.importPaths, ", ") }

// located names the file of a compile error by its path on disk.
func (l *loader) located(err error) error {
	var ewp reporter.ErrorWithPos
	if !errors.As(err, &ewp) {
		return err
	}
	pos := ewp.GetPosition()
	l.mu.Lock()
	file, ok := l.disk[pos.Filename]
	l.mu.Unlock()
	if !ok {
		file = pos.Filename
	}
	return &PosError{File: file, Line: pos.Line, Col: pos.Col, Err: ewp.Unwrap()}
}

// PosError is a mistake at a place in a .proto file: a syntax error, a
// type that is not defined, an import not found.
type PosError struct {
	File      string // as found on disk
	Line, Col int
	Err       error
}

// Error is FILE:LINE:COL: MESSAGE, as compilers write it.
func (e *PosError) Error() string { return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Col, e.Err) }

// Unwrap returns the mistake.
func (e *PosError) Unwrap() error { return e.Err }

// isFile reports whether p is a regular file (or a link to one).
func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

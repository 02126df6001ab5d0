package descsource_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/tetherplug/tether/internal/descsource"
)

// echoProto is tether's Echo service, as proto/tether/echo/v1/echo.proto
// declares it, with an import of a well-known type that is on no disk.
const echoProto = `syntax = "proto3";
package tether.echo.v1;
import "google/protobuf/empty.proto";
import "tether/echo/v1/extra.proto";
service Echo {
  rpc Unary(Message) returns (Message);
  rpc ServerStream(Message) returns (stream Message);
  rpc Ping(google.protobuf.Empty) returns (Extra);
}
message Message {
  bytes payload = 1;
  uint32 count = 2;
  uint32 delay_ms = 3;
  string text = 4;
}
`

const extraProto = `syntax = "proto3";
package tether.echo.v1;
message Extra { string note = 1; }
`

// writeFiles writes name → content under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// echoTree is a directory "protos" holding the echo files under their
// package path.
func echoTree(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"protos/tether/echo/v1/echo.proto":  echoProto,
		"protos/tether/echo/v1/extra.proto": extraProto,
	})
	return dir
}

// checkEcho fails unless src knows the Echo service and its types.
func checkEcho(t *testing.T, src descsource.Source) {
	t.Helper()
	if got := src.Services(); len(got) != 1 || got[0] != "tether.echo.v1.Echo" {
		t.Fatalf("services %v, want [tether.echo.v1.Echo]", got)
	}
	sd, err := src.Service("tether.echo.v1.Echo")
	if err != nil {
		t.Fatal(err)
	}
	if ss := sd.Methods().ByName("ServerStream"); ss == nil || !ss.IsStreamingServer() {
		t.Errorf("ServerStream: %v, want a server-streaming method", ss)
	}
	d, err := src.Symbol("tether.echo.v1.Echo.Ping")
	if err != nil {
		t.Fatal(err)
	}
	if in := d.(protoreflect.MethodDescriptor).Input().FullName(); in != "google.protobuf.Empty" {
		t.Errorf("Ping takes %s, want google.protobuf.Empty", in)
	}
	if _, err := src.Symbol("tether.echo.v1.Nope"); !errors.Is(err, descsource.ErrUnknownSymbol) {
		t.Errorf("Symbol of an unknown name: %v, want ErrUnknownSymbol", err)
	}
	if _, err := src.Types().FindMessageByName("tether.echo.v1.Extra"); err != nil {
		t.Errorf("Types: %v", err)
	}
}

func TestCompileImportPath(t *testing.T) {
	dir := echoTree(t)
	t.Chdir(dir)
	for _, file := range []string{"tether/echo/v1/echo.proto", "protos/tether/echo/v1/echo.proto"} {
		src, err := descsource.Compile(context.Background(), []string{file}, []string{"protos"})
		if err != nil {
			t.Fatalf("--proto %s: %v", file, err)
		}
		checkEcho(t, src)
	}
}

// Without import paths, a file's neighbours import by their bare names.
func TestCompileDefaultImportPaths(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"api/echo.proto":  strings.Replace(echoProto, "tether/echo/v1/extra.proto", "extra.proto", 1),
		"api/extra.proto": extraProto,
	})
	t.Chdir(dir)
	src, err := descsource.Compile(context.Background(), []string{"api/echo.proto"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkEcho(t, src)
	if got, want := descsource.ImportPaths([]string{"api/echo.proto"}, nil), []string{".", "api"}; !equal(got, want) {
		t.Errorf("import paths %v, want %v", got, want)
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestCompileErrors(t *testing.T) {
	dir := echoTree(t)
	writeFiles(t, dir, map[string]string{
		"protos/bad.proto":     "syntax = \"proto3\";\npackage bad;\nmessage M {\n  string name = ;\n}\n",
		"protos/missing.proto": "syntax = \"proto3\";\npackage m;\n\nimport \"nowhere/gone.proto\";\n",
		"protos/undef.proto":   "syntax = \"proto3\";\npackage u;\nmessage M { Unknown u = 1; }\n",
	})
	t.Chdir(dir)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		protos []string
		is     error
		want   []string
	}{
		{"missing file", []string{"protos/gone.proto"}, descsource.ErrNoFile,
			[]string{"protos/gone.proto: no such file", "protos"}},
		{"directory", []string{"protos/tether"}, nil,
			[]string{"protos/tether is a directory, not a .proto file (name the files in it, and give it as an import path)"}},
		{"syntax", []string{"protos/bad.proto"}, nil, []string{"protos/bad.proto:4:17: syntax error"}},
		{"import", []string{"missing.proto"}, descsource.ErrImportNotFound,
			[]string{"protos/missing.proto:4:8:", `"nowhere/gone.proto" is in none of the import paths protos`}},
		{"undefined type", []string{"undef.proto"}, nil, []string{"protos/undef.proto:3:13:", "Unknown"}},
	} {
		_, err := descsource.Compile(ctx, tc.protos, []string{"protos"})
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: error %v does not wrap %v", tc.name, err, tc.is)
		}
	}
}

// protoset serializes the files src was compiled from (the echo files and
// google/protobuf/empty.proto unless skip names it), as protoc
// --include_imports writes them.
func protoset(t testing.TB, skip string) []byte {
	t.Helper()
	dir := echoTree(t)
	src, err := descsource.Compile(context.Background(), []string{filepath.Join(dir, "protos/tether/echo/v1/echo.proto")}, []string{filepath.Join(dir, "protos")})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := src.Service("tether.echo.v1.Echo")
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	fd := sd.ParentFile()
	for i := 0; i < fd.Imports().Len(); i++ {
		if imp := fd.Imports().Get(i); imp.Path() != skip {
			set.File = append(set.File, protodesc.ToFileDescriptorProto(imp.FileDescriptor))
		}
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadProtosets(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "echo.binpb")
	if err := os.WriteFile(full, protoset(t, ""), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := descsource.ReadProtosets([]string{full, full})
	if err != nil {
		t.Fatal(err)
	}
	checkEcho(t, src)
	// A set that leaves a well-known file out still links.
	if _, err := descsource.ParseProtoset(protoset(t, "google/protobuf/empty.proto")); err != nil {
		t.Errorf("a set without google/protobuf/empty.proto: %v", err)
	}
}

func TestReadProtosetsErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"text.proto": extraProto, "empty.binpb": ""})
	lacking := filepath.Join(dir, "lacking.binpb")
	if err := os.WriteFile(lacking, protoset(t, "tether/echo/v1/extra.proto"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		is   error
		want string
	}{
		{"gone.binpb", descsource.ErrNoFile, "gone.binpb: no such file"},
		{"text.proto", descsource.ErrNotDescriptorSet, "text.proto: not a FileDescriptorSet"},
		{"empty.binpb", descsource.ErrNotDescriptorSet, "empty.binpb: not a FileDescriptorSet: it holds no file descriptors"},
		{"lacking.binpb", descsource.ErrNotDescriptorSet, "imports tether/echo/v1/extra.proto, which the set lacks (build it with protoc --include_imports)"},
	} {
		_, err := descsource.ReadProtosets([]string{filepath.Join(dir, tc.file)})
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one wrapping %v that says %q", tc.file, err, tc.is, tc.want)
		}
	}
}

// Whatever the bytes, a protoset loads or fails with an error: no panic.
func FuzzParseProtoset(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("syntax = \"proto3\";"))
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Add(protoset(f, ""))
	f.Add(protoset(f, "tether/echo/v1/extra.proto"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := descsource.ParseProtoset(data)
		if err == nil {
			for _, s := range src.Services() {
				if _, err := src.Service(s); err != nil {
					t.Errorf("listed service %s: %v", s, err)
				}
			}
		}
	})
}

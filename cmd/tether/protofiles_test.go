package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/tetherplug/tether/internal/descsource"
	"github.com/tetherplug/tether/tethertest"
)

// noreflectPkg is a tether echo plugin that serves no server reflection.
const noreflectPkg = "github.com/tetherplug/tether/test/plugins/noreflect"

func noreflect(t *testing.T) string { return tethertest.Build(t, noreflectPkg) }

// echoProtoFile is the Echo service's .proto file in this repository.
const echoProtoFile = "../../proto/tether/echo/v1/echo.proto"

// protoDir is a user's directory with the Echo service's files: its .proto
// under protos/ by its package path, and echo.binpb, the descriptor set
// compiled from it, as protoc --include_imports -o writes one.
func protoDir(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(echoProtoFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "protos", "tether", "echo", "v1", "echo.proto")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "echo.binpb"), echoProtoset(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// echoProtoset is the descriptor set of the Echo service's .proto file,
// compiled here and serialized with its imports first.
func echoProtoset(t *testing.T) []byte {
	t.Helper()
	files, err := descsource.Compile(context.Background(), []string{echoProtoFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := files.Service("tether.echo.v1.Echo")
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(sd.ParentFile())
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// protoSources are the flags that give the Echo service's descriptors in
// protoDir, each way.
var protoSources = map[string][]string{
	"import path": {"--import-path", "protos", "--proto", "tether/echo/v1/echo.proto"},
	"path":        {"--proto", "protos/tether/echo/v1/echo.proto"},
	"protoset":    {"--protoset", "echo.binpb"},
}

// TestProtoCall: with --proto or --protoset, call finds the methods of a
// plugin without reflection in the files, and calls each call shape with
// JSON in and out, request metadata included.
func TestProtoCall(t *testing.T) {
	dir, plugin := protoDir(t), noreflect(t)
	for how, flags := range protoSources {
		call := func(stdin string, args ...string) result {
			t.Helper()
			r := runIn(t, dir, stdin, nil, append(append([]string{"call", plugin}, args...), flags...)...)
			requireOK(t, r)
			return r
		}
		r := call("", "tether.echo.v1.Echo/Unary", `{"text":"hi"}`)
		if r.stdout != "{\n  \"text\": \"hi\"\n}\n" {
			t.Errorf("%s: Unary printed %q", how, r.stdout)
		}
		r = call("", "Unary", `{"text":"metadata:x-request-id"}`, "-H", "x-request-id: 42")
		if !strings.Contains(r.stdout, `"text": "42"`) {
			t.Errorf("%s: Unary with -H printed %q", how, r.stdout)
		}
		r = call("", "Echo/ServerStream", `{"text":"s","count":3}`)
		if r.stdout != strings.Repeat("{\"count\":3,\"text\":\"s\"}\n", 3) {
			t.Errorf("%s: ServerStream printed %q", how, r.stdout)
		}
		r = call("{\"text\":\"a\"}\n{\"text\":\"b\"}\n", "ClientStream")
		if r.stdout != "{\"count\":2,\"text\":\"ab\"}\n" {
			t.Errorf("%s: ClientStream printed %q", how, r.stdout)
		}
		r = call("{\"text\":\"one\"}\n{\"text\":\"two\"}\n", "Bidi")
		if r.stdout != "{\"text\":\"one\"}\n{\"text\":\"two\"}\n" {
			t.Errorf("%s: Bidi printed %q", how, r.stdout)
		}
		r = call("")
		if r.stdout != "tether.echo.v1.Echo/Unary\ntether.echo.v1.Echo/ServerStream\ntether.echo.v1.Echo/ClientStream\ntether.echo.v1.Echo/Bidi\n" {
			t.Errorf("%s: call without a method listed %q", how, r.stdout)
		}
		r = call("", "Unary", "--template")
		if r.stdout != "{\n  \"payload\": \"\",\n  \"count\": 0,\n  \"delayMs\": 0,\n  \"text\": \"\"\n}\n" {
			t.Errorf("%s: --template printed %q", how, r.stdout)
		}
	}
}

// TestProtoInspect: inspect lists the services of the files, not those of
// reflection (the echo plugin serves it, with health and tether's own
// services), and shows a symbol of the files.
func TestProtoInspect(t *testing.T) {
	dir := protoDir(t)
	for _, plugin := range []string{noreflect(t), echo(t)} {
		r := runIn(t, dir, "", nil, "inspect", plugin, "--protoset", "echo.binpb")
		requireOK(t, r)
		want := "services (from the --protoset files):\n  tether.echo.v1.Echo\n    Unary(tether.echo.v1.Message) returns (tether.echo.v1.Message)  "
		if !strings.Contains(r.stdout, want) || strings.Contains(r.stdout, "grpc.health") || !strings.Contains(r.stdout, "health:            SERVING") {
			t.Errorf("inspect %s --protoset:\n%s", filepath.Base(plugin), r.stdout)
		}
	}
	r := runIn(t, dir, "", nil, "inspect", "--json", noreflect(t), "--proto", "protos/tether/echo/v1/echo.proto")
	requireOK(t, r)
	var info inspection
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if info.ServicesFrom != "proto" || len(info.Services) != 1 || len(info.Services[0].Methods) != 4 ||
		info.Services[0].Methods[1] != (methodInfo{Name: "ServerStream", Kind: "server-streaming", Request: "tether.echo.v1.Message", Response: "tether.echo.v1.Message"}) ||
		info.Describe == nil || info.Describe.Name != "noreflect" || info.ReflectionError != "" {
		t.Errorf("inspect --json --proto: %+v", info)
	}
	r = runIn(t, dir, "", nil, "inspect", noreflect(t), "Unary", "--import-path", "protos", "--proto", "tether/echo/v1/echo.proto")
	requireOK(t, r)
	if !strings.HasPrefix(r.stdout, "method tether.echo.v1.Echo/Unary (unary)\nrequest tether.echo.v1.Message\n  bytes payload = 1;\n") ||
		!strings.Contains(r.stdout, "request template:\n  {\n    \"payload\": \"\",") {
		t.Errorf("inspect Unary --proto:\n%s", r.stdout)
	}
}

// TestNoReflectionSaysWhatToPass: without --proto or --protoset, a plugin
// without reflection is a usage error saying to pass them; inspect still
// shows the rest and says why the services are unknown.
func TestNoReflectionSaysWhatToPass(t *testing.T) {
	plugin := noreflect(t)
	for _, args := range [][]string{{"call", plugin, "Unary", "{}"}, {"call", plugin}, {"inspect", plugin, "Unary"}} {
		r := run(t, "", nil, args...)
		if r.code != exitUsage || r.stderr != "tether: "+noReflection+"\n" {
			t.Errorf("%s: status %d, stderr %q", args[0], r.code, r.stderr)
		}
	}
	r := run(t, "", nil, "inspect", plugin)
	requireOK(t, r)
	if !strings.Contains(r.stdout, "health:            SERVING\n") || !strings.HasSuffix(r.stdout, "services: unknown: "+noReflection+"\n") {
		t.Errorf("inspect:\n%s", r.stdout)
	}
}

// TestProtoErrors: files that are missing, do not compile, import what
// is nowhere, or are not descriptor sets, a method the files lack, and
// flags that do not go together: each a usage error saying what is wrong,
// before the plugin is loaded.
func TestProtoErrors(t *testing.T) {
	dir := protoDir(t)
	for name, content := range map[string]string{
		"bad.proto":     "syntax = \"proto3\";\npackage bad;\nmessage M {\n  string name = ;\n}\n",
		"imports.proto": "syntax = \"proto3\";\npackage imp;\n\nimport \"other/dep.proto\";\n",
		"text.binpb":    "not a descriptor set\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plugin := noreflect(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"Echo/Nope", "{}", "--proto", "protos/tether/echo/v1/echo.proto"},
			"tether: the --proto files have no method \"Echo/Nope\"; their methods are:\n  tether.echo.v1.Echo/Unary\n"},
		{[]string{"--proto", "gone.proto"}, "tether: --proto gone.proto: no such file (not in the current directory nor under the import paths .)\n"},
		{[]string{"--proto", "bad.proto"}, "tether: bad.proto:4:17: syntax error: unexpected ';', expecting int literal\n"},
		{[]string{"--import-path", "protos", "--proto", "imports.proto"},
			"tether: imports.proto:4:8: import not found: \"other/dep.proto\" is in none of the import paths protos, . (add the directory its import path starts from with --import-path)\n"},
		{[]string{"--protoset", "text.binpb"}, "tether: --protoset text.binpb: not a FileDescriptorSet: "},
		{[]string{"--protoset", "gone.binpb"}, "tether: --protoset gone.binpb: no such file\n"},
		{[]string{"--proto", "protos/tether/echo/v1/echo.proto", "--protoset", "echo.binpb"}, "tether: --proto and --protoset: give one or the other\n"},
		{[]string{"--import-path", "protos"}, "tether: --import-path is where --proto files are searched for: give --proto too\n"},
	} {
		args := tc.args
		if strings.HasPrefix(args[0], "--") {
			args = append([]string{"Unary", "{}"}, args...)
		}
		r := runIn(t, dir, "", nil, append([]string{"call", plugin}, args...)...)
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("call %v: status %d, stderr %q, want status 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	r := runIn(t, dir, "", nil, "inspect", plugin, "Nope", "--protoset", "echo.binpb")
	if r.code != exitUsage || !strings.HasPrefix(r.stderr, "tether: the --protoset files know no method, service or message \"Nope\"; their services are:\n  tether.echo.v1.Echo\n") {
		t.Errorf("inspect Nope: status %d, stderr %q", r.code, r.stderr)
	}
}

// TestCompleteFromProtoFiles: with --proto, METHOD completes from the files.
func TestCompleteFromProtoFiles(t *testing.T) {
	dir := protoDir(t)
	r := runIn(t, dir, "", nil, "__complete", "call", noreflect(t), "--proto", "protos/tether/echo/v1/echo.proto", "tether.echo.v1.Echo/B")
	requireOK(t, r)
	if r.stdout != "tether.echo.v1.Echo/Bidi\n:4\n" {
		t.Errorf("completing with --proto: %q", r.stdout)
	}
}

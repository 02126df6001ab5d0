package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestCallListsMethods: call without a method lists every method on
// stdout, the plugin's own first, and exits 0.
func TestCallListsMethods(t *testing.T) {
	r := run(t, "", nil, "call", echo(t))
	requireOK(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := []string{"tether.echo.v1.Echo/Unary", "tether.echo.v1.Echo/ServerStream",
		"tether.echo.v1.Echo/ClientStream", "tether.echo.v1.Echo/Bidi", "grpc.health.v1.Health/Check"}
	if len(lines) < len(want) {
		t.Fatalf("call without a method printed %q", r.stdout)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d is %q, want %q; output:\n%s", i+1, lines[i], w, r.stdout)
		}
	}
}

// TestCallBareMethodAndHeaders: a bare method name calls the one method of
// that name, and -H/--header send request metadata.
func TestCallBareMethodAndHeaders(t *testing.T) {
	r := run(t, "", nil, "call", echo(t), "Unary", `{"text":"metadata:x-request-id"}`,
		"-H", "x-request-id: 42", "--header", "X-Request-Id:7")
	requireOK(t, r)
	var resp struct{ Text string }
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil || resp.Text != "42,7" {
		t.Errorf("the plugin saw metadata %q (%v), want 42,7", r.stdout, err)
	}
	r = run(t, "", nil, "call", echo(t), "Echo/Unary", `{"text":"hi"}`)
	requireOK(t, r)
	if !strings.Contains(r.stdout, `"text": "hi"`) {
		t.Errorf("call Echo/Unary: %q", r.stdout)
	}
}

// TestCallTemplate: --template prints a request with every field and calls
// nothing; it needs a method.
func TestCallTemplate(t *testing.T) {
	r := run(t, "", nil, "call", echo(t), "Unary", "--template")
	requireOK(t, r)
	want := "{\n  \"payload\": \"\",\n  \"count\": 0,\n  \"delayMs\": 0,\n  \"text\": \"\"\n}\n"
	if r.stdout != want { // docs/cli.md quotes it
		t.Errorf("template %q, want %q", r.stdout, want)
	}
	r = run(t, "", nil, "call", echo(t), "--template")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--template needs a METHOD") {
		t.Errorf("--template without a method: status %d, stderr %q", r.code, r.stderr)
	}
}

// TestInspectSymbol: inspect TARGET SYMBOL shows a method's types with
// their fields and a request template, a service's methods, a message's
// fields; an unknown symbol is a usage error listing the services.
func TestInspectSymbol(t *testing.T) {
	r := run(t, "", greeterEnv, "inspect", greeter(t), "Greet")
	requireOK(t, r)
	want := `method greeter.v1.Greeter/Greet (unary)
request greeter.v1.GreetRequest
  string name = 1;
response greeter.v1.GreetResponse
  string message = 1;
request template:
  {
    "name": ""
  }
`
	if r.stdout != want { // docs/cli.md quotes it
		t.Errorf("inspect Greet:\n%s\nwant:\n%s", r.stdout, want)
	}
	for _, c := range []struct{ symbol, want string }{
		{"greeter.v1.Greeter", "service greeter.v1.Greeter\n  Greet(greeter.v1.GreetRequest) returns (greeter.v1.GreetResponse)  unary\n"},
		{"Greeter", "service greeter.v1.Greeter\n"},
		{"greeter.v1.GreetResponse", "message greeter.v1.GreetResponse\n  string message = 1;\ntemplate:\n"},
		{"/greeter.v1.Greeter/Greet", "method greeter.v1.Greeter/Greet (unary)\n"},
		{"grpc.health.v1.HealthCheckResponse.ServingStatus", "enum grpc.health.v1.HealthCheckResponse.ServingStatus\n  UNKNOWN = 0;\n"},
	} {
		r := run(t, "", greeterEnv, "inspect", greeter(t), c.symbol)
		requireOK(t, r)
		if !strings.HasPrefix(r.stdout, c.want) {
			t.Errorf("inspect %s:\n%s\nwant it to start with:\n%s", c.symbol, r.stdout, c.want)
		}
	}

	r = run(t, "", greeterEnv, "inspect", "--json", greeter(t), "Greet")
	requireOK(t, r)
	var info symbolInfo
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, r.stdout)
	}
	var tmpl map[string]string
	if err := json.Unmarshal(info.Template, &tmpl); err != nil || len(tmpl) != 1 || tmpl["name"] != "" {
		t.Errorf("inspect --json Greet: template %s (%v)", info.Template, err)
	}
	if info.Type != "method" || info.Kind != "unary" || info.Request == nil || len(info.Request.Fields) != 1 ||
		info.Request.Fields[0] != (fieldInfo{Name: "name", Type: "string", Number: 1}) {
		t.Errorf("inspect --json Greet: %+v", info)
	}

	r = run(t, "", greeterEnv, "inspect", greeter(t), "Nope")
	if r.code != exitUsage || !strings.Contains(r.stderr, `no method, service or message "Nope"`) ||
		!strings.Contains(r.stderr, "greeter.v1.Greeter") {
		t.Errorf("inspect Nope: status %d, stderr %q", r.code, r.stderr)
	}
}

// TestInspectGroupsServices: the plugin's own services come first, tether's
// and gRPC's own under a heading of their own, marked builtin in --json.
func TestInspectGroupsServices(t *testing.T) {
	r := run(t, "", nil, "inspect", echo(t))
	requireOK(t, r)
	own := strings.Index(r.stdout, "services:\n  tether.echo.v1.Echo\n")
	heading := strings.Index(r.stdout, "tether and gRPC services:\n  grpc.health.v1.Health\n")
	plugin := strings.Index(r.stdout, "  tether.v1.Plugin\n")
	if own < 0 || heading < own || plugin < heading {
		t.Errorf("services not grouped:\n%s", r.stdout)
	}
	r = run(t, "", nil, "inspect", "--json", echo(t))
	requireOK(t, r)
	var info inspection
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Services {
		if s.Builtin != (s.Name != "tether.echo.v1.Echo") {
			t.Errorf("service %s: builtin %v", s.Name, s.Builtin)
		}
	}
}

// TestTemplateOfNestedFields: a template fills repeated fields with one
// element, nested messages with their fields and maps with one entry, and a
// oneof with its first field.
func TestTemplateOfNestedFields(t *testing.T) {
	for symbol, want := range map[string]string{
		"tether.v1.DescribeResponse": `{"name":"","protocolVersions":[0],"interfaces":[{"name":"","version":0,` +
			`"services":[{"name":"","methods":[""]}]}],"tetherProtocol":0,"features":[""],` +
			`"fast":{"network":"","address":"","version":0,"tls":false}}`,
		"grpc.health.v1.HealthListResponse":          `{"statuses":{"":{"status":"UNKNOWN"}}}`,
		"grpc.reflection.v1.ServerReflectionRequest": `{"host":"","fileByFilename":""}`,
	} {
		r := run(t, "", nil, "inspect", "--json", echo(t), symbol)
		requireOK(t, r)
		var info symbolInfo
		if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
			t.Fatalf("inspect --json %s: %v\n%s", symbol, err, r.stdout)
		}
		var got bytes.Buffer
		if err := json.Compact(&got, info.Template); err != nil || got.String() != want {
			t.Errorf("template of %s:\n%s\nwant\n%s", symbol, got.String(), want)
		}
	}
}

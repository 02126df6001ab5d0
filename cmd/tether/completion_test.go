package main

import (
	"strings"
	"testing"
	"time"
)

// TestCompleteCallMethods: completing call's METHOD loads the plugin and
// offers its methods that start with what was typed; a plugin that does
// not load offers nothing, within the completion's short bound.
func TestCompleteCallMethods(t *testing.T) {
	r := run(t, "", nil, "__complete", "call", echo(t), "")
	requireOK(t, r)
	for _, want := range []string{"tether.echo.v1.Echo/Unary\n", "tether.echo.v1.Echo/Bidi\n", "grpc.health.v1.Health/Check\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("completions lack %q:\n%s", want, r.stdout)
		}
	}
	if !strings.HasSuffix(r.stdout, "\n:4\n") { // ShellCompDirectiveNoFileComp
		t.Errorf("completions do not end with directive 4 (no files):\n%s", r.stdout)
	}
	r = run(t, "", nil, "__complete", "call", echo(t), "tether.echo.v1.Echo/B")
	requireOK(t, r)
	if r.stdout != "tether.echo.v1.Echo/Bidi\n:4\n" {
		t.Errorf("completing tether.echo.v1.Echo/B: %q", r.stdout)
	}
	r = run(t, "", nil, "__complete", "call", echo(t), "Bi") // a bare method name, as call accepts it
	requireOK(t, r)
	if r.stdout != "Bidi\n:4\n" {
		t.Errorf("completing Bi: %q", r.stdout)
	}
	r = run(t, "", nil, "__complete", "inspect", echo(t), "tether.echo.v1.Echo/U")
	requireOK(t, r)
	if r.stdout != "tether.echo.v1.Echo/Unary\n:4\n" {
		t.Errorf("completing inspect's SYMBOL tether.echo.v1.Echo/U: %q", r.stdout)
	}
	r = run(t, "", []string{"ECHO_MODE=hang"}, "__complete", "call", echo(t), "")
	requireOK(t, r)
	if r.stdout != ":4\n" || r.elapsed > completionTimeout+2*time.Second {
		t.Errorf("completing a plugin that does not start: %q after %v", r.stdout, r.elapsed)
	}
}

// Tests of the greeter example across interface versions: real plugin
// binaries, launched by a host that knows greeter v1 and v2.
package greeter_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	greeterv2 "github.com/tetherplug/tether/examples/greeter/greeterpb/v2"
	"github.com/tetherplug/tether/examples/greeter/internal/greeting"
	counterv1 "github.com/tetherplug/tether/examples/multi/counterpb/v1"
	"github.com/tetherplug/tether/tethertest"
)

const (
	v1Only   = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-en"
	v1AndV2  = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-v2"
	twoIface = "github.com/tetherplug/tether/examples/multi/plugin"
	hostV2   = "github.com/tetherplug/tether/examples/greeter/host-v2"
	hostV1   = "github.com/tetherplug/tether/examples/greeter/host"
	french   = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-fr"
)

func TestMain(m *testing.M) { tethertest.Main(m) }

func launch(t *testing.T, pkg string, opts ...tether.Option) (*tether.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return tether.Launch(ctx, tethertest.Build(t, pkg), append([]tether.Option{tether.WithHandshake(greeting.Handshake)}, opts...)...)
}

func mustLaunch(t *testing.T, pkg string, opts ...tether.Option) *tether.Client {
	t.Helper()
	c, err := launch(t, pkg, opts...)
	if err != nil {
		t.Fatalf("launch %s: %v", pkg, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A host accepting greeter {1,2} on a v1-only plugin: v1 is chosen, the
// capability query says Farewell is missing, and calling it anyway gives the
// typed not-implemented error, not a panic or an opaque status.
func TestV2MethodOnV1OnlyPlugin(t *testing.T) {
	c := mustLaunch(t, v1Only, tether.WithInterface("greeter", 1, 2))
	ctx := callCtx(t)
	if v, ok := c.Version("greeter"); !ok || v != 1 {
		t.Fatalf("Version(greeter) = %d, %v; want 1, true", v, ok)
	}
	if got := c.Served(); !slices.Equal(got["greeter"], []int{1}) {
		t.Errorf("Served() = %v, want greeter [1]", got)
	}
	has, err := c.Implements(ctx, greeterv2.Greeter_Farewell_FullMethodName)
	if err != nil || has {
		t.Fatalf("Implements(Farewell) = %v, %v; want false, nil", has, err)
	}
	if has, err := c.Implements(ctx, greeterv1.Greeter_Greet_FullMethodName); err != nil || !has {
		t.Fatalf("Implements(v1 Greet) = %v, %v; want true, nil", has, err)
	}
	// Services outside the interfaces are answered too (through reflection).
	if has, err := c.Implements(ctx, "/grpc.health.v1.Health/Check"); err != nil || !has {
		t.Fatalf("Implements(Health/Check) = %v, %v; want true, nil", has, err)
	}
	if has, err := c.Implements(ctx, "/greeter.v1.Greeter/Wave"); err != nil || has {
		t.Fatalf("Implements(Greeter/Wave) = %v, %v; want false, nil", has, err)
	}

	g, err := tether.Dispense(c, "greeter", greeterv2.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Farewell(ctx, &greeterv2.FarewellRequest{Name: "Ada"})
	if !errors.Is(err, tether.ErrNotImplemented) {
		t.Fatalf("Farewell on a v1-only plugin: %v; want an error wrapping ErrNotImplemented", err)
	}
	var pe *tether.PluginError
	if !errors.As(err, &pe) || !strings.Contains(pe.Detail, greeterv2.Greeter_Farewell_FullMethodName) {
		t.Errorf("error %v: want a *PluginError naming the method", err)
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("status.Code = %v, want Unimplemented still visible", status.Code(err))
	}
	// The plugin is unharmed: v1 still answers on the same client.
	g1, _ := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if r, err := g1.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"}); err != nil || r.GetMessage() != "Hello, Ada!" {
		t.Fatalf("Greet after the failed call: %v, %v", r, err)
	}
}

// The same host on a plugin serving v1 and v2 side by side gets v2 and its
// new method.
func TestV2MethodOnV1V2Plugin(t *testing.T) {
	c := mustLaunch(t, v1AndV2, tether.WithInterface("greeter", 1, 2))
	ctx := callCtx(t)
	if v, _ := c.Version("greeter"); v != 2 {
		t.Fatalf("Version(greeter) = %d, want 2", v)
	}
	if got := c.Served()["greeter"]; !slices.Equal(got, []int{1, 2}) {
		t.Errorf("Served()[greeter] = %v, want [1 2]", got)
	}
	if has, err := c.Implements(ctx, greeterv2.Greeter_Farewell_FullMethodName); err != nil || !has {
		t.Fatalf("Implements(Farewell) = %v, %v; want true, nil", has, err)
	}
	g, err := tether.Dispense(c, "greeter", greeterv2.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	r, err := g.Farewell(ctx, &greeterv2.FarewellRequest{Name: "Ada"})
	if err != nil || r.GetMessage() != "¡Adiós, Ada!" {
		t.Fatalf("Farewell = %v, %v", r, err)
	}
}

// An old host that knows only v1 keeps working with the v1+v2 plugin.
func TestOldHostOnV1V2Plugin(t *testing.T) {
	c := mustLaunch(t, v1AndV2, tether.WithInterface("greeter", 1))
	if v, _ := c.Version("greeter"); v != 1 {
		t.Fatalf("Version(greeter) = %d, want 1", v)
	}
	g, _ := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	r, err := g.Greet(callCtx(t), &greeterv1.GreetRequest{Name: "Ada"})
	if err != nil || r.GetMessage() != "¡Hola, Ada!" {
		t.Fatalf("Greet = %v, %v", r, err)
	}
}

// A host accepting only greeter v3 is refused at load time with a
// *VersionError naming the interface and both sides' versions.
func TestNoSharedInterfaceVersion(t *testing.T) {
	for _, tc := range []struct {
		pkg    string
		plugin []int
	}{{v1Only, []int{1}}, {v1AndV2, []int{1, 2}}} {
		c, err := launch(t, tc.pkg, tether.WithInterface("greeter", 3))
		if err == nil {
			c.Close()
			t.Fatalf("%s: launch accepted greeter v3", tc.pkg)
		}
		var ve *tether.VersionError
		if !errors.As(err, &ve) || !errors.Is(err, tether.ErrIncompatibleVersion) {
			t.Fatalf("%s: err = %v, want a *VersionError", tc.pkg, err)
		}
		if ve.Interface != "greeter" || !slices.Equal(ve.HostVersions, []int{3}) || !slices.Equal(ve.PluginVersions, tc.plugin) {
			t.Errorf("%s: VersionError = %+v; want greeter, host [3], plugin %v", tc.pkg, ve, tc.plugin)
		}
		for _, want := range []string{"greeter", "[3]", fmt.Sprint(tc.plugin)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: message %q does not mention %s", tc.pkg, err, want)
			}
		}
	}
}

// One plugin, two interfaces, each dispensed from the same client; an
// interface it does not serve is refused with ErrNotImplemented.
func TestTwoInterfacesOnePlugin(t *testing.T) {
	c := mustLaunch(t, twoIface, tether.WithInterface("greeter", 1), tether.WithInterface("counter", 1))
	ctx := callCtx(t)
	g, err := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"}); err != nil || r.GetMessage() != "Hi, Ada!" {
		t.Fatalf("Greet = %v, %v", r, err)
	}
	n, err := tether.Dispense(c, "counter", counterv1.NewCounterClient)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{4, 9} {
		r, err := n.Add(ctx, &counterv1.AddRequest{Delta: []int64{4, 5}[i]})
		if err != nil || r.GetTotal() != want {
			t.Fatalf("Add #%d = %v, %v; want total %d", i, r, err, want)
		}
	}
	if _, err := tether.Dispense(c, "calculator", counterv1.NewCounterClient); !errors.Is(err, tether.ErrNotImplemented) {
		t.Fatalf("Dispense(calculator) = %v, want ErrNotImplemented", err)
	}
	if !c.Serves("counter", 1) || c.Serves("counter", 2) {
		t.Errorf("Serves(counter 1/2) wrong; Served() = %v", c.Served())
	}
}

// The example host program, run for real: greets everywhere, says farewell
// only where greeter v2 is served.
func TestHostV2Program(t *testing.T) {
	host := tethertest.Build(t, hostV2)
	cmd := exec.Command(host, tethertest.Build(t, v1Only), tethertest.Build(t, v1AndV2))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", host, err, out)
	}
	want := "greeter-en: v1 Hello, Ada!\n" +
		"greeter-en: v1 (no farewell: the plugin serves greeter v1 only)\n" +
		"greeter-v2: v2 ¡Hola, Ada!\n" +
		"greeter-v2: v2 ¡Adiós, Ada!\n"
	if string(out) != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

// The greeter host takes targets: a path relative to its working directory
// and an exec:///abs/path target each print their greeting, labelled with
// the plugin's file name, as in the acceptance command
// "./bin/greeter-host ./bin/plugins/greeter-en exec://$PWD/bin/plugins/greeter-fr".
func TestHostProgramTargets(t *testing.T) {
	host := tethertest.Build(t, hostV1)
	en, fr := tethertest.Build(t, v1Only), tethertest.Build(t, french)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rel, err := filepath.Rel(filepath.Dir(filepath.Dir(en)), en) // "DIR/greeter-en"
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, host, "./"+rel, "exec://"+fr)
	cmd.Dir = filepath.Dir(filepath.Dir(en))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", host, err, out)
	}
	if want := "greeter-en: Hello, Ada!\ngreeter-fr: Bonjour, Ada !\n"; string(out) != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	// A target no runtime serves fails alone, named as given.
	cmd = exec.CommandContext(ctx, host, "nosuchscheme://h:7000", en)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err == nil || string(out) != "greeter-en: Hello, Ada!\n" ||
		!strings.Contains(stderr.String(), "nosuchscheme://h:7000: error:") {
		t.Errorf("with an unknown scheme: %v, stdout %q, stderr %q", err, out, stderr.String())
	}
}

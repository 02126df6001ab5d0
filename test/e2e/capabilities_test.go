package e2e_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// A plugin with neither Describe nor server reflection still loads and
// answers calls; the capability query says it cannot know, with a typed
// error, instead of guessing.
func TestImplementsUnknownWithoutDescribeOrReflection(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, tethertest.Build(t, plugintest.RawPlugin),
		tether.WithInterface("greeter", 1), tether.WithKillTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Described() {
		t.Error("Described() = true for a plugin without Describe")
	}
	if got := c.Served(); len(got) != 1 || len(got["greeter"]) != 1 || got["greeter"][0] != 1 {
		t.Errorf("Served() = %v, want greeter [1] from the protocol version", got)
	}
	ok, err := c.Implements(ctx, greeterv1.Greeter_Greet_FullMethodName)
	if ok || !errors.Is(err, tether.ErrCapabilitiesUnknown) {
		t.Errorf("Implements = %v, %v; want false and ErrCapabilitiesUnknown", ok, err)
	}
	if _, err := c.Implements(ctx, "no-slash"); err == nil || errors.Is(err, tether.ErrCapabilitiesUnknown) {
		t.Errorf("Implements(no-slash) = %v, want a bad-name error", err)
	}
	g, _ := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	r, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"})
	if err != nil || r.GetMessage() != "raw hello, Ada" {
		t.Fatalf("Greet = %v, %v", r, err)
	}
	pid := c.Pid()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-c.Exited():
	default:
		t.Errorf("plugin %d still running after Close", pid)
	}
}

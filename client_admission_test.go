package tether_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// twoVersions serves echo v1 and echo v2 in two instances and opens them
// with a host that asks for echo v1, waiting until the v2 instance has been
// refused.
func twoVersions(t *testing.T, opts ...tether.Option) (rt *testRuntime, v1, v2 *inprocPlugin, c *tether.Client) {
	t.Helper()
	v1, v2 = serveEcho(t, 1), serveEcho(t, 2)
	rt = newTestRuntime(v1.ep, v2.ep)
	c = openInproc(t, rt, append([]tether.Option{tether.WithInterface("echo", 1)}, opts...)...)
	plugintest.Eventually(t, inprocTimeout, "the v2 instance refused", func() bool {
		in, ok := instanceAt(c, v2.ep.Address)
		return ok && in.Refused != nil
	})
	return rt, v1, v2, c
}

func TestAdmissionRefusesTheInstanceWithOtherVersions(t *testing.T) {
	noLeaks(t)
	_, v1, v2, c := twoVersions(t)

	if n := len(c.Instances()); n != 2 {
		t.Fatalf("Instances() lists %d instances, want 2: %+v", n, c.Instances())
	}
	if in, _ := instanceAt(c, v1.ep.Address); !in.Admitted || in.Refused != nil {
		t.Errorf("v1 instance: Admitted=%v Refused=%v, want admitted", in.Admitted, in.Refused)
	}
	in, _ := instanceAt(c, v2.ep.Address)
	var ve *tether.VersionError
	if in.Admitted || !errors.As(in.Refused, &ve) || ve.Interface != "echo" {
		t.Fatalf("v2 instance: Admitted=%v Refused=%v, want refused with a *VersionError naming echo", in.Admitted, in.Refused)
	}
	if !errors.Is(in.Refused, tether.ErrIncompatibleVersion) {
		t.Errorf("refusal %v is not ErrIncompatibleVersion", in.Refused)
	}
	if v, ok := c.Version("echo"); !ok || v != 1 {
		t.Errorf("Version(echo) = %d, %v; want 1, true", v, ok)
	}

	e := echoClient(t, c)
	for i := range 20 {
		if _, err := unary(t, e, "hi"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got, refused := v1.calls.get(echoUnary), v2.calls.get(echoUnary); got != 20 || refused != 0 {
		t.Errorf("calls: v1 instance %d, v2 instance %d; want 20 and 0", got, refused)
	}
}

func TestAdmissionWithoutAdmittedInstanceCallsFailFast(t *testing.T) {
	noLeaks(t)
	rt, _, v2, c := twoVersions(t)
	e := echoClient(t, c)

	rt.set(v2.ep) // the admitted instance goes; the refused one stays
	start := time.Now()
	_, err := unary(t, e, "hi")
	if !errors.Is(err, tether.ErrUnavailable) {
		t.Fatalf("call with only a refused instance: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > inprocTimeout/2 {
		t.Errorf("the call failed after %v, not at once", d)
	}
	var pe *tether.PluginError
	var ve *tether.VersionError
	if !errors.As(err, &pe) || !errors.As(pe.Err, &ve) {
		t.Errorf("error %v does not say why: want the refused instance's *VersionError inside", err)
	}
}

func TestAdmissionWaitForReadyCallWaitsForAnInstance(t *testing.T) {
	noLeaks(t)
	rt, v1, v2, c := twoVersions(t, tether.WithWaitForReady())
	e := echoClient(t, c)

	rt.set(v2.ep)
	done := make(chan error, 1)
	go func() {
		_, err := unary(t, e, "wait")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a wait-for-ready call with no admitted instance returned at once: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	rt.set(v1.ep, v2.ep) // the v1 instance is back
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the waiting call failed: %v", err)
		}
	case <-time.After(inprocTimeout):
		t.Fatal("the waiting call did not end once an instance came back")
	}
	if n := v1.calls.get(echoUnary); n != 1 {
		t.Errorf("the v1 instance got %d calls, want the 1 that waited", n)
	}
}

func TestAdmissionEndedFailsTheWaitingOpen(t *testing.T) {
	noLeaks(t)
	rt := newTestRuntime() // no endpoint: Open waits
	why := errors.New("the last instance exited")
	go func() {
		select {
		case <-rt.built:
			rt.end(why)
		case <-time.After(inprocTimeout):
		}
	}()
	start := time.Now()
	c, err := tryOpen(t, rt)
	if !errors.Is(err, why) {
		t.Fatalf("Open = %v, %v; want the runtime's error %q", c, err, why)
	}
	if d := time.Since(start); d > inprocTimeout/2 {
		t.Errorf("Open failed after %v: it waited for its timeout, not for Ended", d)
	}
	if n := rt.closed.Load(); n != 1 {
		t.Errorf("the failed Open closed its runtime %d times, want 1", n)
	}
}

func TestAdmissionEndedFailsCallsEvenWaitForReadyOnes(t *testing.T) {
	noLeaks(t)
	p := serveEcho(t, 1)
	rt := newTestRuntime(p.ep)
	c := openInproc(t, rt, tether.WithWaitForReady())
	e := echoClient(t, c)

	why := errors.New("the runtime gave up")
	rt.set()
	rt.end(why)
	ctx, cancel := context.WithTimeout(t.Context(), inprocTimeout)
	defer cancel()
	_, err := e.Unary(ctx, &echov1.Message{})
	if !errors.Is(err, tether.ErrUnavailable) || !errors.Is(err, why) || ctx.Err() != nil {
		t.Fatalf("a wait-for-ready call after Ended: %v (context: %v), want ErrUnavailable saying %q at once", err, ctx.Err(), why)
	}
	if !errors.Is(c.ExitError(), why) {
		t.Errorf("ExitError() = %v, want %v", c.ExitError(), why)
	}
}

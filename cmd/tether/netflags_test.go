package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/kube"
)

// TestNameFlagsKubeMessages: the kube runtime's messages that name Go
// options reach the user naming the flags.
func TestNameFlagsKubeMessages(t *testing.T) {
	unreachable := &tether.PluginError{Plugin: "kube://plugins/echo", Kind: tether.ErrHost,
		Err: &kube.UnreachableError{Addresses: []string{"10.1.0.12:7000"}, Err: errors.New("i/o timeout")}}
	got := nameFlags(unreachable).Error()
	if want := "reach the pods through the API server's port-forward with --port-forward: i/o timeout"; !strings.Contains(got, want) {
		t.Errorf("unreachable pods: %q lacks %q", got, want)
	}
	var ue *kube.UnreachableError
	if !errors.As(nameFlags(unreachable), &ue) {
		t.Error("nameFlags lost the *kube.UnreachableError")
	}
	plain := errors.New("10.1.0.12:7000 closed a plaintext connection before it sent anything (does it serve TLS? " +
		"then give the host kube.WithTLSFiles or kube.WithTLSConfig, not kube.WithInsecure): EOF")
	if got, want := nameFlags(plain).Error(), "then give --tls-cert, --tls-key and --tls-ca, not --insecure): EOF"; !strings.Contains(got, want) {
		t.Errorf("plaintext to TLS pods: %q lacks %q", got, want)
	}
	// The hint internal/execruntime/defaults_windows.go adds to the error of a plugin that sent no certificate.
	noCert := errors.New("plugin ./p: no certificate (automatic mutual TLS is on by default on Windows, where plugins listen on loopback TCP; " +
		"tether.WithoutAutoMTLS turns it off for a plugin that cannot do it)")
	if got, want := nameFlags(noCert).Error(), "; --auto-mtls=false turns it off for a plugin that cannot do it)"; !strings.Contains(got, want) {
		t.Errorf("Windows auto-mTLS hint: %q lacks %q", got, want)
	}
	for _, err := range []error{unreachable, plain, noCert} {
		if got := nameFlags(err).Error(); goOption.MatchString(got) {
			t.Errorf("names a Go option: %q", got)
		}
	}
}

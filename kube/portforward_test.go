package kube

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/tetherplug/tether"
)

// WithPortForward needs a rest.Config for its tunnels: with WithClient it
// is refused before anything is created, saying what to give instead.
func TestPortForwardRefusesWithClient(t *testing.T) {
	c := deployed(t, 7000)
	c.ClearActions()
	_, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithInsecure(), WithPortForward())
	want := "kube.WithPortForward needs the API server's address and credentials of a kubeconfig (kube.WithKubeconfig) " +
		"or the pod's service account, not kube.WithClient"
	if !isBadTarget(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open with WithClient and WithPortForward: %v, want ErrBadTarget saying %q", err, want)
	}
	if len(c.Actions()) != 0 {
		t.Errorf("refused Open made %d API requests", len(c.Actions()))
	}
}

// The errors of pods the host cannot reach name the remedy, as
// docs/kubernetes.md quotes them.
func TestReachErrorsNameTheRemedy(t *testing.T) {
	ue := &UnreachableError{Addresses: []string{"10.0.0.7:7000"}, Err: errors.New("connect: no route to host")}
	if want := "pod IPs are not reachable from here (10.0.0.7:7000): the host is outside the cluster's pod network; " +
		"reach the pods through the API server's port-forward with kube.WithPortForward() (tether inspect|call --port-forward): " +
		"connect: no route to host"; ue.Error() != want {
		t.Errorf("UnreachableError says\n%q, want\n%q", ue, want)
	}
	pe := &PortForwardError{Pod: "greeter-1", Namespace: "plugins", Port: 7000, Err: errors.New("unable to upgrade connection")}
	if want := "could not reach port 7000 of pod greeter-1 in namespace plugins through the API server's port-forward " +
		"(which needs `create` on pods/portforward): unable to upgrade connection"; pe.Error() != want {
		t.Errorf("PortForwardError says\n%q, want\n%q", pe, want)
	}
	if !errors.Is(&tether.PluginError{Kind: tether.ErrHost, Err: pe}, pe.Err) {
		t.Error("PortForwardError does not unwrap to its cause")
	}
}

// A connection the host may not make (a local firewall rule, a sandbox
// such as Landlock) says pod IPs are not reachable from here, as no route
// does, so Open names the remedy at once instead of waiting out its start
// timeout; a refused connection still proves the address reachable.
func TestUnroutableCountsForbiddenConnects(t *testing.T) {
	for errno, want := range map[syscall.Errno]bool{syscall.EACCES: true, syscall.EPERM: true,
		syscall.EHOSTUNREACH: true, syscall.ECONNREFUSED: false} {
		err := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
		if got := unroutable(err); got != want {
			t.Errorf("unroutable(%v) = %v, want %v", err, got, want)
		}
	}
}

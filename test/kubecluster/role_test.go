package kubecluster

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/kube"
)

// TestShippedRoleReadsNoSecret is issue 16's item 8: a host whose account
// has exactly the Role of deploy/rbac.yaml may not read the plugin's TLS
// Secret (its private key), yet deploys the plugin with it over mutual
// TLS, calls it and removes it; a TLS Secret that does not exist, which it
// can no longer check up front, fails the deploy within its ready timeout
// with the pod's reason naming the Secret, and nothing is left.
func TestShippedRoleReadsNoSecret(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.tlsSecret(t, "g-tls", "g")
	role := shippedRole(t, c.ns)
	sac, _ := c.account(t, "host", role.Rules)
	_, err := sac.CoreV1().Secrets(c.ns).Get(t.Context(), "g-tls", metav1.GetOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("get of the plugin's TLS Secret with the shipped Role: %v, want Forbidden", err)
	}
	client, _, err := openWithin(t, 3*time.Minute, "kube://"+c.ns+"/g", tether.WithInterface("greeter", 1),
		tether.WithStartTimeout(2*time.Minute), tether.WithLogger(slog.New(slog.DiscardHandler)),
		kube.WithClient(sac), kube.WithTLSFiles(c.hostCert, c.hostKey, c.cas),
		kube.WithDeploy(kube.Spec{Image: greeterImage, Port: 7000, TLSSecret: "g-tls"}))
	if err != nil {
		t.Fatal(err)
	}
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := greeter.Greet(t.Context(), &greeterv1.GreetRequest{Name: "role"})
	if err != nil || !strings.Contains(resp.GetMessage(), "role") {
		t.Fatalf("call with the shipped Role: %v %v", resp, err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if left := c.managed(t); len(left) > 0 {
		t.Errorf("after Close: %v left", left)
	}

	_, took, err := openWithin(t, 3*time.Minute, "kube://"+c.ns+"/nosecret", tether.WithStartTimeout(2*time.Minute),
		tether.WithLogger(slog.New(slog.DiscardHandler)), kube.WithClient(sac), kube.WithTLSFiles(c.hostCert, c.hostKey, c.cas),
		kube.WithReadyTimeout(20*time.Second), kube.WithDeploy(kube.Spec{Image: greeterImage, Port: 7000, TLSSecret: "absent-tls"}))
	var nr *kube.NotReadyError
	if !errors.Is(err, tether.ErrStartTimeout) || !errors.As(err, &nr) || nr.Reason != kube.ReasonCreate {
		t.Fatalf("Open with a TLS Secret that does not exist: %v, want ErrStartTimeout with a NotReadyError %q", err, kube.ReasonCreate)
	}
	if !strings.Contains(err.Error(), `"absent-tls" not found`) {
		t.Errorf("error %q does not name the missing Secret", err)
	}
	if took > time.Minute {
		t.Errorf("failed after %v, want about its 20s ready timeout", took)
	}
	t.Logf("error: %v", err)
	if left := c.managed(t); len(left) > 0 {
		t.Errorf("after the failed deploy: %v left", left)
	}
}

package kube

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/plugintest/inproc"
)

const testNS = "plugins"

// goodSpec is a spec that passes validation (its Secret must exist).
func goodSpec() Spec {
	return Spec{Name: "greeter", Image: "example.com/greeter:1", Port: 7000, Replicas: new(int32(2)), TLSSecret: "greeter-tls",
		Env: map[string]string{"GREETING": "hello"}, Labels: map[string]string{"team": "a"}}
}

// tlsSecret is a Secret with the keys a plugin reads.
func tlsSecret(name string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Data: map[string][]byte{SecretCert: []byte("c"), SecretKey: []byte("k"), SecretCA: []byte("a")}}
}

// creates counts the create requests a fake client received.
func creates(c *fake.Clientset) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "create" {
			n++
		}
	}
	return n
}

// markReady plays the deployment controller: once the Deployment exists,
// its status says every replica is available.
func markReady(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	plugintest.Eventually(t, 5*time.Second, "the Deployment to be created", func() bool {
		_, err := c.AppsV1().Deployments(testNS).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil
	})
	d, err := c.AppsV1().Deployments(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := desired(d)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
		ReadyReplicas: n, AvailableReplicas: n}
	if _, err := c.AppsV1().Deployments(testNS).UpdateStatus(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// slice is an EndpointSlice of Service svc with the given addresses on
// port, each ready or not.
func slice(name, svc string, port int32, ready map[string]bool) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: map[string]string{labelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: &port}},
	}
	for ip, r := range ready {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &r}})
	}
	return s
}

// echoPlugin serves an in-process echo plugin, answering with its ip, in
// plaintext on ip:port (0: a free port) until the test ends; it returns
// the port.
func echoPlugin(t *testing.T, ip string, port int32) int32 {
	t.Helper()
	lis, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	if err != nil {
		t.Fatal(err)
	}
	inproc.ServeEcho(t, lis, plugintest.TaggedEcho{Tag: ip})
	return int32(lis.Addr().(*net.TCPAddr).Port)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fieldOf returns the field a validation error names, failing the test if
// err is not one.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var fe *FieldError
	if !errors.Is(err, tether.ErrBadTarget) || !errors.As(err, &fe) {
		t.Fatalf("want a validation error (ErrBadTarget, *FieldError), got %v", err)
	}
	return fe.Field
}

// failN makes the first n requests of verb on resource fail with err.
func failN(c *fake.Clientset, verb, resource string, n int, err error) *int {
	calls := new(int)
	c.PrependReactor(verb, resource, func(k8stesting.Action) (bool, kruntime.Object, error) {
		*calls++
		if *calls <= n {
			return true, nil, err
		}
		return false, nil, nil
	})
	return calls
}

// actionsOf are the requests of verb the fake clientset received.
func actionsOf(c *fake.Clientset, verb string) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range c.Actions() {
		if a.GetVerb() == verb {
			out = append(out, a)
		}
	}
	return out
}

package kube

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// When the Service's slices list no ready endpoint (scaled to 0), calls
// fail with ErrUnavailable saying so, not with the last connection error;
// the call's gRPC status stays Unavailable.
func TestCallsSayServiceHasNoReadyEndpoints(t *testing.T) {
	c := deployed(t, echoPlugin(t, "127.0.0.1", 0))
	client, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithInsecure(), tether.WithInterface("echo", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	callEcho(t, client)
	s, err := c.DiscoveryV1().EndpointSlices(testNS).Get(context.Background(), "greeter-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Endpoints = nil
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, "no instance left", func() bool { return len(client.Instances()) == 0 })
	echo, err := tether.Dispense(client, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = echo.Unary(ctx, &echov1.Message{Text: "hi"})
	var ne *NoEndpointsError
	if !errors.Is(err, tether.ErrUnavailable) || !errors.As(err, &ne) || status.Code(err) != codes.Unavailable {
		t.Fatalf("call at 0 endpoints: %v (code %v), want ErrUnavailable with a *NoEndpointsError and code Unavailable", err, status.Code(err))
	}
	if want := "the Service greeter in namespace plugins has no ready endpoints"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
}

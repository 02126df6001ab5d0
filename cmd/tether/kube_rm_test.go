package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tetherplug/tether/kube"
)

// rm of a plugin that does not exist is an error, as kubectl delete's is;
// so is rm of a Deployment tether did not make, which is left alone. The
// other names are still removed.
func TestKubeRmRefusesWhatIsNotThere(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: "plugins"}})
	spec := kube.Spec{Name: "greeter", Image: "g:1", Port: 7000}
	done := make(chan error, 1)
	go func() { done <- kube.Deploy(ctx, c, "plugins", spec, kube.DeployOptions{Insecure: true}) }()
	markFakeReady(t, c, "plugins", "greeter")
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	out, err := runKube(t, c, "rm", "nothere", "theirs", "greeter", "-n", "plugins")
	for _, want := range []string{
		"plugin nothere in namespace plugins: no such plugin: no Deployment or Service of that name",
		"plugin theirs in namespace plugins: Deployment theirs is not tether's",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("rm: %v; want an error saying %q", err, want)
		}
	}
	if !errors.Is(err, kube.ErrNoSuchPlugin) {
		t.Errorf("rm of a missing plugin: %v; want errors.Is ErrNoSuchPlugin", err)
	}
	if !strings.Contains(out, "greeter: removed") {
		t.Errorf("rm did not remove the plugin that was there: %s", out)
	}
	if _, err := c.AppsV1().Deployments("plugins").Get(ctx, "theirs", metav1.GetOptions{}); err != nil {
		t.Errorf("rm touched a Deployment tether did not make: %v", err)
	}
	if _, err := c.AppsV1().Deployments("plugins").Get(ctx, "greeter", metav1.GetOptions{}); err == nil {
		t.Error("greeter's Deployment is still there")
	}
}

// docs/cli.md quotes rm's message for a missing plugin.
func TestCLIDocQuotesRmNotFound(t *testing.T) {
	err := kube.CheckDeployed(context.Background(), fake.NewClientset(), "NS", "NAME")
	b, rerr := os.ReadFile("../../docs/cli.md")
	if rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil || !strings.Contains(string(b), err.Error()) {
		t.Errorf("docs/cli.md does not quote %v", err)
	}
}

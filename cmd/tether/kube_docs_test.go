package main

import (
	"os"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/tetherplug/tether/kube"
)

// docs/cli.md quotes the kube commands' messages and lines as they are.
func TestCLIDocQuotesKubeMessages(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	c := fake.NewClientset()
	quote := func(args ...string) string {
		r := runWith(t, c, nil, args...)
		if r.err == nil {
			t.Fatalf("tether %v succeeded", args)
		}
		return r.err.Error()
	}
	after := func(s, sep string) string { _, rest, _ := strings.Cut(s, sep); return rest }
	deploy := []string{"kube", "deploy", "greeter", "-n", "plugins", "--image", "greeter:v1", "--port", "7000"}
	for _, want := range []string{
		kubeNeedsTLS,
		after(quote("inspect", "tcp://127.0.0.1:1"), "bad target: "),
		strings.NewReplacer("absent", "NAME", "plugins", "NS").Replace(
			after(quote("inspect", "kube://plugins/absent", "--insecure", "--timeout", "5s"), "bad target: ")),
		quote("call", "./plugin", "E/M", "{}", "--context", "prod"),
		"tether: " + quote(deploy...),
		"tether: " + quote(append(deploy, "--insecure", "--requests", "cpu=2", "--limits", "cpu=1")...),
		progressLine("greeter", &kube.NotReadyError{Desired: 3, Pod: "greeter-557ff9f44-9x74k", Reason: kube.ReasonPending}),
		progressLine("greeter", &kube.NotReadyError{Desired: 3, Pod: "greeter-557ff9f44-9x74k", Reason: kube.ReasonProbe}),
	} {
		if want == "" || !strings.Contains(doc, want) {
			t.Errorf("docs/cli.md does not quote %q", want)
		}
	}
}

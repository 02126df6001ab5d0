// Command kubehold is a host that holds a kube plugin open: it opens
// kube://NAMESPACE/NAME with kube.WithDeploy (the greeter IMAGE, plaintext)
// from $KUBECONFIG or the pod's service account, calls it once, prints
// "holding" and waits until SIGTERM or SIGINT, then closes the client (the
// plugin is removed if no other host holds it). Killed with SIGKILL, it
// leaves its claim on the plugin to expire. With KUBEHOLD_IGNORE_TERM=1 it
// ignores SIGTERM, as a host that hangs: in a pod, it is then killed with
// SIGKILL after the grace period. It exits 1 with the error on failure.
//
//	kubehold NAMESPACE NAME IMAGE
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/kube"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: kubehold NAMESPACE NAME IMAGE")
		os.Exit(2)
	}
	if err := hold(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "kubehold:", err)
		os.Exit(1)
	}
}

func hold(ns, name, image string) error {
	sigs := []os.Signal{syscall.SIGTERM, syscall.SIGINT}
	if os.Getenv("KUBEHOLD_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
		sigs = sigs[1:]
	}
	sig, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	ctx, cancel := context.WithTimeout(sig, 3*time.Minute)
	defer cancel()
	c, err := tether.Open(ctx, "kube://"+ns+"/"+name, tether.WithInterface("greeter", 1),
		tether.WithStartTimeout(2*time.Minute), kube.WithInsecure(),
		kube.WithDeploy(kube.Spec{Image: image, Port: 7000, Replicas: new(int32(1))}))
	if err != nil {
		return err
	}
	defer c.Close()
	greeter, err := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		return err
	}
	if _, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "holder"}); err != nil {
		return err
	}
	fmt.Println("holding")
	<-sig.Done()
	return c.Close()
}

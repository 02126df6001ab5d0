// Command kubehost is a host that runs as a pod in the test cluster: with
// the in-cluster configuration (its service account), it deploys the
// greeter plugin named by its arguments with tether.Open of a kube://
// target, calls it, prints the answer and exits; the plugin is removed
// when it closes. It exits 1 with the error on failure.
//
//	kubehost NAMESPACE NAME IMAGE
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/kube"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: kubehost NAMESPACE NAME IMAGE")
		os.Exit(2)
	}
	ns, name, image := os.Args[1], os.Args[2], os.Args[3]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := tether.Open(ctx, "kube://"+ns+"/"+name, tether.WithInterface("greeter", 1),
		kube.WithInsecure(), kube.WithDeploy(kube.Spec{Image: image, Port: 7000, Replicas: new(int32(1))}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubehost:", err)
		os.Exit(1)
	}
	defer c.Close()
	greeter, err := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if err == nil {
		var resp *greeterv1.GreetResponse
		if resp, err = greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "cluster"}); err == nil {
			fmt.Println("answer:", resp.GetMessage())
			return
		}
	}
	fmt.Fprintln(os.Stderr, "kubehost:", err)
	c.Close()
	os.Exit(1)
}

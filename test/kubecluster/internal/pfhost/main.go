// Command pfhost is the host of the port-forward test, run as a process of
// its own (under connectonly, which leaves it no pod's port): it opens a
// kube:// target, waits until -pods instances are admitted, makes -calls
// calls of the greeter and prints, as JSON, the instances and how many
// calls each call's peer took. It exits 1 with the error on stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/kube"
)

// report is what pfhost prints.
type report struct {
	Instances []instance     `json:"instances"`
	Peers     map[string]int `json:"peers"` // "network ip:port" of each call's peer: calls
}

type instance struct {
	Network, Address string
	Admitted         bool
}

func main() {
	target := flag.String("target", "", "kube://NAMESPACE/NAME")
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	cert, key, ca := flag.String("tls-cert", "", "client certificate"), flag.String("tls-key", "", "its key"), flag.String("tls-ca", "", "CA")
	pf := flag.Bool("port-forward", false, "kube.WithPortForward")
	pods := flag.Int("pods", 3, "instances to wait for")
	calls := flag.Int("calls", 30, "calls to make")
	timeout := flag.Duration("timeout", time.Minute, "start timeout, and bound on the wait for the instances")
	flag.Parse()
	opts := []tether.Option{tether.WithInterface("greeter", 1), tether.WithStartTimeout(*timeout),
		tether.WithLogger(slog.New(slog.DiscardHandler)), kube.WithKubeconfig(*kubeconfig), kube.WithTLSFiles(*cert, *key, *ca)}
	if *pf {
		opts = append(opts, kube.WithPortForward())
	}
	r, err := run(*target, *pods, *calls, *timeout, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func run(target string, pods, calls int, timeout time.Duration, opts []tether.Option) (*report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	defer cancel()
	client, err := tether.Open(ctx, target, opts...)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	r := &report{Peers: map[string]int{}}
	for admitted(client) < pods {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d instances admitted in time", admitted(client), pods)
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, in := range client.Instances() {
		r.Instances = append(r.Instances, instance{in.Network, in.Address, in.Admitted})
	}
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		return nil, err
	}
	for i := range calls {
		var p peer.Peer
		if _, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "host"}, grpc.Peer(&p)); err != nil {
			return nil, fmt.Errorf("call %d: %w", i, err)
		}
		if p.Addr == nil {
			return nil, errors.New("a call without a peer")
		}
		r.Peers[p.Addr.Network()+" "+p.Addr.String()]++
	}
	return r, nil
}

// admitted counts the client's admitted instances.
func admitted(c *tether.Client) int {
	n := 0
	for _, in := range c.Instances() {
		if in.Admitted {
			n++
		}
	}
	return n
}

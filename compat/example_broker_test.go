package compat_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/compat/internal/counter"
	"github.com/tetherplug/tether/goplugin"
)

// addHelper is the host's service the plugin calls back.
type addHelper struct{}

func (addHelper) Sum(_ context.Context, a, b int64) (int64, error) { return a + b, nil }

// A tether host loads a go-plugin plugin that calls back through
// go-plugin's broker, as go-plugin's examples/bidirectional host does
// (docs/go-plugin.md shows this code beside go-plugin's).
func Example_goPluginBroker() {
	ctx := context.Background()
	client, err := tether.Launch(ctx, "./plugins/counter",
		tether.WithHandshake(tether.HandshakeConfig{ // the plugin's go-plugin HandshakeConfig
			ProtocolVersion: 1, MagicCookieKey: "COUNTER_PLUGIN", MagicCookieValue: "7d1c0b5e",
		}),
		tether.WithInterface("counter", 1), // Plugins: map[string]plugin.Plugin{"counter": ...}
		tether.WithAutoMTLS(),              // AutoMTLS: true
		goplugin.WithMultiplexedBroker(),   // GRPCBrokerMultiplex: true (or goplugin.WithBroker())
		tether.WithLogger(slog.Default()),  // Logger
		tether.WithStdout(os.Stdout))       // SyncStdout
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() // client.Kill()

	counterClient, err := tether.Dispense(client, "counter", counter.NewCounterClient) // rpcClient.Dispense("counter")
	if err != nil {
		log.Fatal(err)
	}
	broker, err := goplugin.Broker(client) // the broker GRPCClient(ctx, broker, conn) received
	if err != nil {
		log.Fatal(err)
	}
	id := broker.NextId()
	go broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(opts...)
		counter.RegisterAddHelper(s, addHelper{})
		return s
	})
	total, err := counterClient.Put(ctx, "apples", 5, id) // the plugin dials id and calls Sum
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("apples:", total)
}

// Command kv is the kv example plugin: a key-value store ("kv" v1) that
// calls its host back to audit every write.
package main

import (
	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	kvv1 "github.com/tetherplug/tether/examples/kv/kvpb/v1"
	"github.com/tetherplug/tether/examples/kv/store"
)

func main() {
	host := tether.NewHostConn()
	kv := store.New(kvv1.NewAuditorClient(host))
	tether.Serve(tether.ServeConfig{
		Name: "kv",
		Host: host,
		Implementations: []tether.Implementation{
			tether.Implement("kv", 1, func(r grpc.ServiceRegistrar) { kvv1.RegisterKVServer(r, kv) }),
		},
	})
}

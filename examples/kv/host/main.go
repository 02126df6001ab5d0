// Command kv-host loads the kv plugin, provides it an auditor that refuses
// writes under "secret/", and runs a few puts and gets:
//
//	kv-host ./bin/plugins/kv
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	kvv1 "github.com/tetherplug/tether/examples/kv/kvpb/v1"
)

// auditor is the service the host provides to the plugin.
type auditor struct {
	kvv1.UnimplementedAuditorServer
	mu  sync.Mutex
	log []string
}

func (a *auditor) Audit(_ context.Context, req *kvv1.AuditRequest) (*kvv1.AuditResponse, error) {
	allowed := !strings.HasPrefix(req.GetKey(), "secret/")
	a.mu.Lock()
	a.log = append(a.log, fmt.Sprintf("audit %s=%q allowed=%v", req.GetKey(), req.GetValue(), allowed))
	a.mu.Unlock()
	if !allowed {
		return &kvv1.AuditResponse{Reason: "keys under secret/ are read-only"}, nil
	}
	return &kvv1.AuditResponse{Allowed: true}, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kv-host PLUGIN")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "kv-host:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	audit := &auditor{}
	client, err := tether.Launch(ctx, path,
		tether.WithInterface("kv", 1),
		tether.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { kvv1.RegisterAuditorServer(r, audit) }))
	if err != nil {
		return err
	}
	defer client.Close()
	kv, err := tether.Dispense(client, "kv", kvv1.NewKVClient)
	if err != nil {
		return err
	}
	for _, kvp := range [][2]string{{"greeting", "hello"}, {"secret/token", "hunter2"}, {"greeting", "bonjour"}} {
		resp, err := kv.Put(ctx, &kvv1.PutRequest{Key: kvp[0], Value: []byte(kvp[1])})
		if err != nil {
			fmt.Printf("put %s: refused: %v\n", kvp[0], err)
			continue
		}
		fmt.Printf("put %s=%s: revision %d\n", kvp[0], kvp[1], resp.GetRevision())
	}
	got, err := kv.Get(ctx, &kvv1.GetRequest{Key: "greeting"})
	if err != nil {
		return err
	}
	fmt.Printf("get greeting: %s (revision %d)\n", got.GetValue(), got.GetRevision())
	audit.mu.Lock()
	defer audit.mu.Unlock()
	for _, line := range audit.log {
		fmt.Println(line)
	}
	return nil
}

package kv_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	kvv1 "github.com/tetherplug/tether/examples/kv/kvpb/v1"
	"github.com/tetherplug/tether/tethertest"
)

type refuseSecrets struct {
	kvv1.UnimplementedAuditorServer
	calls atomic.Int32
}

func (a *refuseSecrets) Audit(_ context.Context, req *kvv1.AuditRequest) (*kvv1.AuditResponse, error) {
	a.calls.Add(1)
	if strings.HasPrefix(req.GetKey(), "secret/") {
		return &kvv1.AuditResponse{Reason: "read-only"}, nil
	}
	return &kvv1.AuditResponse{Allowed: true}, nil
}

func TestPutIsAuditedByTheHost(t *testing.T) {
	defer goleak.VerifyNone(t)
	defer tethertest.Cleanup()
	path := tethertest.Build(t, "github.com/tetherplug/tether/examples/kv/plugin")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	audit := &refuseSecrets{}
	client, err := tether.Launch(ctx, path, tether.WithInterface("kv", 1),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { kvv1.RegisterAuditorServer(r, audit) }))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	tethertest.RequireTransport(t, client.Name(), client.Transport()) // the callbacks work over either
	kv, err := tether.Dispense(client, "kv", kvv1.NewKVClient)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := kv.Put(ctx, &kvv1.PutRequest{Key: "a", Value: []byte("1")}); err != nil {
		t.Fatalf("allowed put: %v", err)
	}
	_, err = kv.Put(ctx, &kvv1.PutRequest{Key: "secret/x", Value: []byte("2")})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("refused put: %v, want PermissionDenied with the host's reason", err)
	}
	if _, err := kv.Get(ctx, &kvv1.GetRequest{Key: "secret/x"}); status.Code(err) != codes.NotFound {
		t.Fatalf("a refused write was stored: %v", err)
	}
	got, err := kv.Get(ctx, &kvv1.GetRequest{Key: "a"})
	if err != nil || string(got.GetValue()) != "1" {
		t.Fatalf("get a: %v %q", err, got.GetValue())
	}
	if n := audit.calls.Load(); n != 2 {
		t.Fatalf("the host audited %d writes, want 2", n)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
}

// Package store is the kv example plugin's implementation: an in-memory
// key-value store that asks the host to audit every write before storing it.
package store

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kvv1 "github.com/tetherplug/tether/examples/kv/kvpb/v1"
)

// Store serves kv.v1.KV.
type Store struct {
	kvv1.UnimplementedKVServer
	auditor kvv1.AuditorClient

	mu       sync.Mutex
	values   map[string][]byte
	revs     map[string]uint64
	revision uint64
}

// New returns an empty store auditing writes through auditor, usually a
// kvv1.AuditorClient over the plugin's tether.HostConn.
func New(auditor kvv1.AuditorClient) *Store {
	return &Store{auditor: auditor, values: map[string][]byte{}, revs: map[string]uint64{}}
}

// Put asks the host's auditor, then stores the value.
func (s *Store) Put(ctx context.Context, req *kvv1.PutRequest) (*kvv1.PutResponse, error) {
	if req.GetKey() == "" {
		return nil, status.Error(codes.InvalidArgument, "empty key")
	}
	// ctx is the host's call: the callback inherits its deadline and
	// cancellation, and goes back to the host that called.
	verdict, err := s.auditor.Audit(ctx, &kvv1.AuditRequest{Key: req.GetKey(), Value: req.GetValue()})
	if err != nil {
		return nil, status.Errorf(status.Code(err), "audit: %v", status.Convert(err).Message())
	}
	if !verdict.GetAllowed() {
		return nil, status.Errorf(codes.PermissionDenied, "host refused write to %q: %s", req.GetKey(), verdict.GetReason())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revision++
	s.values[req.GetKey()] = req.GetValue()
	s.revs[req.GetKey()] = s.revision
	return &kvv1.PutResponse{Revision: s.revision}, nil
}

// Get returns a stored value.
func (s *Store) Get(_ context.Context, req *kvv1.GetRequest) (*kvv1.GetResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[req.GetKey()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no key %q", req.GetKey())
	}
	return &kvv1.GetResponse{Value: v, Revision: s.revs[req.GetKey()]}, nil
}

package fastrpc

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// WithStatsHandler has the client report each call to h as grpc-go does
// (grpc.WithStatsHandler): TagRPC before the request is written, so that
// metadata h adds to the outgoing context (a trace context) is sent, then
// Begin, OutHeader, OutPayload, InHeader, InPayload, InTrailer and End with
// the call's error. InPayload carries the length only, not the message:
// the connection's reader sees the bytes before the caller decodes them.
// Connection events (TagConn, HandleConn) are not reported. Without a
// handler a call pays one nil check.
func WithStatsHandler(h stats.Handler) ClientOption {
	return func(o *clientOptions) { o.stats = h }
}

// WithServerStatsHandler has the server report each call to h as grpc-go
// does (grpc.StatsHandler): TagRPC with the call's incoming metadata
// already in the context (where a trace context is extracted from), then
// Begin, InHeader, InPayload, OutHeader, OutPayload, OutTrailer and End
// with the handler's error. A call refused before it has a stream (an
// unknown method) is not reported.
func WithServerStatsHandler(h stats.Handler) ServerOption {
	return func(o *serverOptions) { o.stats = h }
}

// rpcStats reports one call's events to a stats.Handler. Its methods do
// nothing on a nil *rpcStats: a call without a handler has none.
type rpcStats struct {
	h      stats.Handler
	ctx    context.Context // the context TagRPC returned
	client bool
	begin  time.Time
	ended  atomic.Bool
}

// tagRPC tags a call; ctx is the call's context. Begin follows.
func tagRPC(ctx context.Context, h stats.Handler, client bool, method string) (context.Context, *rpcStats) {
	ctx = h.TagRPC(ctx, &stats.RPCTagInfo{FullMethodName: method, FailFast: true})
	return ctx, &rpcStats{h: h, ctx: ctx, client: client, begin: time.Now()}
}

// beginEvent reports the call's Begin.
func (r *rpcStats) beginEvent(desc *grpc.StreamDesc) {
	b := &stats.Begin{Client: r.client, BeginTime: r.begin, FailFast: true}
	if desc != nil {
		b.IsClientStream, b.IsServerStream = desc.ClientStreams, desc.ServerStreams
	}
	r.h.HandleRPC(r.ctx, b)
}

func (r *rpcStats) outHeader(method string, md metadata.MD, local, remote net.Addr) {
	if r == nil {
		return
	}
	r.h.HandleRPC(r.ctx, &stats.OutHeader{Client: r.client, FullMethod: method, Header: md, LocalAddr: local, RemoteAddr: remote})
}

func (r *rpcStats) inHeader(method string, md metadata.MD, wireLen int, local, remote net.Addr) {
	if r == nil {
		return
	}
	h := &stats.InHeader{Client: r.client, Header: md, WireLength: wireLen}
	if !r.client {
		h.FullMethod, h.LocalAddr, h.RemoteAddr = method, local, remote
	}
	r.h.HandleRPC(r.ctx, h)
}

func (r *rpcStats) outPayload(m any, n int) {
	if r == nil {
		return
	}
	r.h.HandleRPC(r.ctx, &stats.OutPayload{Client: r.client, Payload: m, Length: n,
		CompressedLength: n, WireLength: n + msgOverhead, SentTime: time.Now()})
}

func (r *rpcStats) inPayload(m any, n int) {
	if r == nil {
		return
	}
	r.h.HandleRPC(r.ctx, &stats.InPayload{Client: r.client, Payload: m, Length: n,
		CompressedLength: n, WireLength: n + msgOverhead, RecvTime: time.Now()})
}

// finish reports a client call's trailers (unless it ended here) and its
// End, once; false when it had ended already.
func (r *rpcStats) finish(err error, trailer metadata.MD, local bool) bool {
	if r.ended.Swap(true) {
		return false
	}
	if !local {
		r.h.HandleRPC(r.ctx, &stats.InTrailer{Client: r.client, Trailer: trailer})
	}
	r.h.HandleRPC(r.ctx, &stats.End{Client: r.client, BeginTime: r.begin, EndTime: time.Now(), Trailer: trailer, Error: err})
	return true
}

func (r *rpcStats) outTrailer(md metadata.MD) {
	if r == nil {
		return
	}
	r.h.HandleRPC(r.ctx, &stats.OutTrailer{Client: r.client, Trailer: md})
}

// end reports the call's End, once.
func (r *rpcStats) end(err error, trailer metadata.MD) {
	if r == nil || r.ended.Swap(true) {
		return
	}
	r.h.HandleRPC(r.ctx, &stats.End{Client: r.client, BeginTime: r.begin, EndTime: time.Now(), Trailer: trailer, Error: err})
}

// Package fastrpc is tether's fast local transport: the calls of generated
// gRPC stubs carried over a light framing on a Unix socket instead of HTTP/2.
// A *ClientConn is a grpc.ClientConnInterface (NewXxxClient(conn) works
// unchanged) and a *Server is a grpc.ServiceRegistrar (RegisterXxxServer
// works unchanged).
//
// # Design
//
// One connection carries many concurrent calls (streams). Each side writes an
// 8-byte preface "TFRPC\x00\x01\x00" (magic, protocol version 1) and then
// frames. Every frame is a 10-byte header and a payload:
//
//	offset size field
//	0      4    payload length, big-endian
//	4      4    stream id, big-endian (0 only for goaway)
//	8      1    type
//	9      1    flags, must be 0 (reserved)
//
//	type  name        direction  payload
//	1     request     c → s      method, timeout ns (0: none), metadata; opens the stream
//	2     message     both       one protobuf message
//	3     half-close  c → s      empty: the client sends no more messages
//	4     headers     s → c      metadata; optional, before the first message
//	5     trailers    s → c      google.rpc.Status bytes (empty: OK), metadata; ends the stream
//	6     cancel      c → s      empty: the caller gave up; no trailers follow
//	7     credit      both       uvarint n: the receiver consumed n more bytes of this stream
//	8     goaway      s → c      empty, stream 0: open no new streams on this connection
//
// Strings and byte strings in payloads are a uvarint length then the bytes;
// metadata is a uvarint count of keys, then per key its name, a uvarint count
// of values and the values. The client picks stream ids: it counts up from 1
// and never reuses one on a connection; a request on an open id is a
// protocol error.
//
// A unary call is one write each way: request+message+half-close, then
// (headers+)message+trailers. The client has no goroutine per call: the
// connection's reader fills the call and wakes its caller; a context that
// can end is watched with context.AfterFunc. The server runs each call on a
// goroutine it keeps for later calls (up to 64 idle), so that stacks are not
// grown afresh per call. Writes are group-committed: a writer that finds no
// write(2) in progress becomes the flusher: it queues its frames, yields
// once (runtime.Gosched) so that goroutines ready to write can queue theirs,
// then writes them all; writers that arrive during a write(2) queue for the
// next (up to 1 MiB, then they wait). A lone caller pays one copy and a
// Gosched that returns at once; 16 callers share write(2)s (this doubled
// their throughput). Frames of 16 KiB and more are written from the
// caller's buffer without the copy. A connection's reader never
// blocks on a write, so two peers cannot deadlock each waiting for the
// other to read.
//
// Bounded memory: a message frame above the receiver's limit (default 4 MiB,
// as gRPC) is skipped without being read into memory and fails that call
// with ResourceExhausted; other frames above 1 MiB break the connection.
// Flow control is per stream and per direction: a sender starts with 1 MiB of
// credit, may send a message while its credit is positive, and each message
// costs its length plus 10; the receiver returns credit as its caller
// consumes, at least a quarter window at a time. So at most 1 MiB plus one
// message waits per stream, and a peer that sends beyond its credit breaks
// the connection. Unary calls never need a credit frame.
//
// Stats handlers (grpc/stats, what otelgrpc traces with) are called as
// grpc-go calls them: WithStatsHandler on a ClientConn, WithServerStatsHandler
// on a Server. Without one, a call pays a nil check.
//
// Prior art: containerd's ttrpc (same header layout; no flow control, no
// metadata on responses), storj's drpc, and fullstorydev/grpchan (how a
// ClientConnInterface and a ServiceRegistrar carry generated stubs).
package fastrpc

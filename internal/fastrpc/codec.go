package fastrpc

import (
	"encoding/binary"
	"fmt"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The payloads of control frames are built from unsigned varints and
// varint-length-prefixed byte strings; see doc.go.

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendMD encodes metadata as a count of keys, then per key its name, the
// count of its values and the values.
func appendMD(b []byte, md metadata.MD) []byte {
	b = binary.AppendUvarint(b, uint64(len(md)))
	for k, vs := range md {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return b
}

// decoder reads a control payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: malformed %s", errProtocol, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string(what string) string { return string(d.bytes(what)) }

// count reads a number of items that each take at least one more byte, so a
// count above the bytes left is malformed and nothing is allocated for it.
func (d *decoder) count(what string) int {
	n := d.uvarint(what)
	if n > uint64(len(d.b)) {
		d.fail(what)
		return 0
	}
	return int(n)
}

func (d *decoder) md() metadata.MD {
	n := d.count("metadata")
	if n == 0 || d.err != nil {
		return nil
	}
	md := make(metadata.MD, min(n, 16)) // n is bounded by bytes, not memory: no large hint
	for i := 0; i < n && d.err == nil; i++ {
		k := d.string("metadata key")
		nv := d.count("metadata values")
		vs := make([]string, 0, min(nv, 4))
		for j := 0; j < nv && d.err == nil; j++ {
			vs = append(vs, d.string("metadata value"))
		}
		md[k] = append(md[k], vs...)
	}
	return md
}

func (d *decoder) end(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(what + " (trailing bytes)")
	}
	return d.err
}

// request is the payload of a request frame.
type request struct {
	method  string
	timeout time.Duration // 0: none
	md      metadata.MD
}

func appendRequest(b []byte, r request) []byte {
	b = appendString(b, r.method)
	b = binary.AppendUvarint(b, uint64(max(r.timeout, 0)))
	return appendMD(b, r.md)
}

func decodeRequest(b []byte) (request, error) {
	d := decoder{b: b}
	r := request{method: d.string("request method")}
	t := d.uvarint("request timeout")
	if t > uint64(1<<63-1) {
		d.fail("request timeout")
	}
	r.timeout = time.Duration(t)
	r.md = d.md()
	return r, d.end("request")
}

func decodeMD(b []byte) (metadata.MD, error) {
	d := decoder{b: b}
	md := d.md()
	return md, d.end("headers")
}

// appendTrailers encodes a google.rpc.Status (nil: OK) then the trailer
// metadata.
func appendTrailers(b []byte, st *spb.Status, md metadata.MD) ([]byte, error) {
	var sb []byte
	if st != nil && (st.Code != 0 || st.Message != "" || len(st.Details) != 0) {
		var err error
		if sb, err = proto.Marshal(st); err != nil {
			return nil, err
		}
	}
	b = appendBytes(b, sb)
	return appendMD(b, md), nil
}

// okTrailers is the payload of trailers with status OK and no metadata.
var okTrailers = []byte{0, 0}

// decodeTrailers returns a nil status for OK.
func decodeTrailers(b []byte) (*spb.Status, metadata.MD, error) {
	if string(b) == string(okTrailers) {
		return nil, nil, nil
	}
	d := decoder{b: b}
	sb := d.bytes("trailer status")
	md := d.md()
	if err := d.end("trailers"); err != nil {
		return nil, nil, err
	}
	if len(sb) == 0 {
		return nil, md, nil
	}
	st := &spb.Status{}
	if err := proto.Unmarshal(sb, st); err != nil {
		return nil, nil, fmt.Errorf("%w: malformed trailer status: %v", errProtocol, err)
	}
	return st, md, nil
}

func decodeCredit(b []byte) (uint32, error) {
	d := decoder{b: b}
	n := d.uvarint("credit")
	if n == 0 || n > 1<<31 {
		d.fail("credit")
	}
	return uint32(n), d.end("credit")
}

// unmarshalMessage decodes a received message b into m and recycles b
// (proto.Unmarshal copies what it keeps, as grpc-go relies on too).
func unmarshalMessage(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "fastrpc: message of type %T is not a proto.Message", m)
	}
	err := proto.Unmarshal(b, pm)
	recycle(b)
	if err != nil {
		return status.Errorf(codes.Internal, "fastrpc: unmarshal %T: %v", m, err)
	}
	return nil
}

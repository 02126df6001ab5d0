package fastrpc

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fuzzMaxMsg is the message limit the fuzzed decoder runs with.
const fuzzMaxMsg = 64 << 10

// FuzzDecodeFrame feeds arbitrary bytes to the frame reader and the payload
// decoders: they must not panic, must not hand out a payload above the
// limits (so nothing larger is allocated for it), and must fail with
// io.EOF/io.ErrUnexpectedEOF, errProtocol or errFrameTooLarge only.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range seedFrames() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := frameReader{r: bytes.NewReader(data), maxMsg: fuzzMaxMsg}
		for {
			h, p, err := fr.readFrame()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, errProtocol) && !errors.Is(err, errFrameTooLarge) {
					t.Fatalf("unexpected error type: %v", err)
				}
				if errors.Is(err, errFrameTooLarge) && h.typ == frameMessage {
					continue // skipped; the reader goes on, as the transports do
				}
				return
			}
			limit := maxControlFrame
			if h.typ == frameMessage {
				limit = fuzzMaxMsg
			}
			if len(p) > limit || len(p) != int(h.length) {
				t.Fatalf("%v payload of %d bytes (header says %d, limit %d)", h.typ, len(p), h.length, limit)
			}
			checkPayload(t, h.typ, p)
		}
	})
}

// checkPayload decodes p as its type's payload and checks what came out is
// no larger than what went in.
func checkPayload(t *testing.T, typ frameType, p []byte) {
	var md metadata.MD
	var err error
	switch typ {
	case frameRequest:
		var r request
		r, err = decodeRequest(p)
		md = r.md
		if err == nil && len(r.method) > len(p) {
			t.Fatalf("method of %d bytes from %d", len(r.method), len(p))
		}
	case frameHeaders:
		md, err = decodeMD(p)
	case frameTrailers:
		_, md, err = decodeTrailers(p)
	case frameCredit:
		_, err = decodeCredit(p)
	}
	if err != nil && !errors.Is(err, errProtocol) {
		t.Fatalf("%v payload: unexpected error type: %v", typ, err)
	}
	n := 0
	for k, vs := range md {
		n += len(k) + 1
		for _, v := range vs {
			n += len(v) + 1
		}
	}
	if n > 2*len(p)+2 {
		t.Fatalf("%v payload of %d bytes decoded to %d bytes of metadata", typ, len(p), n)
	}
}

// seedFrames are valid frames of every type, and a few broken ones.
func seedFrames() [][]byte {
	md := metadata.Pairs("a", "1", "a", "2", "b-bin", "\x00\xff")
	var one []byte
	one = appendFrame(one, frameRequest, 1, func(b []byte) []byte {
		return appendRequest(b, request{method: "/s.S/M", timeout: time.Second, md: md})
	})
	one = appendFrame(one, frameMessage, 1, func(b []byte) []byte { return append(b, "hello"...) })
	one = appendFrame(one, frameHalfClose, 1, nil)
	one = appendHeadersFrame(one, 1, md)
	st, _ := status.New(codes.NotFound, "nope").WithDetails(status.New(codes.OK, "detail").Proto())
	one = appendTrailersFrame(one, 1, st, md)
	one = appendFrame(one, frameCancel, 1, nil)
	one = appendCredit(one, 1, 4096)
	one = appendFrame(one, frameGoAway, 0, nil)
	big := make([]byte, headerLen)
	putHeader(big, frameHeader{length: fuzzMaxMsg + 1, stream: 3, typ: frameMessage})
	huge := make([]byte, headerLen)
	putHeader(huge, frameHeader{length: 1<<32 - 1, stream: 3, typ: frameTrailers})
	return [][]byte{one, big, huge, {}, preface[:]}
}

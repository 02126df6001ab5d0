package fastrpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// frameType says what a frame carries; see doc.go for the table.
type frameType uint8

const (
	frameRequest   frameType = 1 // client → server: method, timeout, metadata; opens a stream
	frameMessage   frameType = 2 // either way: one serialized message
	frameHalfClose frameType = 3 // client → server: no more messages
	frameHeaders   frameType = 4 // server → client: response header metadata
	frameTrailers  frameType = 5 // server → client: status and trailer metadata; ends the stream
	frameCancel    frameType = 6 // client → server: the caller gave up
	frameCredit    frameType = 7 // either way: the receiver consumed n more bytes
	frameGoAway    frameType = 8 // server → client, stream 0: open no new streams here
	frameTypeMax             = frameGoAway
)

func (t frameType) String() string {
	names := [...]string{"", "request", "message", "half-close", "headers", "trailers", "cancel", "credit", "goaway"}
	if t >= 1 && t <= frameTypeMax {
		return names[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

const (
	// headerLen is the fixed frame header: length(4) stream(4) type(1) flags(1).
	headerLen = 10
	// DefaultMaxMsgSize is the default largest message either side accepts,
	// as in gRPC.
	DefaultMaxMsgSize = 4 << 20
	// maxControlFrame bounds every frame that is not a message (request,
	// headers, trailers): metadata and status details.
	maxControlFrame = 1 << 20
	// initialWindow is the credit, in bytes, each side of a stream starts
	// with for sending messages; see doc.go.
	initialWindow = 1 << 20
	// msgOverhead is what one message costs against the credit beyond its
	// payload, so that empty messages cannot be queued without bound.
	msgOverhead = headerLen
)

// preface is what each side writes first on a new connection.
var preface = [8]byte{'T', 'F', 'R', 'P', 'C', 0, 1, 0}

// frameHeader is the decoded fixed header of a frame.
type frameHeader struct {
	length uint32
	stream uint32
	typ    frameType
	flags  uint8
}

// errFrameTooLarge is wrapped by readFrame when a frame's length is above the
// limit for its type; the payload has not been read.
var errFrameTooLarge = errors.New("fastrpc: frame larger than allowed")

// errProtocol marks a peer that broke the framing.
var errProtocol = errors.New("fastrpc: protocol error")

func putHeader(b []byte, h frameHeader) {
	binary.BigEndian.PutUint32(b[0:4], h.length)
	binary.BigEndian.PutUint32(b[4:8], h.stream)
	b[8] = byte(h.typ)
	b[9] = h.flags
}

// parseHeader decodes and checks a frame header.
func parseHeader(b []byte) (frameHeader, error) {
	h := frameHeader{
		length: binary.BigEndian.Uint32(b[0:4]),
		stream: binary.BigEndian.Uint32(b[4:8]),
		typ:    frameType(b[8]),
		flags:  b[9],
	}
	if h.typ < 1 || h.typ > frameTypeMax {
		return h, fmt.Errorf("%w: unknown frame type %d", errProtocol, b[8])
	}
	if h.flags != 0 {
		return h, fmt.Errorf("%w: %v frame with flags %#x", errProtocol, h.typ, h.flags)
	}
	if (h.stream == 0) != (h.typ == frameGoAway) {
		return h, fmt.Errorf("%w: %v frame on stream %d", errProtocol, h.typ, h.stream)
	}
	if h.typ != frameMessage && h.length > maxControlFrame {
		return h, fmt.Errorf("%w: %v frame of %d bytes (limit %d)", errFrameTooLarge, h.typ, h.length, maxControlFrame)
	}
	return h, nil
}

// frameReader reads frames from a connection into a reused buffer.
type frameReader struct {
	r      io.Reader
	hdr    [headerLen]byte
	maxMsg int // largest message frame read into memory
}

// readHeader reads the next frame header.
func (fr *frameReader) readHeader() (frameHeader, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return frameHeader{}, err
	}
	return parseHeader(fr.hdr[:])
}

// readPayload reads a payload of h.length bytes into a fresh slice. The
// caller has checked the length against its limits.
func (fr *frameReader) readPayload(h frameHeader) ([]byte, error) {
	if h.length == 0 {
		return nil, nil
	}
	var b []byte
	if h.length >= 4<<10 {
		b = (*getSized(int(h.length)))[:h.length]
	} else {
		b = make([]byte, h.length)
	}
	if _, err := io.ReadFull(fr.r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// discard skips a payload that will not be kept.
func (fr *frameReader) discard(n uint32) error {
	_, err := io.CopyN(io.Discard, fr.r, int64(n))
	return err
}

// readFrame reads one whole frame, refusing a message frame above maxMsg
// (after skipping its payload) and any other frame above maxControlFrame. It
// is the decoder the fuzz test drives.
func (fr *frameReader) readFrame() (frameHeader, []byte, error) {
	h, err := fr.readHeader()
	if err != nil {
		return h, nil, err
	}
	if h.typ == frameMessage && int64(h.length) > int64(fr.maxMsg) {
		if err := fr.discard(h.length); err != nil {
			return h, nil, err
		}
		return h, nil, fmt.Errorf("%w: message of %d bytes (limit %d)", errFrameTooLarge, h.length, fr.maxMsg)
	}
	b, err := fr.readPayload(h)
	return h, b, err
}

// Version is the framing's version, the preface's seventh byte: what a
// plugin advertises so that a host knows it can speak to it.
const Version = 1

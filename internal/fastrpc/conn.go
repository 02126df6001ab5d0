package fastrpc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"
)

// wire is what both sides share on one connection: a buffered writer that
// batches frames from concurrent writers and the frame reader.
type wire struct {
	nc net.Conn
	fr frameReader

	waiting atomic.Int32 // writers queued on wmu; the last one flushes
	wmu     sync.Mutex
	bw      *bufio.Writer
	werr    error // sticky: once a write failed, every write fails
}

func newWire(nc net.Conn, maxRecv int) *wire {
	return &wire{
		nc: nc,
		fr: frameReader{r: bufio.NewReaderSize(nc, 32<<10), maxMsg: maxRecv},
		bw: bufio.NewWriterSize(nc, 32<<10),
	}
}

// write sends prebuilt frames. Concurrent writers batch: a writer that sees
// others queued behind it leaves the flush to the last of them, so a burst of
// calls costs one write(2) instead of one each.
func (w *wire) write(b []byte) error {
	w.waiting.Add(1)
	w.wmu.Lock()
	defer w.wmu.Unlock()
	queued := w.waiting.Add(-1)
	if w.werr != nil {
		return w.werr
	}
	_, err := w.bw.Write(b)
	if err == nil && queued == 0 {
		err = w.bw.Flush()
	}
	if err != nil {
		w.werr = err
	}
	return err
}

// exchangePreface writes ours and, when read is set, checks the peer's.
func (w *wire) sendPreface() error { return w.write(preface[:]) }

func (w *wire) readPreface() error {
	var p [len(preface)]byte
	if _, err := io.ReadFull(w.fr.r, p[:]); err != nil {
		return err
	}
	if !bytes.Equal(p[:], preface[:]) {
		return fmt.Errorf("%w: peer is not a fastrpc endpoint (preface %q)", errProtocol, p[:])
	}
	return nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return // let large buffers go rather than pin them
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// appendFrame appends a frame of type t on stream id whose payload is built
// by fill (nil: empty payload).
func appendFrame(b []byte, t frameType, id uint32, fill func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, headerLen)...)
	if fill != nil {
		b = fill(b)
	}
	putHeader(b[start:], frameHeader{length: uint32(len(b) - start - headerLen), stream: id, typ: t})
	return b
}

// appendMessage appends a message frame for m and returns the payload size.
func appendMessage(b []byte, id uint32, m any) ([]byte, int, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return b, 0, fmt.Errorf("fastrpc: message of type %T is not a proto.Message", m)
	}
	start := len(b)
	b = append(b, make([]byte, headerLen)...)
	b, err := proto.MarshalOptions{}.MarshalAppend(b, pm)
	if err != nil {
		return b[:start], 0, fmt.Errorf("fastrpc: marshal %T: %w", m, err)
	}
	n := len(b) - start - headerLen
	putHeader(b[start:], frameHeader{length: uint32(n), stream: id, typ: frameMessage})
	return b, n, nil
}

func appendCredit(b []byte, id uint32, n int) []byte {
	return appendFrame(b, frameCredit, id, func(b []byte) []byte {
		return binary.AppendUvarint(b, uint64(n))
	})
}

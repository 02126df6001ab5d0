package fastrpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"

	"google.golang.org/protobuf/proto"
)

// wire is what both sides share on one connection: a group-commit writer
// and the frame reader.
type wire struct {
	nc net.Conn
	fr frameReader

	wmu      sync.Mutex
	wcond    sync.Cond
	flushing bool   // a writer is in write(2); others append to pending
	pending  []byte // frames for the next write(2)
	spare    []byte // the other buffer, reused
	werr     error  // sticky: once a write failed, every write fails
}

// maxPending is how much may wait behind a write(2) before writers block.
const maxPending = 1 << 20

// Read buffer sizes. A host keeps a client connection to every plugin it
// loaded, most of them idle, so its buffer is small: 4 KiB holds the replies
// of many concurrent small calls, and a payload larger than the buffer is
// read straight into its message. A plugin's server reads its host's
// batched requests into 32 KiB.
const (
	clientReadBuffer = 4 << 10
	serverReadBuffer = 32 << 10
)

func newWire(nc net.Conn, maxRecv, readBuffer int) *wire {
	w := &wire{
		nc: nc,
		fr: frameReader{r: bufio.NewReaderSize(nc, readBuffer), maxMsg: maxRecv},
	}
	w.wcond.L = &w.wmu
	return w
}

// write sends frames. A writer that finds no write(2) in progress becomes
// the flusher: it queues b, yields once so that goroutines ready to write
// can queue theirs, and writes the lot; writers that come during a write(2)
// queue and return, and the flusher sends what they queued in one more
// write(2). So concurrent calls share system calls without a writer
// goroutine. Frames of 16 KiB or more skip the queue when no write is in
// progress. Frames queued after a connection broke are lost; the reader
// reports the break.
func (w *wire) write(b []byte) error {
	w.wmu.Lock()
	for w.werr == nil && w.flushing && len(w.pending) >= maxPending {
		w.wcond.Wait()
	}
	if w.werr != nil {
		defer w.wmu.Unlock()
		return w.werr
	}
	if w.flushing {
		w.pending = append(w.pending, b...)
		w.wmu.Unlock()
		return nil
	}
	w.flushing = true
	out, owned := b, false
	if len(b) < 16<<10 {
		// Let the goroutines that are ready to write join this write(2):
		// with nothing else to run this returns at once.
		w.pending = append(w.pending, b...)
		w.wmu.Unlock()
		runtime.Gosched()
		w.wmu.Lock()
		out, owned = w.pending, true
		w.pending, w.spare = w.spare, nil
	}
	for {
		w.wmu.Unlock()
		_, err := w.nc.Write(out)
		w.wmu.Lock()
		if owned {
			w.spare = out[:0]
		}
		if err != nil {
			w.werr = err
			_ = w.nc.Close() // so that the reader sees the break too
		}
		if err != nil || len(w.pending) == 0 {
			break
		}
		out, owned = w.pending, true
		w.pending, w.spare = w.spare, nil
		w.wcond.Broadcast()
	}
	w.flushing = false
	if cap(w.spare) > 64<<10 {
		w.spare = nil // an idle connection keeps no large buffer
	}
	w.wcond.Broadcast()
	err := w.werr
	w.wmu.Unlock()
	return err
}

// flushed waits until no frame queued by a writer that has returned is
// left unwritten (a writer that comes during a write(2) queues its frames
// and returns before they are sent), or until ctx ends or the connection
// broke. Graceful Stop calls it before it closes the connection, so that
// the replies of drained calls are not lost.
func (w *wire) flushed(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		w.wmu.Lock()
		w.wcond.Broadcast()
		w.wmu.Unlock()
	})
	defer stop()
	w.wmu.Lock()
	defer w.wmu.Unlock()
	for w.werr == nil && ctx.Err() == nil && (w.flushing || len(w.pending) > 0) {
		w.wcond.Wait()
	}
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
	size := proto.Size(pm)
	start := len(b)
	b = growBuf(b, headerLen+size)
	b = append(b, make([]byte, headerLen)...)
	b, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, pm)
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

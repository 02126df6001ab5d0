package tunnel

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/tethertest"
)

// pipeStream is one end of an in-memory frame pipe.
type pipeStream struct {
	in, out chan *tetherv1.TunnelFrame
	closed  chan struct{}
}

func (p *pipeStream) Send(f *tetherv1.TunnelFrame) error {
	select {
	case p.out <- f:
		return nil
	case <-p.closed:
		return io.EOF
	}
}

func (p *pipeStream) Recv() (*tetherv1.TunnelFrame, error) {
	select {
	case f := <-p.in:
		return f, nil
	case <-p.closed:
		return nil, io.EOF
	}
}

func pair() (*Conn, *Conn) {
	ab := make(chan *tetherv1.TunnelFrame, 16)
	ba := make(chan *tetherv1.TunnelFrame, 16)
	closed := make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(closed) }) }
	a := NewConn(&pipeStream{in: ba, out: ab, closed: closed}, end, Addr{"a"}, Addr{"b"})
	b := NewConn(&pipeStream{in: ab, out: ba, closed: closed}, end, Addr{"b"}, Addr{"a"})
	return a, b
}

func TestLargeWritesArriveWholeAndInOrder(t *testing.T) {
	a, b := pair()
	defer a.Close()
	want := make([]byte, 5*maxFrame+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	errc := make(chan error, 1)
	go func() {
		n, err := a.Write(want)
		if err == nil && n != len(want) {
			err = errors.New("short write")
		}
		errc <- err
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if err := tethertest.Recv(t, errc, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ after the tunnel")
	}
}

func TestWriteDoesNotAliasTheCallersBuffer(t *testing.T) {
	a, b := pair()
	defer a.Close()
	buf := []byte("first")
	if _, err := a.Write(buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX")
	got := make([]byte, 5)
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "first" {
		t.Fatalf("read %q: the frame shared the writer's buffer", got)
	}
}

func TestCloseUnblocksReadAndFailsWrite(t *testing.T) {
	a, _ := pair()
	errc := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 1))
		errc <- err
	}()
	a.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked 5s after Close")
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
	select {
	case <-a.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if err := a.SetDeadline(time.Now()); !errors.Is(err, os.ErrNoDeadline) {
		t.Fatalf("SetDeadline: %v", err)
	}
}

func TestListenerHandsOverConnsUntilClosed(t *testing.T) {
	l := NewListener()
	a, _ := pair()
	go func() { _ = l.Put(a) }()
	c, err := l.Accept()
	if err != nil || c != a {
		t.Fatalf("Accept: %v %v", c, err)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if err := l.Put(a); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
}

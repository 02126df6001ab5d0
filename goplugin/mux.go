package goplugin

import (
	"context"
	"net"
	"sync"
	"time"

	gpwire "github.com/tetherplug/tether/internal/goplugin"
)

// Multiplexed mode: every connection is a yamux stream of the one session
// to the plugin's listener. A side about to open a stream for an id knocks
// (ConnInfo with Knock) and opens it once the other side acknowledged.
// The plugin opens its streams one at a time (knock, ack, open, under one
// lock), so the host hands the streams it accepts to the ids it
// acknowledged, in order.

// muxState is the host's multiplexed listeners and the ids it
// acknowledged whose streams have not arrived yet.
type muxState struct {
	listeners map[uint32]*muxListener
	added     chan struct{} // closed and replaced when a listener is added
	knocked   []uint32      // acknowledged ids, oldest first
	accepting bool          // the accept loop runs
}

func (m *muxState) init() {
	m.listeners = map[uint32]*muxListener{}
	m.added = make(chan struct{})
}

// muxListener takes the plugin's streams for one id.
type muxListener struct {
	b     *GRPCBroker
	id    uint32
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// muxListen registers a listener for id and starts the accept loop.
func (b *GRPCBroker) muxListen(id uint32) (net.Listener, error) {
	l := &muxListener{b: b, id: id, conns: make(chan net.Conn, 4), done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.why != nil {
		return nil, b.why
	}
	if _, ok := b.mux.listeners[id]; ok {
		return nil, b.errorf(id, "already accepting it")
	}
	b.mux.listeners[id] = l
	close(b.mux.added)
	b.mux.added = make(chan struct{})
	b.closers[l] = struct{}{}
	if !b.mux.accepting {
		b.mux.accepting = true
		b.wg.Add(1)
		go b.acceptStreams()
	}
	return l, nil
}

func (l *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *muxListener) Close() error {
	l.once.Do(func() {
		l.b.mu.Lock()
		if l.b.mux.listeners[l.id] == l {
			delete(l.b.mux.listeners, l.id)
		}
		delete(l.b.closers, l)
		l.b.mu.Unlock()
		close(l.done)
		l.closeQueued()
	})
	return nil
}

// closeQueued closes the streams queued for the listener that nobody will
// accept now that it is closed.
func (l *muxListener) closeQueued() {
	for {
		select {
		case c := <-l.conns:
			_ = c.Close()
		default:
			return
		}
	}
}

func (l *muxListener) Addr() net.Addr { return l.b.env.Session.LocalAddr() }

// answerKnock acknowledges the plugin's knock for id once the host accepts
// it, waiting up to KnockAcceptWait for its Accept (a host commonly starts
// AcceptAndServe in a goroutine just before it passes the id on), or
// acknowledges with an error.
func (b *GRPCBroker) answerKnock(id uint32) {
	defer b.wg.Done()
	timer := time.NewTimer(KnockAcceptWait)
	defer timer.Stop()
	for {
		b.mu.Lock()
		_, ok := b.mux.listeners[id]
		if ok {
			b.mux.knocked = append(b.mux.knocked, id)
		}
		added := b.mux.added
		b.mu.Unlock()
		if ok {
			_ = b.send(&gpwire.ConnInfo{ServiceID: id, Knock: &gpwire.Knock{Knock: true, Ack: true}})
			return
		}
		select {
		case <-added:
		case <-timer.C:
			_ = b.send(&gpwire.ConnInfo{ServiceID: id, Knock: &gpwire.Knock{Knock: true, Ack: true,
				Error: b.errorf(id, "the host does not accept it").Error()}})
			return
		case <-b.done:
			return
		}
	}
}

// acceptStreams hands each stream the plugin opens to the listener of the
// oldest acknowledged id, until the broker ends.
func (b *GRPCBroker) acceptStreams() {
	defer b.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-b.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		conn, err := b.env.Session.AcceptStreamWithContext(ctx)
		if err != nil {
			return
		}
		b.mu.Lock()
		var l *muxListener
		if len(b.mux.knocked) > 0 {
			l = b.mux.listeners[b.mux.knocked[0]]
			b.mux.knocked = b.mux.knocked[1:]
		}
		b.mu.Unlock()
		if l == nil {
			_ = conn.Close() // a stream nobody knocked for
			continue
		}
		select {
		case l.conns <- conn:
			select {
			case <-l.done: // closed meanwhile: its Close may have drained the queue already
				l.closeQueued()
			default:
			}
		case <-l.done:
			_ = conn.Close()
		case <-b.done:
			_ = conn.Close()
			return
		}
	}
}

// deliverAck passes the plugin's acknowledgement of a knock to the Dial
// waiting for it.
func (b *GRPCBroker) deliverAck(id uint32, k gpwire.Knock) {
	b.mu.Lock()
	ch := b.acks[id]
	b.mu.Unlock()
	if ch != nil {
		select {
		case ch <- k:
		default:
		}
	}
}

// muxDialer knocks for id, waits for the plugin's acknowledgement and
// opens a stream; it returns a dialer that hands out that stream first and
// knocks again for each later connection (a reconnection). A first stream
// the connection has not taken within DialTimeout (it was closed before
// connecting) is closed, not left open for the session's life.
func (b *GRPCBroker) muxDialer(id uint32) (func(context.Context, string) (net.Conn, error), error) {
	first, err := b.muxOpen(id)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	time.AfterFunc(DialTimeout, func() {
		mu.Lock()
		c := first
		first = nil
		mu.Unlock()
		if c != nil {
			_ = c.Close()
		}
	})
	return func(context.Context, string) (net.Conn, error) {
		mu.Lock()
		c := first
		first = nil
		mu.Unlock()
		if c != nil {
			return c, nil
		}
		return b.muxOpen(id)
	}, nil
}

// muxOpen knocks for id and opens its stream once acknowledged.
func (b *GRPCBroker) muxOpen(id uint32) (net.Conn, error) {
	b.dialMu.Lock()
	defer b.dialMu.Unlock()
	ch := make(chan gpwire.Knock, 1)
	b.mu.Lock()
	b.acks[id] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.acks, id)
		b.mu.Unlock()
	}()
	if err := b.send(&gpwire.ConnInfo{ServiceID: id, Knock: &gpwire.Knock{Knock: true}}); err != nil {
		return nil, err
	}
	timer := time.NewTimer(DialTimeout)
	defer timer.Stop()
	select {
	case k := <-ch:
		if k.Error != "" {
			return nil, b.errorf(id, "the plugin refused the connection: %s", k.Error)
		}
	case <-timer.C:
		return nil, b.errorf(id, "%w: the plugin did not acknowledge the knock within %v", ErrDialTimeout, DialTimeout)
	case <-b.done:
		return nil, b.alive()
	}
	conn, err := b.env.Session.Open()
	if err != nil {
		return nil, b.errorf(id, "could not open a stream: %w", err)
	}
	return conn, nil
}

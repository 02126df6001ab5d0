package fastrpc

// inbox queues the messages a stream received and keeps its side of the
// flow control: the peer may send while its credit is positive, so at most
// initialWindow plus one message is queued per stream; consumed bytes go
// back to the peer in credit frames of at least a quarter window. Its owner
// holds a lock around every call.
type inbox struct {
	first    [2][]byte // backs msgs while few are queued, saving an allocation
	msgs     [][]byte
	inflight int // bytes received and not yet credited back
	consumed int // bytes consumed and not yet credited back
}

// push queues a received message; false means the peer sent beyond its
// credit.
func (q *inbox) push(b []byte) bool {
	if q.inflight >= initialWindow {
		return false
	}
	q.inflight += len(b) + msgOverhead
	if q.msgs == nil {
		q.msgs = q.first[:0]
	}
	q.msgs = append(q.msgs, b)
	return true
}

// pop takes the oldest message, and the credit to send back now (0: none).
func (q *inbox) pop() (b []byte, grant int) {
	b = q.msgs[0]
	q.msgs[0] = nil
	q.msgs = q.msgs[1:]
	if len(q.msgs) == 0 {
		q.msgs = nil // back to first, letting a grown array go
	}
	q.consumed += len(b) + msgOverhead
	if q.consumed >= initialWindow/4 {
		grant, q.consumed = q.consumed, 0
		q.inflight -= grant
	}
	return b, grant
}

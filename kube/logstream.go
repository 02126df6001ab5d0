package kube

import (
	"context"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tetherplug/tether/internal/logfwd"
)

// podStream streams one pod's log, again after each drop, until the pod is
// done or its follower closes.
type podStream struct {
	f         *logFollower
	pod       string
	uid       types.UID
	container string
	tail      int64 // the last lines to read first; < 0: all
	ctx       context.Context
	cancel    context.CancelFunc
	// Under f.mu:
	timer   *time.Timer // cuts the stream once the pod is deleted
	deleted bool        // the pod object is gone
	ended   bool        // run returned: the pod logs no more (never streamed again)
}

// Reconnection back-off of a pod's stream: 200 ms doubling to 5 s, back to
// 200 ms after a stream that passed lines on.
const (
	streamRetryMin = 200 * time.Millisecond
	streamRetryMax = 5 * time.Second
)

func (s *podStream) run() {
	defer s.f.wg.Done()
	defer func() {
		s.f.mu.Lock()
		s.ended = true
		if s.deleted {
			delete(s.f.streams, s.uid)
		}
		if s.timer != nil {
			s.timer.Stop()
		}
		s.f.mu.Unlock()
		s.cancel()
	}()
	line := s.f.cfg.sink(s.pod)
	cur := logCursor{last: s.f.cfg.Since}
	wait := streamRetryMin
	for {
		o := &corev1.PodLogOptions{Container: s.container, Follow: true, Timestamps: true}
		if !cur.last.IsZero() {
			o.SinceTime = &metav1.Time{Time: cur.last}
		}
		if s.tail >= 0 && cur.n == 0 {
			o.TailLines = &s.tail
		}
		seen := cur
		rc, err := s.f.cfg.open(s.ctx, s.pod, o)
		if err == nil {
			err = cur.copy(rc, line, false)
			rc.Close()
		}
		if s.ctx.Err() != nil || s.done(err) {
			return
		}
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			s.f.cfg.log.Warn("cannot read the plugin pod's log", "plugin", s.f.name, "pod", s.pod,
				"error", &APIError{Verb: "get", Resource: podLogsResource, Name: s.pod, Namespace: s.f.ns, Err: err})
			return
		}
		if cur != seen {
			wait = streamRetryMin
		}
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, streamRetryMax)
	}
}

// done reports whether the pod will log no more after a stream ended with
// err: the pod is gone or finished, or is being deleted and its stream
// ended cleanly (its container exited).
func (s *podStream) done(err error) bool {
	o, ok, _ := s.f.store.GetByKey(s.f.ns + "/" + s.pod)
	p, isPod := o.(*corev1.Pod)
	switch {
	case !ok || !isPod || p.UID != s.uid:
		return true
	case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		return true
	}
	return p.DeletionTimestamp != nil && err == nil
}

// logCursor is how far a pod's log has been passed on: the last timestamp,
// and how many lines carried it (a stream resumed since that time repeats
// them).
type logCursor struct {
	last time.Time
	n    int
}

// copy reads a stream of timestamped lines (RFC3339Nano, a space, the
// line), passing on each line after the cursor without its timestamp and
// moving the cursor. A last line without a newline is passed on when the
// stream ends cleanly (the container exited) or final, not when the
// stream broke (the next stream, from the cursor, has it whole); a line
// without a timestamp is passed on as it is.
func (c *logCursor) copy(r io.Reader, line func(string), final bool) error {
	skip := c.n
	var cont, pass bool
	w := logfwd.NewLineWriter(func(piece string) {
		first := !cont
		cont = !strings.HasSuffix(piece, "\n")
		if !first { // the rest of a line longer than logfwd.MaxLine
			if pass {
				line(piece)
			}
			return
		}
		ts, text, ok := cutTimestamp(piece)
		switch {
		case !ok:
			pass, text = true, piece
		case ts.Before(c.last):
			pass = false
		case ts.Equal(c.last) && skip > 0:
			skip--
			pass = false
		case ts.Equal(c.last):
			c.n++
			pass = true
		default:
			c.last, c.n, skip = ts, 1, 0
			pass = true
		}
		if pass {
			line(text)
		}
	})
	_, err := io.Copy(w, r)
	if final || err == nil {
		_ = w.Close()
	}
	return err
}

// cutTimestamp splits "TIMESTAMP LINE" as the kubelet sends it with
// timestamps=true.
func cutTimestamp(s string) (time.Time, string, bool) {
	ts, rest, ok := strings.Cut(s, " ")
	if !ok {
		return time.Time{}, "", false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", false
	}
	return t, rest, true
}

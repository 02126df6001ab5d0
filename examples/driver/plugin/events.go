package main

import (
	"maps"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// subscriberBuffer is how many events a TaskEvents caller may fall behind
// before its stream is ended with ResourceExhausted.
const subscriberBuffer = 256

// broker fans task events out to the TaskEvents streams.
type broker struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	taskID string // empty: every task
	ch     chan *driverv1.TaskEvent
	lagged chan struct{}
}

func newBroker() *broker { return &broker{subs: map[*subscriber]struct{}{}} }

// publish sends an event to every interested subscriber without blocking; a
// subscriber whose buffer is full is dropped.
func (b *broker) publish(taskID, kind, msg string, annotations map[string]string) {
	ev := &driverv1.TaskEvent{TaskId: taskID, Timestamp: timestamppb.New(time.Now()), Kind: kind,
		Message: msg, Annotations: maps.Clone(annotations)}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.taskID != "" && s.taskID != taskID {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			delete(b.subs, s)
			close(s.lagged)
		}
	}
}

func (b *broker) subscribe(taskID string) *subscriber {
	s := &subscriber{taskID: taskID, ch: make(chan *driverv1.TaskEvent, subscriberBuffer), lagged: make(chan struct{})}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

func (b *broker) unsubscribe(s *subscriber) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// TaskEvents streams task events from now on until the caller cancels.
func (d *localDriver) TaskEvents(req *driverv1.TaskEventsRequest, stream grpc.ServerStreamingServer[driverv1.TaskEvent]) error {
	s := d.events.subscribe(req.GetTaskId())
	defer d.events.unsubscribe(s)
	// Headers mark the subscription: a caller that waits for them sees
	// every event published after.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case ev := <-s.ch:
			if err := stream.Send(ev); err != nil {
				return err
			}
		case <-s.lagged:
			return status.Error(codes.ResourceExhausted, "the caller fell too far behind the task events")
		}
	}
}

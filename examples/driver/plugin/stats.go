package main

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// minStatsInterval keeps a caller from making the driver spin.
const minStatsInterval = 10 * time.Millisecond

// TaskStats sends a sample of the task process's CPU and memory use at
// once and then every interval, until the task ends or the caller cancels.
// Where the OS gives no such figures (see takeSample) it fails with
// Unimplemented.
func (d *localDriver) TaskStats(req *driverv1.TaskStatsRequest, stream grpc.ServerStreamingServer[driverv1.TaskStatsResponse]) error {
	interval := time.Second
	if req.GetInterval() != nil {
		interval = max(req.GetInterval().AsDuration(), minStatsInterval)
	}
	t, err := d.lookup(req.GetTaskId())
	if err != nil {
		return err
	}
	if _, ok := t.exited(); ok {
		return status.Errorf(codes.FailedPrecondition, "task %q has ended", req.GetTaskId())
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var prev *sample
	for {
		s, err := takeSample(t.st.TaskPID, t.st.TaskStart)
		if status.Code(err) == codes.Unimplemented {
			return err // no stats on this OS
		}
		if err == nil {
			if err := stream.Send(s.response(prev)); err != nil {
				return err
			}
			prev = s
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-t.done:
			return nil
		case <-t.gone:
			return nil
		case <-tick.C:
		}
	}
}

// sample is one reading of a process's usage.
type sample struct {
	at    time.Time
	utime uint64 // user CPU time, in cpuTicksPerSecond units
	stime uint64 // system CPU time, in cpuTicksPerSecond units
	rss   uint64 // bytes
	vsize uint64 // bytes
	swap  uint64 // bytes
}

func (s *sample) response(prev *sample) *driverv1.TaskStatsResponse {
	cpu := &driverv1.CPUUsage{
		UserSeconds:   float64(s.utime) / cpuTicksPerSecond,
		SystemSeconds: float64(s.stime) / cpuTicksPerSecond,
	}
	if prev != nil {
		if wall := s.at.Sub(prev.at).Seconds(); wall > 0 {
			used := float64(s.utime+s.stime-prev.utime-prev.stime) / cpuTicksPerSecond
			cpu.Percent = 100 * used / wall
		}
	}
	return &driverv1.TaskStatsResponse{
		Timestamp: timestamppb.New(s.at),
		Cpu:       cpu,
		Memory:    &driverv1.MemoryUsage{RssBytes: s.rss, VirtualBytes: s.vsize, SwapBytes: s.swap},
	}
}

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
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
	utime uint64 // clock ticks
	stime uint64 // clock ticks
	rss   uint64 // bytes
	vsize uint64 // bytes
	swap  uint64 // bytes
}

// takeSample reads /proc/PID/stat for CPU times and /proc/PID/status for
// memory, if pid is still the process that started at start.
func takeSample(pid int, start uint64) (*sample, error) {
	ps, err := readProcStat(pid)
	if err != nil {
		return nil, err
	}
	if ps.startTicks != start {
		return nil, fmt.Errorf("process %d is no longer the task", pid)
	}
	s := &sample{at: time.Now(), utime: ps.utime, stime: ps.stime}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	mem := parseStatusKB(b, "VmRSS", "VmSize", "VmSwap")
	s.rss, s.vsize, s.swap = mem["VmRSS"], mem["VmSize"], mem["VmSwap"]
	return s, nil
}

// parseStatusKB returns the named "Key:   N kB" lines of a
// /proc/PID/status file, in bytes. Missing keys (kernel threads, zombies)
// are absent.
func parseStatusKB(b []byte, keys ...string) map[string]uint64 {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !slices.Contains(keys, k) {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				out[k] = n * 1024
			}
		}
	}
	return out
}

func (s *sample) response(prev *sample) *driverv1.TaskStatsResponse {
	cpu := &driverv1.CPUUsage{
		UserSeconds:   float64(s.utime) / clockTicks,
		SystemSeconds: float64(s.stime) / clockTicks,
	}
	if prev != nil {
		if wall := s.at.Sub(prev.at).Seconds(); wall > 0 {
			used := float64(s.utime+s.stime-prev.utime-prev.stime) / clockTicks
			cpu.Percent = 100 * used / wall
		}
	}
	return &driverv1.TaskStatsResponse{
		Timestamp: timestamppb.New(s.at),
		Cpu:       cpu,
		Memory:    &driverv1.MemoryUsage{RssBytes: s.rss, VirtualBytes: s.vsize, SwapBytes: s.swap},
	}
}

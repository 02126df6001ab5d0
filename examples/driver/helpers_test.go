//go:build linux

// The driver's tests run on Linux: their helpers read processes' start
// times and states from /proc and make the test process a child subreaper.
// On macOS and FreeBSD the plugin's own tests cover the OS layer; on
// Windows the plugin runs no task.

package driver_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/examples/driver"
	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
	"github.com/tetherplug/tether/tethertest"
)

const pluginPkg = "github.com/tetherplug/tether/examples/driver/plugin"

// bound is the most any single step of these tests may take.
const bound = 20 * time.Second

func TestMain(m *testing.M) {
	// Shims orphaned by a killed driver become this process's children, so
	// the tests can reap them instead of leaving zombies to an init that
	// may not reap.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	tethertest.Main(m)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	t.Cleanup(cancel)
	return ctx
}

// launch starts a driver plugin whose task directories live under root.
func launch(t *testing.T, root string, env ...string) (*tether.Client, driverv1.DriverClient) {
	t.Helper()
	path := tethertest.Build(t, pluginPkg)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	c, err := tether.Launch(ctx, path,
		tether.WithHandshake(driver.Handshake),
		tether.WithInterface(driver.Interface, driver.Version),
		tether.WithEnv(append([]string{driver.EnvTaskRoot + "=" + root}, env...)...),
		tether.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// Exec streaming with a pty and the stats stream run over the fast
	// transport, or over gRPC when the suite runs with TETHER_TRANSPORT=grpc.
	tethertest.RequireTransport(t, c.Name(), c.Transport())
	dc, err := tether.Dispense(c, driver.Interface, driverv1.NewDriverClient)
	if err != nil {
		t.Fatal(err)
	}
	return c, dc
}

// proc is a process a test expects to end: its pid and start time.
type proc struct {
	pid   int
	start uint64
}

// procOf reads a process's start time; the zero proc stands for a process
// that already ended.
func procOf(pid int) proc {
	st, ok := readStat(pid)
	if !ok || st.state == 'Z' {
		return proc{}
	}
	return proc{pid, st.start}
}

type stat struct {
	state byte
	start uint64
}

func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	start, err := strconv.ParseUint(f[19], 10, 64)
	return stat{f[0][0], start}, err == nil
}

// running reports whether p still runs (a zombie does not).
func (p proc) running() bool {
	if p.pid == 0 {
		return false
	}
	st, ok := readStat(p.pid)
	return ok && st.start == p.start && st.state != 'Z'
}

// requireGone waits until every process has ended, reaping those that
// became this process's children.
func requireGone(t *testing.T, procs ...proc) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for _, p := range procs {
		if p.pid == 0 {
			continue
		}
		for p.running() {
			if time.Now().After(deadline) {
				t.Fatalf("process %d is still running", p.pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st, ok := readStat(p.pid); ok && st.start == p.start {
			_, _ = syscall.Wait4(p.pid, nil, syscall.WNOHANG, nil) // ours to reap, if adopted
		}
	}
}

// taskProcs returns a task's process and its shim's (zero when ended).
func taskProcs(t *testing.T, ctx context.Context, dc driverv1.DriverClient, id string) (task, shim proc) {
	t.Helper()
	info, err := dc.InspectTask(ctx, &driverv1.InspectTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	shimPID, _ := strconv.Atoi(info.GetAttributes()["shim_pid"])
	return procOf(int(info.GetPid())), procOf(shimPID)
}

// fifoTask is the config of a task that blocks until the test writes a line
// to its FIFO, then exits with the number on that line.
func fifoTask(t *testing.T, id string) (*driverv1.TaskConfig, string) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	return &driverv1.TaskConfig{Id: id, Name: "fifo task", Command: "/bin/sh",
		Args: []string{"-c", `read x < "$0"; exit "$x"`, fifo}}, fifo
}

// release writes line to a FIFO once its reader has opened it.
func release(t *testing.T, fifo, line string) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			_, err = f.WriteString(line + "\n")
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			t.Fatalf("no reader on %s: %v", fifo, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startTask starts cfg and arranges for it to be destroyed, and its
// processes to be gone, at the end of the test.
func startTask(t *testing.T, ctx context.Context, dc driverv1.DriverClient, cfg *driverv1.TaskConfig) *driverv1.TaskHandle {
	t.Helper()
	resp, err := dc.StartTask(ctx, &driverv1.StartTaskRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	task, shim := taskProcs(t, ctx, dc, cfg.GetId())
	t.Cleanup(func() {
		_, err := dc.DestroyTask(context.Background(), &driverv1.DestroyTaskRequest{TaskId: cfg.GetId(), Force: true})
		if err != nil && status.Code(err) != codes.NotFound {
			t.Errorf("destroy %s: %v", cfg.GetId(), err)
		}
		requireGone(t, task, shim)
	})
	return resp.GetHandle()
}

// requireCode fails unless err carries the gRPC code want.
func requireCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if status.Code(err) != want {
		t.Fatalf("got error %v, want code %v", err, want)
	}
}

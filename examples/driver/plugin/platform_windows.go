package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/windows"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// On Windows the plugin builds and serves driver.v1.Driver, but runs no
// task: its task model (a process group driven by POSIX signals, a shim
// that waits for the task without reaping it, exec on a pseudo-terminal)
// does not exist there. Capabilities reports nothing, Fingerprint reports
// the driver unhealthy, StartTask and RecoverTask fail with Unimplemented,
// and calls about a task find none. The functions below the first two are
// never reached: they exist so that the shared code compiles.

// errNoTasks is why this driver runs no task on Windows.
var errNoTasks = errors.New("this driver cannot run tasks on windows: its tasks are process groups driven by POSIX signals, which Windows does not have")

// tasksUnsupported says why this OS cannot run tasks.
func tasksUnsupported() error { return errNoTasks }

// kernelRelease is Windows' version, such as "10.0.22631".
func kernelRelease() string {
	v := windows.RtlGetVersion()
	return fmt.Sprintf("%d.%d.%d", v.MajorVersion, v.MinorVersion, v.BuildNumber)
}

// runShim refuses: there are no shims on Windows.
func runShim(string) int {
	fmt.Fprintln(os.Stderr, "shim:", errNoTasks)
	return 1
}

func (d *localDriver) startShim(string) (driverState, error) {
	return driverState{}, status.Error(codes.Unimplemented, errNoTasks.Error())
}

func alive(int, uint64) bool { return false }

func signalGroup(int, uint64, syscall.Signal) error { return errNoTasks }

// parseSignal refuses every signal: tasks cannot be signalled here.
func parseSignal(string) (syscall.Signal, error) {
	return 0, status.Error(codes.Unimplemented, errNoTasks.Error())
}

func signalName(sig syscall.Signal) string { return sig.String() }

// cpuTicksPerSecond is the unit of a sample's CPU times (none here).
const cpuTicksPerSecond = 1e7

func takeSample(int, uint64) (*sample, error) {
	return nil, status.Error(codes.Unimplemented, errNoTasks.Error())
}

func startExec(shimSpec, []string, bool, *pty.Winsize, bool) (*execProc, error) {
	return nil, errNoTasks
}

// execCmd is empty: no command runs in a task here.
type execCmd struct{}

func (*execCmd) wait() (int32, string, error) { return -1, "", errNoTasks }

func (*execCmd) kill() {}

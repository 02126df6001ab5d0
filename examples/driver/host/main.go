// Command driver-host is a small host for the example task driver. It
// launches the driver plugin for each command, keeps the handle of every
// task it starts in a state file, and re-attaches to those tasks through
// RecoverTask, so tasks keep running between its runs:
//
//	driver-host run -- CMD [ARG...]    start a task, wait, print its output and exit, remove it
//	driver-host start [-id ID] -- CMD [ARG...]
//	driver-host ps                     list the tasks in the state file
//	driver-host wait ID
//	driver-host exec [-t] ID -- CMD [ARG...]
//	driver-host stop [-timeout 5s] ID
//	driver-host rm [-f] ID
//
// Global flags: -plugin PATH (default: plugins/driver beside this program)
// and -state FILE (default: driver-host-UID.json in the temporary directory).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/examples/driver"
	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// host is one run of driver-host: a launched driver and the state file.
type host struct {
	client  *tether.Client
	driver  driverv1.DriverClient
	handles *handles
}

var commands = map[string]func(ctx context.Context, h *host, args []string) error{
	"run": cmdRun, "start": cmdStart, "ps": cmdPs, "wait": cmdWait,
	"exec": cmdExec, "stop": cmdStop, "rm": cmdRm,
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: driver-host [-plugin PATH] [-state FILE] run|start|ps|wait|exec|stop|rm ...")
		flag.PrintDefaults()
	}
	plugin := flag.String("plugin", defaultPluginPath(), "the driver plugin")
	state := flag.String("state", defaultStatePath(), "where task handles are kept")
	flag.Parse()
	cmd, ok := commands[flag.Arg(0)]
	if !ok {
		flag.Usage()
		os.Exit(2)
	}
	code, err := run(*plugin, *state, func(ctx context.Context, h *host) error { return cmd(ctx, h, flag.Args()[1:]) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver-host:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// exitCodeError makes driver-host exit with a task's exit code.
type exitCodeError int

func (e exitCodeError) Error() string { return fmt.Sprintf("exit code %d", int(e)) }

func run(plugin, state string, fn func(context.Context, *host) error) (int, error) {
	hs, err := loadHandles(state)
	if err != nil {
		return 1, err
	}
	ctx := context.Background()
	c, err := tether.Launch(ctx, plugin,
		tether.WithHandshake(driver.Handshake),
		tether.WithInterface(driver.Interface, driver.Version),
		tether.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return 1, err
	}
	defer c.Close()
	dc, err := tether.Dispense(c, driver.Interface, driverv1.NewDriverClient)
	if err != nil {
		return 1, err
	}
	h := &host{client: c, driver: dc, handles: hs}
	h.recoverAll(ctx)
	err = fn(ctx, h)
	if serr := hs.save(); serr != nil && err == nil {
		err = serr
	}
	var ec exitCodeError
	if errors.As(err, &ec) {
		return int(ec), nil
	}
	return 0, err
}

// recoverAll re-attaches the new driver process to every kept task.
// Handles of tasks that are gone are dropped.
func (h *host) recoverAll(ctx context.Context) {
	for _, id := range h.handles.ids() {
		_, err := h.driver.RecoverTask(ctx, &driverv1.RecoverTaskRequest{Handle: h.handles.byID[id]})
		if status.Code(err) == codes.NotFound {
			fmt.Fprintf(os.Stderr, "driver-host: task %s is gone; forgetting it\n", id)
			delete(h.handles.byID, id)
		} else if err != nil {
			fmt.Fprintf(os.Stderr, "driver-host: cannot recover task %s: %v\n", id, err)
		}
	}
}

func defaultPluginPath() string {
	self, err := os.Executable()
	if err != nil {
		return "driver"
	}
	return filepath.Join(filepath.Dir(self), "plugins", "driver")
}

func newID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "task-" + hex.EncodeToString(b)
}

// commandArgs returns what follows "--", or every argument.
func commandArgs(fs *flag.FlagSet) []string {
	args := fs.Args()
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	return args
}

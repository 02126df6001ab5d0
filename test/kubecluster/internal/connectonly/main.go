//go:build linux

// Command connectonly runs a program that may open TCP connections only to
// the given ports (Landlock, Linux 6.7 or later): connectonly PORT[,PORT...]
// PROGRAM [ARGS...]. The port-forward test runs a host with the API
// server's port alone, so that no pod's port is reachable from it, as from
// a laptop outside the pod network. It exits 3 when the kernel cannot
// restrict connections, so the test can skip.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rulesetAttr is struct landlock_ruleset_attr up to handled_access_net
// (Landlock ABI 4).
type rulesetAttr struct {
	handledAccessFS, handledAccessNet uint64
}

// netPortAttr is struct landlock_net_port_attr.
type netPortAttr struct {
	allowedAccess, port uint64
}

// ruleNetPort is LANDLOCK_RULE_NET_PORT.
const ruleNetPort = 2

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: connectonly PORT[,PORT...] PROGRAM [ARGS...]")
		os.Exit(2)
	}
	prog, err := exec.LookPath(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "connectonly:", err)
		os.Exit(2)
	}
	runtime.LockOSThread() // Landlock restricts this thread, and what it executes
	if err := restrict(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "connectonly: cannot restrict connections:", err)
		os.Exit(3)
	}
	err = syscall.Exec(prog, os.Args[2:], os.Environ())
	fmt.Fprintln(os.Stderr, "connectonly:", err)
	os.Exit(2)
}

// restrict allows TCP connections to ports alone, for this thread and
// what it executes.
func restrict(ports string) error {
	attr := rulesetAttr{handledAccessNet: unix.LANDLOCK_ACCESS_NET_CONNECT_TCP}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	defer unix.Close(int(fd))
	for _, p := range strings.Split(ports, ",") {
		port, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return fmt.Errorf("port %q: %w", p, err)
		}
		rule := netPortAttr{allowedAccess: unix.LANDLOCK_ACCESS_NET_CONNECT_TCP, port: port}
		if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, ruleNetPort, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
			return fmt.Errorf("landlock_add_rule: %w", errno)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", errno)
	}
	return nil
}

//go:build darwin || freebsd

package proc

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts the program in a process group of its own. There is no
// parent-death signal here: a plugin notices its host's death through the
// host pipe (see EnvHostPipe), which tether's Serve watches.
func sysProcAttr(dieWithHost bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// awaitExit returns true once the child pid has exited, leaving it
// unreaped (its pid, its process group id too, cannot be reused meanwhile);
// false if the exit could not be watched (cmd.Wait then says what is wrong,
// and the group is not signalled). Without pidfds or waitid(WNOWAIT) the
// exit is seen through kqueue's EVFILT_PROC NOTE_EXIT, which does not reap;
// a child that is already a zombie when the filter is added makes kevent
// fail with ESRCH, which says the same. As a safety net the process table
// (sysctl kern.proc.pid) is read every zombiePoll.
func (sysProc) awaitExit(pid int) bool {
	kq, err := unix.Kqueue()
	if err != nil {
		return false
	}
	defer func() { _ = unix.Close(kq) }()
	var ev unix.Kevent_t
	unix.SetKevent(&ev, pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	timeout := unix.NsecToTimespec(int64(zombiePoll))
	out := make([]unix.Kevent_t, 1)
	for {
		n, err := unix.Kevent(kq, []unix.Kevent_t{ev}, out, &timeout)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ESRCH:
			return true
		case err != nil:
			return false
		case n == 1 && out[0].Flags&unix.EV_ERROR != 0:
			return unix.Errno(out[0].Data) == unix.ESRCH
		case n == 1:
			return true
		}
		if st, err := ReadStat(pid); err == nil && st.Exited() {
			return true
		}
	}
}

// zombiePoll is how often awaitExit reads the process table besides
// waiting on kqueue.
const zombiePoll = time.Second

//go:build darwin || freebsd

package main

import "golang.org/x/sys/unix"

// waitKeepZombie waits for pid, a child of this process, to exit without
// reaping it. There is no waitid(WNOWAIT) here (FreeBSD's wait6 is not in
// golang.org/x/sys): kqueue's EVFILT_PROC NOTE_EXIT reports the exit and
// leaves the zombie, so the task's pid and process group id are not reused
// until the shim reaps it. A child that is already a zombie when the filter
// is added makes kevent fail with ESRCH, which says the same.
func waitKeepZombie(pid int) error {
	kq, err := unix.Kqueue()
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(kq) }()
	var ev unix.Kevent_t
	unix.SetKevent(&ev, pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	changes := []unix.Kevent_t{ev}
	for {
		out := make([]unix.Kevent_t, 1)
		n, err := unix.Kevent(kq, changes, out, nil)
		switch {
		case err == unix.EINTR:
			continue // the filter may be added already: adding it again is harmless
		case err == unix.ESRCH:
			return nil
		case err != nil:
			return err
		case n == 1 && out[0].Flags&unix.EV_ERROR != 0:
			if errno := unix.Errno(out[0].Data); errno != unix.ESRCH {
				return errno
			}
			return nil
		case n == 1:
			return nil
		}
	}
}

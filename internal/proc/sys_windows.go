package proc

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows the program gets a process group of its own
// (CREATE_NEW_PROCESS_GROUP) and is put in a Job Object right after it
// starts. With DieWithHost the job kills everything in it when its last
// handle closes, which the OS does when the host dies however it dies: that
// stands in for the parent-death signal and the host pipe. There are no
// signals: a graceful stop goes through the controller's Shutdown RPC (the
// runtimes ask for it before Terminate), SIGTERM is a no-op and SIGKILL
// terminates the whole job.

// sysProc holds the process handle (which keeps the pid from being reused
// until it is closed) and the job.
type sysProc struct {
	handle windows.Handle
	job    windows.Handle
}

// sysProcAttr starts the program in a new process group.
func sysProcAttr(dieWithHost bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

// hostPipe makes no pipe: the Job Object does its work (see sysProc).
func hostPipe(env []string) (r, w *os.File, _ []string, err error) { return nil, nil, env, nil }

// started opens the process and puts it in a new job, which kills it and
// its children when the host's handle closes if dieWithHost. Failures leave
// the fields zero: awaitExit then defers to cmd.Wait, and SIGKILL to
// os.Process.Kill.
func (s *sysProc) started(pid int, dieWithHost bool) {
	const access = windows.SYNCHRONIZE | windows.PROCESS_QUERY_LIMITED_INFORMATION |
		windows.PROCESS_TERMINATE | windows.PROCESS_SET_QUOTA
	h, err := windows.OpenProcess(access, false, uint32(pid))
	if err != nil {
		return
	}
	s.handle = h
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return
	}
	if dieWithHost {
		var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
		info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
		if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
			uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
			_ = windows.CloseHandle(job)
			return
		}
	}
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		_ = windows.CloseHandle(job)
		return
	}
	s.job = job
}

// awaitExit returns true once the process has exited; its handle keeps the
// pid from being reused until release.
func (s *sysProc) awaitExit(int) bool {
	if s.handle == 0 {
		return false
	}
	ev, err := windows.WaitForSingleObject(s.handle, windows.INFINITE)
	return err == nil && ev == windows.WAIT_OBJECT_0
}

// signal ends the process's whole job on SIGKILL; any other signal does
// nothing, since Windows has none to send.
func (s *sysProc) signal(p *os.Process, sig syscall.Signal) {
	if sig != syscall.SIGKILL {
		return
	}
	if s.job != 0 && windows.TerminateJobObject(s.job, 1) == nil {
		return
	}
	_ = p.Kill()
}

// release closes the job (killing what is left in it, with DieWithHost) and
// the process handle.
func (s *sysProc) release() {
	if s.job != 0 {
		_ = windows.CloseHandle(s.job)
		s.job = 0
	}
	if s.handle != 0 {
		_ = windows.CloseHandle(s.handle)
		s.handle = 0
	}
}

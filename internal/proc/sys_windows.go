package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// On Windows the program gets a process group of its own
// (CREATE_NEW_PROCESS_GROUP) and runs in a Job Object of its own. With
// DieWithHost the job kills everything in it when its last
// handle closes, which the OS does when the host dies however it dies: that
// stands in for the parent-death signal and the host pipe. There are no
// signals: a graceful stop goes through the controller's Shutdown RPC (the
// runtimes ask for it before Terminate), SIGTERM is a no-op and SIGKILL
// terminates the whole job.
//
// The program is created suspended (CREATE_SUSPENDED), put in its job, and
// only then resumed (job_windows.go): nothing it runs, and nothing it
// starts, is ever outside the job. A program that cannot be put in the job,
// or resumed, is killed and Start fails (ErrJobObject).
//
// No Windows machine runs the tests: this file and job_windows.go are only
// compiled, vetted and staticchecked (GOOS=windows); what Start does when
// started fails is tested on Linux.

// ErrJobObject is wrapped by Start's error when the started program could
// not be put in a Job Object, or not resumed there (without the job it
// could outlive its host, and its children it): the program has been
// killed.
var ErrJobObject = errors.New("cannot run the program in a Job Object")

// sysProc holds the process handle (which keeps the pid from being reused
// until it is closed) and the job.
type sysProc struct {
	handle windows.Handle
	job    windows.Handle
}

// sysProcAttr starts the program in a new process group, suspended until
// started has put it in its job.
func sysProcAttr(dieWithHost bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.CREATE_SUSPENDED}
}

// hostPipe makes no pipe: the Job Object does its work (see sysProc).
func hostPipe(env []string) (r, w *os.File, _ []string, err error) { return nil, nil, env, nil }

// started opens the process, puts it in a new job, which kills it and its
// children when the host's handle closes if dieWithHost, and resumes it. A
// failure is an error wrapping ErrJobObject and the system call's error;
// what was opened is closed then, and the caller kills the process.
func (s *sysProc) started(pid int, dieWithHost bool) error {
	const access = windows.SYNCHRONIZE | windows.PROCESS_QUERY_LIMITED_INFORMATION |
		windows.PROCESS_TERMINATE | windows.PROCESS_SET_QUOTA
	h, err := windows.OpenProcess(access, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("pid %d: %w: %w", pid, ErrJobObject, os.NewSyscallError("OpenProcess", err))
	}
	s.handle = h
	job, err := newJob(dieWithHost)
	if err == nil {
		err = os.NewSyscallError("AssignProcessToJobObject", windows.AssignProcessToJobObject(job, h))
		if err == nil {
			err = resume(uint32(pid))
		}
		if err != nil {
			_ = windows.CloseHandle(job)
		}
	}
	if err != nil {
		// awaitExit defers to cmd.Wait without a handle, and SIGKILL to
		// os.Process.Kill without a job.
		_ = windows.CloseHandle(h)
		s.handle = 0
		return fmt.Errorf("pid %d: %w: %w", pid, ErrJobObject, err)
	}
	s.job = job
	return nil
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

package proc

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// os/exec keeps the handle of the main thread of the process it creates to
// itself, so a program created suspended is resumed by finding its threads
// (a suspended new process has exactly one) in a Toolhelp snapshot.

// newJob creates a Job Object that kills what is in it when its last handle
// closes if killOnClose.
func newJob(killOnClose bool) (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, os.NewSyscallError("CreateJobObject", err)
	}
	if !killOnClose {
		return job, nil
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		_ = windows.CloseHandle(job)
		return 0, os.NewSyscallError("SetInformationJobObject", err)
	}
	return job, nil
}

// errNoThread: the snapshot held no thread of the process.
var errNoThread = errors.New("no thread of the process to resume")

// resume resumes every thread of process pid.
func resume(pid uint32) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return os.NewSyscallError("CreateToolhelp32Snapshot", err)
	}
	defer func() { _ = windows.CloseHandle(snap) }()
	te := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != pid {
			continue
		}
		if err := resumeThread(te.ThreadID); err != nil {
			return err
		}
		resumed++
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return os.NewSyscallError("Thread32Next", err)
	}
	if resumed == 0 {
		return errNoThread
	}
	return nil
}

// resumeThread resumes thread id once.
func resumeThread(id uint32) error {
	h, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, id)
	if err != nil {
		return os.NewSyscallError("OpenThread", err)
	}
	defer func() { _ = windows.CloseHandle(h) }()
	if _, err := windows.ResumeThread(h); err != nil {
		return os.NewSyscallError("ResumeThread", err)
	}
	return nil
}

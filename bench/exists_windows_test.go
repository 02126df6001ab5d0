package bench

import (
	"golang.org/x/sys/windows"
)

// processExists returns nil while process pid exists, and an error once
// it is gone: no process object can be opened for it any more.
func processExists(pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return err
	}
	return windows.CloseHandle(h)
}

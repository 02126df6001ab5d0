//go:build unix

package tether

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// launchListener listens on a Unix socket in the directory the host named,
// or in a private directory of its own. The returned cleanup removes the
// socket, and the directory when the plugin owns it.
func launchListener(*slog.Logger) (net.Listener, func(), error) {
	dir := os.Getenv(EnvUnixSocketDir)
	ownDir := dir != "" && os.Getenv(EnvOwnSocketDir) == dir
	if dir == "" {
		d, err := os.MkdirTemp("", "tether-plugin-")
		if err != nil {
			return nil, nil, err
		}
		dir, ownDir = d, true
	}
	path := filepath.Join(dir, fmt.Sprintf("plugin-%d.sock", os.Getpid()))
	if len(path) > maxSocketPath {
		if ownDir {
			_ = os.Remove(dir)
		}
		return nil, nil, &socketPathError{Path: path}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		if ownDir {
			_ = os.Remove(dir)
		}
		return nil, nil, err
	}
	lis.(*net.UnixListener).SetUnlinkOnClose(true)
	cleanup := func() {
		_ = lis.Close()
		_ = os.Remove(path)
		if ownDir {
			_ = os.Remove(dir)
		}
	}
	return lis, cleanup, nil
}

// maxSocketPath is the longest path a Unix socket can have: sun_path less
// its terminating NUL (107 bytes on Linux, 103 on macOS and the BSDs).
const maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// socketPathError is the error of a plugin whose socket path is too long
// for a Unix socket (a long TMPDIR or PLUGIN_UNIX_SOCKET_DIR).
type socketPathError struct {
	Path string
}

func (e *socketPathError) Error() string {
	return fmt.Sprintf("socket path %s is %d bytes, more than the %d a Unix socket path can have; set a shorter TMPDIR",
		e.Path, len(e.Path), maxSocketPath)
}

// hostPipeFile opens the host pipe named by descriptor number v (the value
// of EnvHostPipe), refusing anything that is not an open pipe. The
// descriptor is made close-on-exec, so the plugin's own children do not
// hold it.
func hostPipeFile(v string) (*os.File, error) {
	fd, err := strconv.Atoi(v)
	if err == nil && fd < 0 {
		err = fmt.Errorf("negative descriptor %d", fd)
	}
	var st syscall.Stat_t
	if err == nil {
		err = syscall.Fstat(fd, &st)
	}
	if err == nil && st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		err = fmt.Errorf("descriptor %d is not a pipe", fd)
	}
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "tether-host-pipe"), nil
}

// fastListener listens on a second Unix socket beside the plugin's gRPC
// one, for the fast local transport. The returned cleanup removes it.
func fastListener(grpcLis net.Listener) (net.Listener, string, func(), error) {
	path := strings.TrimSuffix(grpcLis.Addr().String(), ".sock") + ".fast.sock"
	if len(path) > maxSocketPath {
		return nil, "", nil, &socketPathError{Path: path}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", nil, err
	}
	lis.(*net.UnixListener).SetUnlinkOnClose(true)
	return lis, path, func() { _ = lis.Close(); _ = os.Remove(path) }, nil
}

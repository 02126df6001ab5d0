package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/statefile"
)

// ErrRunning is returned by Start when another daemon answers on the
// control socket.
var ErrRunning = errors.New("another tether run answers on the control socket")

// listen prepares the control socket: its directory owner-only and the
// process user's, a stale socket removed, the socket itself 0600. It
// refuses a socket another daemon answers on, and a directory or socket
// of another user.
func listen(ctx context.Context, path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	st, err := os.Stat(dir)
	if err == nil {
		err = statefile.CheckOwner(dir, st)
	}
	if err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("control socket directory %s is mode %04o: want it owner-only (0700)", dir, st.Mode().Perm())
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket %s: the path exists and is not a socket", path)
		}
		if err := statefile.CheckOwner(path, fi); err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
		if pid, ok := answers(ctx, path); ok {
			return nil, fmt.Errorf("%w: %s (pid %d)", ErrRunning, path, pid)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale control socket: %w", err)
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = lis.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return lis, nil
}

// answers reports whether a daemon answers Status on the socket at path.
func answers(ctx context.Context, path string) (pid int, ok bool) {
	conn, err := Dial(path)
	if err != nil {
		return 0, false
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := tetherv1.NewDaemonClient(conn).Status(ctx, &tetherv1.StatusRequest{})
	if err != nil {
		return 0, false
	}
	return int(resp.GetPid()), true
}

// Dial connects to a daemon's control socket, without waiting: the first
// call fails fast if no daemon answers.
func Dial(path string) (*grpc.ClientConn, error) {
	return grpc.NewClient("unix:"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// DefaultSocket is the control socket of a manifest that names neither
// socket nor data_dir: DefaultDataDir()/control.sock.
func DefaultSocket() (string, error) {
	dir, err := DefaultDataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "control.sock"), nil
}

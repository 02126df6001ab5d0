package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/statefile"
)

// nobody is the uid the ownership tests give directories to.
const nobody = 65534

// startIn starts a daemon of no plugins on a manifest naming dataDir and
// socket, closing it at the end of the test if it starts.
func startIn(t *testing.T, dataDir, socket string) error {
	t.Helper()
	mf := filepath.Join(t.TempDir(), "m.yaml")
	doc := "data_dir: " + dataDir + "\nsocket: " + socket + "\nplugins: []\n"
	if err := os.WriteFile(mf, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	d, err := Start(ctx, mf, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		t.Cleanup(func() { _ = d.Close(context.Background()) })
	}
	return err
}

// chownedDir makes an owner-only directory at path owned by uid nobody.
func chownedDir(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a directory to another user takes root")
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
}

// TestStartRefusesDirectoriesOfAnotherUser: a data, log or control socket
// directory another user owns is refused (they could plant links, replace
// the socket or forge the state), naming the path and its owner.
func TestStartRefusesDirectoriesOfAnotherUser(t *testing.T) {
	for _, c := range []struct {
		name  string
		given func(data, sockDir string) string // the directory given away
	}{
		{"data directory", func(data, _ string) string { return data }},
		{"log directory", func(data, _ string) string { return filepath.Join(data, "logs") }},
		{"pid directory", func(data, _ string) string { return filepath.Join(data, "run") }},
		{"socket directory", func(_, sockDir string) string { return sockDir }},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			data, sockDir := filepath.Join(root, "data"), filepath.Join(root, "sock")
			if err := os.MkdirAll(data, 0o700); err != nil {
				t.Fatal(err)
			}
			bad := c.given(data, sockDir)
			chownedDir(t, bad)
			err := startIn(t, data, filepath.Join(sockDir, "control.sock"))
			var oe *statefile.OwnerError
			if !errors.As(err, &oe) || oe.Path != bad || oe.UID != nobody ||
				!strings.Contains(err.Error(), bad+" is owned by uid 65534, not by this process's user (uid 0): refusing to use it") {
				t.Fatalf("Start with %s owned by uid %d: %v; want an *OwnerError naming it", bad, nobody, err)
			}
		})
	}
}

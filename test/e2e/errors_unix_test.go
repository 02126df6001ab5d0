//go:build unix

package e2e_test

import (
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetherplug/tether"
)

// TestChecksum checks that a wrong checksum stops the program before it
// runs, and that the right one lets it load.
func TestChecksum(t *testing.T) {
	t.Parallel()
	t.Run("mismatch", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		ran := filepath.Join(dir, "ran")
		script := filepath.Join(dir, "plugin.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch '"+ran+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		wrong := sha256.Sum256([]byte("something else"))
		pe := launchMustFail(t, launchFailure{path: func(*testing.T) string { return script },
			opts: []tether.Option{tether.WithChecksum(wrong[:])}, kind: tether.ErrChecksumMismatch, exitCode: -1,
			contains: []string{"checksum mismatch", "has SHA-256"}})
		if pe.Kind != tether.ErrChecksumMismatch {
			t.Errorf("Kind = %v", pe.Kind)
		}
		if _, err := os.Stat(ran); !os.IsNotExist(err) {
			t.Error("the program ran although its checksum was wrong")
		}
	})
	t.Run("match", func(t *testing.T) {
		t.Parallel()
		f, err := os.Open(echoPath(t))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		c := launchEcho(t, "", tether.WithChecksum(h.Sum(nil)))
		if err := c.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

// TestNotPluginOutputKept: what a program printed right before exiting is
// in the error, every time (the pipes must not close before it is read).
func TestNotPluginOutputKept(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "quick.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'usage: quick FILE'\necho 'quick: no file' >&2\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				_, err := tether.Launch(t.Context(), script)
				var pe *tether.PluginError
				// Launch gives such a program a moment to exit by itself; on a
				// loaded machine it may be stopped first (exit code -1).
				if !errors.As(err, &pe) || pe.Output != "usage: quick FILE\n" || (pe.ExitCode != 2 && pe.ExitCode != -1) {
					t.Errorf("Launch(a program that prints and exits) = %v, want its line quoted and exit status 2", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestBareNameIsNotLookedUpInPath: a plugin path without a slash is the
// file of that name in the working directory, never a program found in
// $PATH, and the checksum is that of the file that runs. (Not parallel: it
// changes the working directory and PATH.)
func TestBareNameIsNotLookedUpInPath(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	binDir := filepath.Join(dir, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	benign := []byte("#!/bin/sh\nexit 0\n")
	if err := os.WriteFile(filepath.Join(dir, "myplugin"), benign, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(binDir, "myplugin"), []byte("#!/bin/sh\ntouch '"+ran+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("PATH", binDir+":/usr/bin:/bin")
	sum := sha256.Sum256(benign)
	_, err := tether.Launch(t.Context(), "myplugin", tether.WithChecksum(sum[:]))
	if !errors.Is(err, tether.ErrNotPlugin) || !strings.Contains(err.Error(), "exited without printing a handshake line") {
		t.Errorf("Launch(myplugin) with the checksum of ./myplugin: %v, want ErrNotPlugin from ./myplugin, which exits at once", err)
	}
	if _, err := os.Stat(ran); !os.IsNotExist(err) {
		t.Error("the program found in PATH ran")
	}
}

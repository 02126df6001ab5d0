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
)

// TestReloadRefusesMissingProgram: on SIGHUP (Reload), a manifest naming
// a program that does not exist is refused like any other manifest error:
// reported, and the running set kept.
func TestReloadRefusesMissingProgram(t *testing.T) {
	dir := t.TempDir()
	mf := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(mf, []byte("data_dir: st\nplugins: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	d, err := Start(ctx, mf, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if err := os.WriteFile(mf, []byte("data_dir: st\nplugins: [{name: gone, path: bin/gone}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = d.Reload()
	var me *ManifestError
	gone := filepath.Join("bin", "gone") + " does not exist"
	if !errors.As(err, &me) || me.Field != "path" || !strings.Contains(err.Error(), gone) {
		t.Fatalf("Reload: %v; want a *ManifestError saying the program does not exist", err)
	}
	st, _ := (&control{d: d}).Status(ctx, nil)
	if !strings.Contains(st.GetLastReloadError(), gone) {
		t.Errorf("status last_reload_error %q; want the refusal", st.GetLastReloadError())
	}
	if len(d.Supervisor().Status()) != 0 {
		t.Errorf("the refused manifest was applied: %+v", d.Supervisor().Status())
	}
}

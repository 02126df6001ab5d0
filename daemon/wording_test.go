package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/plugintest"
)

// TestInsecureWarningNamesManifestField: the warning logged for an
// entry with insecure: true names that field, not the Go option
// network.WithInsecure a tether run user never wrote.
func TestInsecureWarningNamesManifestField(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close() // accepts nothing: the plugin never answers
	dir := t.TempDir()
	mf := filepath.Join(dir, "m.yaml")
	doc := "data_dir: st\nplugins:\n  - {name: remote, target: 'tcp://" + lis.Addr().String() + "', insecure: true}\n"
	if err := os.WriteFile(mf, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var out plugintest.SyncBuffer
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	d, err := Start(ctx, mf, Options{Logger: slog.New(slog.NewTextHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	const want = "connecting to the plugin in plaintext (insecure: true)"
	for !strings.Contains(out.String(), want) {
		if ctx.Err() != nil {
			t.Fatalf("no warning %q within 10 s; the log:\n%s", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if goOption.MatchString(out.String()) {
		t.Errorf("the log names a Go option:\n%s", out.String())
	}
}

// TestWordingOfErrors: the network runtime's hints in errors the daemon
// logs (an error or a string) name the manifest's fields, in records and
// in attributes added with With.
func TestWordingOfErrors(t *testing.T) {
	var out strings.Builder
	log := wordedLogger(slog.New(slog.NewTextHandler(&out, nil))).With("why", "give network.WithInsecure()")
	log.Warn("plugin exited", "err", errors.New("TLS handshake with 127.0.0.1:1: the server does not speak TLS (is it plaintext? then network.WithInsecure): EOF"),
		"detail", "network.WithTLSFiles",
		"plain", "127.0.0.1:1 serves TLS (it answered a TLS handshake) and the host connects in plaintext: give the host network.WithTLSFiles or network.WithTLSConfig, not network.WithInsecure")
	for _, want := range []string{"is it plaintext? then insecure: true", "why=\"give insecure: true\"", "detail=\"tls: {cert, key, ca}\"",
		"the host connects in plaintext: give tls: {cert, key, ca}, not insecure: true"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the record does not say %q:\n%s", want, out.String())
		}
	}
	if goOption.MatchString(out.String()) {
		t.Errorf("the record names a Go option:\n%s", out.String())
	}
}

package tether

import (
	"errors"
	"testing"

	"github.com/tetherplug/tether/internal/execruntime"
)

// TestExecErrorsAreTyped: every kind of failure the exec runtime reports
// reaches the host as the sentinel error hosts test for with errors.Is,
// with what the plugin printed and how it exited; versions that do not fit
// are a *VersionError.
func TestExecErrorsAreTyped(t *testing.T) {
	for kind, want := range execKinds {
		in := &execruntime.Error{Plugin: "p", Kind: kind, Detail: "why", Output: "printed", Exited: true, ExitCode: 3}
		err := execError(in)
		if kind == execruntime.KindVersion {
			var ve *VersionError
			if !errors.As(err, &ve) || !errors.Is(err, ErrIncompatibleVersion) {
				t.Errorf("kind %d: %v, want a *VersionError", kind, err)
			}
			continue
		}
		var pe *PluginError
		if !errors.As(err, &pe) || !errors.Is(err, want) {
			t.Fatalf("kind %d: %v, want a *PluginError wrapping %v", kind, err, want)
		}
		if pe.Plugin != "p" || pe.Detail != "why" || pe.Output != "printed" || !pe.Exited || pe.ExitCode != 3 {
			t.Errorf("kind %d: %+v lost a field of %+v", kind, pe, in)
		}
	}
	for k := execruntime.KindHost; k <= execruntime.KindBadTarget; k++ {
		if _, ok := execKinds[k]; !ok && k != execruntime.KindVersion {
			t.Errorf("kind %d has no tether sentinel", k)
		}
	}
	plain := errors.New("not the runtime's")
	if execError(plain) != plain || execError(nil) != nil {
		t.Error("execError changed an error that is not the exec runtime's")
	}
}

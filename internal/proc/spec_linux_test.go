//go:build linux

package proc

import (
	"slices"
	"syscall"
	"testing"
)

// A checked #! script gets its arguments, and the host pipe only with
// DieWithHost; Pdeathsig likewise.
func TestCommandLayout(t *testing.T) {
	t.Parallel()
	path := script(t, t.TempDir(), "p", "echo \"$1 $2\"\n")
	for _, die := range []bool{false, true} {
		env := make([]string, 1, 4)
		env[0] = "A=1"
		cmd, files, hostW, _, err := command(Spec{Path: path, Args: []string{"x", "y"}, Env: env, Checksum: sum(t, path), DieWithHost: die})
		if err != nil {
			t.Fatal(err)
		}
		closeAll(append(files, hostW))
		wantFiles, wantPath, wantEnv := 1, "/proc/self/fd/3", []string{"A=1"}
		wantSig := syscall.Signal(0)
		if die {
			wantFiles, wantPath, wantEnv = 2, "/proc/self/fd/4", []string{"A=1", EnvHostPipe + "=3"}
			wantSig = syscall.SIGTERM
		}
		if len(cmd.ExtraFiles) != wantFiles || cmd.Path != wantPath || !slices.Equal(cmd.Env, wantEnv) ||
			cmd.Args[0] != path || !cmd.SysProcAttr.Setpgid || cmd.SysProcAttr.Pdeathsig != wantSig {
			t.Errorf("DieWithHost %v: files %d path %s env %q args %q attr %+v", die, len(cmd.ExtraFiles), cmd.Path, cmd.Env, cmd.Args, cmd.SysProcAttr)
		}
		if env[:2][1] != "" {
			t.Error("command wrote into the caller's Env array")
		}
	}
	p := start(t, Spec{Path: path, Args: []string{"x", "y"}, Checksum: sum(t, path), DieWithHost: true})
	if l := mustHandshake(t, p); l != "x y\n" {
		t.Errorf("checked script printed %q, want its arguments", l)
	}
}

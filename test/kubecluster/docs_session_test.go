package kubecluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/tetherplug/tether/internal/doctest"
	"github.com/tetherplug/tether/test/kubeenv"
)

// The names docs/cli.md's cluster examples use: a block runs with the
// test's namespace in place of docNamespace (in commands; in output it is
// written back), and a kubeconfig with a context docContext.
const (
	docNamespace = "plugins"
	docContext   = "prod"
)

// docCmdTimeout bounds each command of a cluster example (a deploy waits
// for its pods).
const docCmdTimeout = 3 * time.Minute

// docSession is one cluster example's run: a directory set up as a user's
// (tether on PATH, the TLS files the doc names, a kubeconfig), and its
// own namespace holding the Secret greeter-tls.
type docSession struct {
	t      *testing.T
	dir    string   // the working directory
	ns     string   // the namespace standing for docNamespace
	env    []string // the commands' environment
	nsFlag *regexp.Regexp
}

// newDocSession prepares a session on env, with tether at the path given.
func newDocSession(t *testing.T, env *kubeenv.Env, tether string) *docSession {
	t.Helper()
	root := t.TempDir()
	dir, bin, home := filepath.Join(root, "work"), filepath.Join(root, "bin"), filepath.Join(root, "home")
	for _, d := range []string{dir, bin, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(tether, filepath.Join(bin, "tether")); err != nil {
		t.Fatal(err)
	}
	c := &cluster{env: env, ns: env.Namespace(t), client: env.Client(), dir: dir}
	c.tlsSecret(t, "greeter-tls", "greeter") // writes host.crt, host.key, ca.crt in dir
	kc := filepath.Join(root, "kubeconfig")
	writeDocKubeconfig(t, env.Kubeconfig(), kc, c.ns)
	return &docSession{t: t, dir: dir, ns: c.ns, nsFlag: namespaceUse(docNamespace), env: []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + root,
		"LANG=C.UTF-8",
		"KUBECONFIG=" + kc,
	}}
}

// writeDocKubeconfig writes to path a copy of the kubeconfig from with a
// context docContext, whose namespace is ns, beside its own.
func writeDocKubeconfig(t *testing.T, from, path, ns string) {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(from)
	if err != nil {
		t.Fatal(err)
	}
	ctx := kc.Contexts[kc.CurrentContext].DeepCopy()
	ctx.Namespace = ns
	kc.Contexts[docContext] = ctx
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
}

// namespaceUse matches where a command names namespace ns: after -n or
// --namespace, and in a kube:// target.
func namespaceUse(ns string) *regexp.Regexp {
	return regexp.MustCompile(`(^|\s)(-n\s+|--namespace[=\s]+|kube://)` + regexp.QuoteMeta(ns) + `\b`)
}

// substitute puts the session's namespace in place of the doc's in a
// command.
func (s *docSession) substitute(script string) string {
	return s.nsFlag.ReplaceAllString(script, "${1}${2}"+s.ns)
}

// runBlock runs b's commands in order and returns, for each whose output
// is not what the doc shows, a report with the diff.
func (s *docSession) runBlock(b *doctest.Block) []string {
	s.t.Helper()
	var diffs []string
	for _, c := range b.Cmds {
		if c.Background {
			s.t.Fatalf("docs/cli.md:%d: $ %s &\na background command: the cluster harness runs none", c.Line, c.Script)
		}
		got, code, left := s.run(c)
		if left {
			diffs = append(diffs, fmt.Sprintf("docs/cli.md:%d: $ %s\nleft processes behind (killed now)", c.Line, c.Script))
		}
		if d := doctest.Diff(normaliseCluster(c.Want), normaliseCluster(got)); d != "" {
			diffs = append(diffs, fmt.Sprintf("docs/cli.md:%d: $ %s\nexit status %d; what it printed differs from the doc (- the doc shows, + it printed; after normalisation):\n%s",
				c.Line, c.Script, code, d))
		}
	}
	return diffs
}

// run runs a command with bash in the session, in a process group of its
// own, and returns what it printed (stdout and stderr through one pipe,
// the namespace written as the doc's), its exit status, and whether it
// left processes behind (which are killed).
func (s *docSession) run(c doctest.Cmd) (printed []string, code int, left bool) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), docCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", s.substitute(c.Script))
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if cmd.Process != nil && groupLeft(cmd.Process.Pid) {
		// bash has exited, so whatever is left in its group it started
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		left = true
	}
	printed = doctest.TrimLines(strings.Split(strings.ReplaceAll(out.String(), s.ns, docNamespace), "\n"))
	t.Logf("docs/cli.md:%d: $ %s\n%s", c.Line, c.Script, strings.Join(printed, "\n"))
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("docs/cli.md:%d: $ %s\ndid not finish within %v; it printed:\n%s", c.Line, c.Script, docCmdTimeout, out.String())
	case errors.As(err, &ee):
		return printed, ee.ExitCode(), left
	case err != nil:
		t.Fatalf("docs/cli.md:%d: $ %s\n%v; it printed:\n%s", c.Line, c.Script, err, out.String())
	}
	return printed, 0, left
}

// groupLeft reports whether a process of group pgid is still there 5 s
// after its leader exited (one exiting is waited for).
func groupLeft(pgid int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// clusterVarying is what a cluster's output has that no doc can show,
// beside doctest's: each pattern is replaced by its template on both
// sides before comparing. Kept small on purpose, as doctest's.
var clusterVarying = []struct {
	re   *regexp.Regexp
	repl string
}{
	// a pod's name: its ReplicaSet's hash and its own suffix
	// (greeter-557ff9f44-9x74k)
	{regexp.MustCompile(`\b([a-z0-9]+(?:-[a-z0-9]+)*?)-[a-z0-9]{6,10}-[a-z0-9]{5}\b`), "${1}-HASH-POD"},
	// pod IPs
	{regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`), "IP"},
	// runs of spaces inside a line: table columns are as wide as the
	// names in them (indentation is kept)
	{regexp.MustCompile(`(\S) {2,}`), "$1 "},
}

// normaliseCluster is doctest.Normalise, then clusterVarying.
func normaliseCluster(lines []string) []string {
	out := doctest.Normalise(lines)
	for i, l := range out {
		for _, v := range clusterVarying {
			l = v.re.ReplaceAllString(l, v.repl)
		}
		out[i] = l
	}
	return out
}

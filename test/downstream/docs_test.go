package downstream

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pluginsDoc is the guide for plugin authors outside this repository.
var pluginsDoc = filepath.Join(rootDir, "docs", "plugins.md")

// readFile returns the content of the file at path, failing t if it cannot.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeBlocks returns the bodies of the fenced code blocks of the Markdown
// text md whose info string is lang.
func codeBlocks(md, lang string) []string {
	var blocks []string
	re := regexp.MustCompile("(?ms)^```" + regexp.QuoteMeta(lang) + "\n(.*?)^```$")
	for _, m := range re.FindAllStringSubmatch(md, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// installCommands returns docs/plugins.md's lines that add tether to a
// module and install the CLI; TestDownstreamModule runs them.
func installCommands(t *testing.T) (get, install string) {
	t.Helper()
	for _, block := range codeBlocks(readFile(t, pluginsDoc), "sh") {
		for _, line := range strings.Split(block, "\n") {
			switch line {
			case "go get " + tetherPath + "@latest":
				get = line
			case "go install " + tetherPath + "/cmd/tether@latest":
				install = line
			}
		}
	}
	if get == "" || install == "" {
		t.Fatalf("%s has no sh block with the lines %q and %q", pluginsDoc,
			"go get "+tetherPath+"@latest", "go install "+tetherPath+"/cmd/tether@latest")
	}
	return get, install
}

// TestReadmeInstallLines: the README's section on versions gives the same
// install commands as docs/plugins.md (which TestDownstreamModule runs).
func TestReadmeInstallLines(t *testing.T) {
	get, install := installCommands(t)
	readme := strings.Join(strings.Fields(readFile(t, filepath.Join(rootDir, "README.md"))), " ")
	for _, line := range []string{get, install} {
		if !strings.Contains(readme, "`"+line+"`") {
			t.Errorf("README.md does not give %q", line)
		}
	}
}

// makeVar returns the value of the variable name set with := in the
// Makefile.
func makeVar(t *testing.T, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `\s*:=\s*(\S+)$`).FindStringSubmatch(readFile(t, filepath.Join(rootDir, "Makefile")))
	if m == nil {
		t.Fatalf("the Makefile sets no %s", name)
	}
	return m[1]
}

// TestPluginsDocCodegenVersions: the code generators docs/plugins.md tells
// authors to install are the versions the Makefile generates this
// repository's code with, and the doc names no other version of them.
func TestPluginsDocCodegenVersions(t *testing.T) {
	doc := readFile(t, pluginsDoc)
	for tool, version := range map[string]string{
		"github.com/bufbuild/buf/cmd/buf":               makeVar(t, "BUF_VERSION"),
		"google.golang.org/protobuf/cmd/protoc-gen-go":  makeVar(t, "PROTOC_GEN_GO_VERSION"),
		"google.golang.org/grpc/cmd/protoc-gen-go-grpc": makeVar(t, "PROTOC_GEN_GO_GRPC_VERSION"),
	} {
		want := "go install " + tool + "@" + version
		if !strings.Contains(doc, want+"\n") {
			t.Errorf("%s does not say %q (the Makefile's version)", pluginsDoc, want)
		}
		for _, m := range regexp.MustCompile(regexp.QuoteMeta(tool)+`@(\S+)`).FindAllStringSubmatch(doc, -1) {
			if m[1] != version {
				t.Errorf("%s names %s@%s; the Makefile uses %s", pluginsDoc, tool, m[1], version)
			}
		}
	}
}

// TestPluginsDocBufGenYAML: the buf.gen.yaml docs/plugins.md gives is the
// one this repository generates its code with, for the doc's module
// example.com/app and with the generators found on $PATH rather than in
// bin/tools.
func TestPluginsDocBufGenYAML(t *testing.T) {
	want := strings.NewReplacer("bin/tools/", "", "module="+tetherPath+"\n", "module=example.com/app\n").
		Replace(readFile(t, filepath.Join(rootDir, "buf.gen.yaml")))
	for _, block := range codeBlocks(readFile(t, pluginsDoc), "yaml") {
		if strings.Contains(block, "plugins:") {
			if block != want {
				t.Errorf("%s's buf.gen.yaml:\n%s\nwant (the repository's buf.gen.yaml for example.com/app):\n%s", pluginsDoc, block, want)
			}
			return
		}
	}
	t.Errorf("%s has no yaml block with a buf.gen.yaml", pluginsDoc)
}

// TestPluginsDocHandshakePackage: the shared handshake package
// docs/plugins.md shows is, verbatim, the one TestDownstreamModule's host
// and plugin import.
func TestPluginsDocHandshakePackage(t *testing.T) {
	want := readFile(t, filepath.Join("testdata", "app", "handshake", "handshake.go"))
	for _, block := range codeBlocks(readFile(t, pluginsDoc), "go") {
		if block == want {
			return
		}
	}
	t.Errorf("%s does not show testdata/app/handshake/handshake.go as a go block:\n%s", pluginsDoc, want)
}

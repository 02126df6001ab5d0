package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// commandNames are the subcommands the CLI has, besides cobra's own.
func commandNames() []string {
	var names []string
	for _, c := range newRoot().Commands() {
		if n := c.Name(); n != "help" && n != "completion" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// listedCommand matches a command line at the start of a line: "tether WORD",
// "$ tether WORD", "./bin/tether WORD".
var listedCommand = regexp.MustCompile(`(?m)^\s*(?:\$ )?(?:\S*/)?tether ([a-z][a-z-]*)\b`)

// checkVerbs fails for each word of text (a summary such as "Inspect, call
// and list gRPC plugins") that is neither filler nor the verb of a command
// the CLI has.
func checkVerbs(t *testing.T, where, text string, verbs map[string]string) {
	t.Helper()
	filler := []string{"command", "tether", "and", "grpc", "plugins", "go-plugin", "for", "them"}
	for _, w := range strings.Fields(strings.ToLower(strings.NewReplacer(",", " ", ".", " ").Replace(text))) {
		if slices.Contains(filler, w) {
			continue
		}
		if c, ok := verbs[w]; !ok || !slices.Contains(commandNames(), c) {
			t.Errorf("%s %q offers %q, which no command does (commands: %v)", where, text, w, commandNames())
		}
	}
}

// TestPackageDocNamesRealCommands: the package doc's summary offers only
// what commands do, its list names only commands the CLI has, and every
// command is in it.
func TestPackageDocNamesRealCommands(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	summary, _, _ := strings.Cut(doc, ".")
	checkVerbs(t, "the package doc's summary", summary, map[string]string{"inspects": "inspect", "calls": "call", "lists": "ls", "issues": "certs", "certificates": "certs", "serves": "serve", "supervises": "run"})
	have := commandNames()
	var named []string
	for _, m := range listedCommand.FindAllStringSubmatch(doc, -1) {
		if !slices.Contains(have, m[1]) {
			t.Errorf("package doc names %q, which is not a command (commands: %v)", "tether "+m[1], have)
		}
		named = append(named, m[1])
	}
	for _, c := range have {
		if !slices.Contains(named, c) {
			t.Errorf("package doc does not list the command %q", c)
		}
	}
}

// TestHelpNamesRealCommands: the root command's summary, at the top of
// "tether help", offers only what commands do.
func TestHelpNamesRealCommands(t *testing.T) {
	root := newRoot()
	checkVerbs(t, "the help's summary", root.Short+" "+root.Long, map[string]string{"inspect": "inspect", "call": "call", "list": "ls", "issue": "certs", "certificates": "certs", "serve": "serve", "supervise": "run"})
}

// TestExamplesNameRealCommands: every command line in the commands' examples
// and in the docs ("tether WORD ..." at the start of a line of a code block,
// or "`tether WORD" in a code span) names a command the CLI has.
func TestExamplesNameRealCommands(t *testing.T) {
	// help and completion are cobra's, added when the command runs.
	have := append(commandNames(), "help", "completion")
	line := listedCommand
	span := regexp.MustCompile("`(?:\\S*/)?tether ([a-z][a-z-]*)\\b")
	check := func(where, text string, re *regexp.Regexp) {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			if !slices.Contains(have, m[1]) {
				t.Errorf("%s names %q, which is not a command (commands: %v)", where, "tether "+m[1], have)
			}
		}
	}
	for _, c := range newRoot().Commands() {
		check("tether "+c.Name()+"'s examples", c.Example, line)
	}
	files, _ := filepath.Glob("../../docs/*.md")
	for _, f := range append(files, "../../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, block := range strings.Split(string(b), "```") {
			if i%2 == 1 {
				check(f, block, line)
			} else {
				check(f, block, span)
			}
		}
	}
}

// Package doctest reads the examples of a markdown doc and compares what
// their commands print with what the doc shows. cmd/tether's TestDocsCLI
// runs the examples of docs/cli.md with it, and test/kubecluster's
// TestDocsCLI those that need a Kubernetes cluster.
//
// An example is a code block (indented by four spaces, or fenced) whose
// first line starts with "$ ". Each "$ " line is a command, run by bash;
// a line ending in "\" continues on the next one, and a command ending in
// "&" runs in the background until the end of the block. The lines after
// a command, up to the next "$ " line, are what it prints: stdout and
// stderr together, as a terminal shows them. A background command must
// show nothing.
//
// In the doc's output:
//   - a line that is only "..." (indentation aside) stands for any number
//     of lines, none included;
//   - "..." inside a line stands for any text on that line (at its end:
//     the rest of the line).
//
// Markers, HTML comments on the lines before a block (blank lines
// between them aside):
//   - <!-- not run: REASON --> skips the block (a synopsis); a block that
//     is not an example but lists tether commands needs one, so that no
//     example goes unrun unnoticed;
//   - <!-- runs on the test cluster --> marks an example that needs a
//     Kubernetes cluster: test/kubecluster runs it, against its control
//     plane, and the tests that have none skip it;
//   - <!-- runs after the example above --> runs the previous example's
//     commands first, in the same directory, without comparing their
//     output, and keeps its background processes: for an example that
//     uses the plugin the one above started;
//   - <!-- ready when: COMMAND --> runs COMMAND (bash, in the example's
//     directory, output not shown) after each background command until it
//     succeeds, before the next command: how a user knows a daemon is up;
//   - <!-- file: NAME --> writes the block (a manifest, say) to NAME in
//     every example's directory.
package doctest

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Block is one code block of the doc.
type Block struct {
	Line    int      // the doc line of its first line
	NotRun  string   // the reason of a "not run" marker, or ""
	Cluster bool     // marked "runs on the test cluster"
	After   bool     // marked "runs after the example above"
	Ready   string   // the command of a "ready when" marker, or ""
	File    string   // the name of a "file" marker, or ""
	Body    []string // its lines, the indentation of an indented block removed
	Cmds    []Cmd    // its commands; none for a block that is not an example
	// Listing is set for a block that is not an example but has a line
	// starting with "tether ": it must be marked not run.
	Listing bool
}

// Cmd is one "$ " command of an example and the output the doc shows.
type Cmd struct {
	Line       int      // the doc line of its "$ "
	Script     string   // what bash runs: its lines, continuations kept
	Background bool     // it ended in "&" (removed from Script)
	Want       []string // what the doc shows it prints, trailing blanks dropped
}

// Name is the block's subtest name: its first command, without "tether ".
func (b *Block) Name() string {
	if len(b.Cmds) == 0 {
		return fmt.Sprintf("line_%d", b.Line)
	}
	first, _, _ := strings.Cut(b.Cmds[0].Script, "\n")
	first = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(first), "\\"))
	return strings.TrimPrefix(first, "tether ")
}

var (
	notRunMarker  = regexp.MustCompile(`^<!--\s*not run:\s*(.*\S)\s*-->$`)
	clusterMarker = regexp.MustCompile(`^<!--\s*runs on the test cluster\s*-->$`)
	afterMarker   = regexp.MustCompile(`^<!--\s*runs after the example above\s*-->$`)
	readyMarker   = regexp.MustCompile(`^<!--\s*ready when:\s*(.*\S)\s*-->$`)
	fileMarker    = regexp.MustCompile(`^<!--\s*file:\s*(\S+)\s*-->$`)
)

// ParseFile reads the doc at path and parses it.
func ParseFile(path string) ([]*Block, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, string(b))
}

// Parse finds the code blocks of a markdown doc named name (in errors).
func Parse(name, doc string) ([]*Block, error) {
	lines := strings.Split(doc, "\n")
	var blocks []*Block
	var markers []string // the comment lines since the last text or block
	for i := 0; i < len(lines); {
		l := lines[i]
		var body []string
		start := i + 1
		switch {
		case strings.HasPrefix(l, "```"):
			j := i + 1
			for j < len(lines) && !strings.HasPrefix(lines[j], "```") {
				j++
			}
			if j == len(lines) {
				return nil, fmt.Errorf("%s:%d: code fence never closed", name, i+1)
			}
			body, start, i = lines[i+1:j], i+2, j+1
		case strings.HasPrefix(l, "    ") && i > 0 && lines[i-1] == "":
			j := i
			for j < len(lines) && (strings.HasPrefix(lines[j], "    ") || lines[j] == "" && j+1 < len(lines) && strings.HasPrefix(lines[j+1], "    ")) {
				body = append(body, strings.TrimPrefix(lines[j], "    "))
				j++
			}
			i = j
		default:
			switch l := strings.TrimSpace(l); {
			case strings.HasPrefix(l, "<!--"):
				markers = append(markers, l)
			case l != "":
				markers = nil
			}
			i++
			continue
		}
		b, err := parseBlock(name, start, body, markers)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
		markers = nil
	}
	return blocks, nil
}

// parseBlock parses one block's lines (indentation removed), the first at
// doc line start, with the comment lines before it.
func parseBlock(name string, start int, body, markers []string) (*Block, error) {
	b := &Block{Line: start, Body: body}
	for _, mk := range markers {
		if m := notRunMarker.FindStringSubmatch(mk); m != nil {
			b.NotRun = m[1]
		}
		if m := readyMarker.FindStringSubmatch(mk); m != nil {
			b.Ready = m[1]
		}
		if m := fileMarker.FindStringSubmatch(mk); m != nil {
			b.File = m[1]
		}
		b.After = b.After || afterMarker.MatchString(mk)
		b.Cluster = b.Cluster || clusterMarker.MatchString(mk)
	}
	if b.File != "" {
		return b, nil
	}
	if len(body) == 0 || !strings.HasPrefix(body[0], "$ ") {
		if b.Cluster {
			return nil, fmt.Errorf("%s:%d: marked to run on the test cluster, but not an example (\"$ \" lines, each followed by what it prints)", name, start)
		}
		for _, l := range body {
			b.Listing = b.Listing || strings.HasPrefix(l, "tether ")
		}
		return b, nil
	}
	for i := 0; i < len(body); {
		c := Cmd{Line: start + i, Script: strings.TrimPrefix(body[i], "$ ")}
		for strings.HasSuffix(body[i], "\\") && i+1 < len(body) {
			i++
			c.Script += "\n" + body[i]
		}
		i++
		if s := strings.TrimSpace(c.Script); strings.HasSuffix(s, "&") && !strings.HasSuffix(s, "&&") {
			c.Script, c.Background = strings.TrimSuffix(s, "&"), true
		}
		for i < len(body) && !strings.HasPrefix(body[i], "$ ") {
			c.Want = append(c.Want, body[i])
			i++
		}
		c.Want = TrimLines(c.Want)
		if c.Background && len(c.Want) > 0 {
			return nil, fmt.Errorf("%s:%d: a background command (ending in &) shows output; its output is not compared, show none", name, c.Line)
		}
		b.Cmds = append(b.Cmds, c)
	}
	return b, nil
}

// TrimLines drops trailing blanks from each line and blank lines at the end.
func TrimLines(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, strings.TrimRight(l, " \t\r"))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

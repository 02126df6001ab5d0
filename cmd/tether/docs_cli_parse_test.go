//go:build unix

package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// This file reads the examples of docs/cli.md and compares what their
// commands print with what the doc shows; docs_cli_test.go runs them.
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
//   - <!-- not run: REASON --> skips the block (a Kubernetes cluster, a
//     synopsis); a block that is not an example but lists tether
//     commands needs one, so that no example goes unrun unnoticed;
//   - <!-- runs after the example above --> runs the previous example's
//     commands first, in the same directory, without comparing their
//     output, and keeps its background processes: for an example that
//     uses the plugin the one above started;
//   - <!-- ready when: COMMAND --> runs COMMAND (bash, in the example's
//     directory, output not shown) after each background command until it
//     succeeds, before the next command: how a user knows a daemon is up;
//   - <!-- file: NAME --> writes the block (a manifest, say) to NAME in
//     every example's directory.
//
// A background command that names the doc's port (docPort) is waited
// for until the port accepts connections, without a marker.

// docPort is the port the doc's network examples use. A block runs with a
// free port in its place (in commands; in output the port is written
// back), so that it cannot collide with another test.
const docPort = "127.0.0.1:7000"

// docBlock is one code block of the doc.
type docBlock struct {
	line   int    // the doc line of its first line
	notRun string // the reason of a "not run" marker, or ""
	after  bool   // marked "runs after the example above"
	ready  string // the command of a "ready when" marker, or ""
	file   string // the name of a "file" marker, or ""
	body   []string
	cmds   []docCmd
	// listing is set for a block that is not an example but has a line
	// starting with "tether ": it must be marked not run.
	listing bool
}

// docCmd is one "$ " command of an example and the output the doc shows.
type docCmd struct {
	line       int    // the doc line of its "$ "
	script     string // what bash runs: its lines, continuations kept
	background bool
	want       []string
}

// name is the block's subtest name: its first command, without "tether ".
func (b *docBlock) name() string {
	if len(b.cmds) == 0 {
		return fmt.Sprintf("line_%d", b.line)
	}
	first, _, _ := strings.Cut(b.cmds[0].script, "\n")
	first = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(first), "\\"))
	return strings.TrimPrefix(first, "tether ")
}

var (
	notRunMarker = regexp.MustCompile(`^<!--\s*not run:\s*(.*\S)\s*-->$`)
	afterMarker  = regexp.MustCompile(`^<!--\s*runs after the example above\s*-->$`)
	readyMarker  = regexp.MustCompile(`^<!--\s*ready when:\s*(.*\S)\s*-->$`)
	fileMarker   = regexp.MustCompile(`^<!--\s*file:\s*(\S+)\s*-->$`)
)

// parseDocFile reads the doc at path and parses it.
func parseDocFile(path string) ([]*docBlock, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseDoc(path, string(b))
}

// parseDoc finds the code blocks of a markdown doc named name.
func parseDoc(name, doc string) ([]*docBlock, error) {
	lines := strings.Split(doc, "\n")
	var blocks []*docBlock
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
func parseBlock(name string, start int, body, markers []string) (*docBlock, error) {
	b := &docBlock{line: start, body: body}
	for _, mk := range markers {
		if m := notRunMarker.FindStringSubmatch(mk); m != nil {
			b.notRun = m[1]
		}
		if m := readyMarker.FindStringSubmatch(mk); m != nil {
			b.ready = m[1]
		}
		if m := fileMarker.FindStringSubmatch(mk); m != nil {
			b.file = m[1]
		}
		b.after = b.after || afterMarker.MatchString(mk)
	}
	if b.file != "" {
		return b, nil
	}
	if len(body) == 0 || !strings.HasPrefix(body[0], "$ ") {
		for _, l := range body {
			b.listing = b.listing || strings.HasPrefix(l, "tether ")
		}
		return b, nil
	}
	for i := 0; i < len(body); {
		c := docCmd{line: start + i, script: strings.TrimPrefix(body[i], "$ ")}
		for strings.HasSuffix(body[i], "\\") && i+1 < len(body) {
			i++
			c.script += "\n" + body[i]
		}
		i++
		if s := strings.TrimSpace(c.script); strings.HasSuffix(s, "&") && !strings.HasSuffix(s, "&&") {
			c.script, c.background = strings.TrimSuffix(s, "&"), true
		}
		for i < len(body) && !strings.HasPrefix(body[i], "$ ") {
			c.want = append(c.want, body[i])
			i++
		}
		c.want = trimLines(c.want)
		if c.background && len(c.want) > 0 {
			return nil, fmt.Errorf("%s:%d: a background command (ending in &) shows output; its output is not compared, show none", name, c.line)
		}
		b.cmds = append(b.cmds, c)
	}
	return b, nil
}

// trimLines drops trailing blanks from each line and blank lines at the end.
func trimLines(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, strings.TrimRight(l, " \t\r"))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// varying is what the output of a run has that no doc can show: each
// pattern is replaced by its template on both sides before comparing.
// Kept small on purpose; anything else the doc must show as it is or
// elide with "...".
var varying = []struct {
	re   *regexp.Regexp
	repl string
}{
	// pids, and the numbered socket directories and files of launched
	// plugins (/tmp/tether-2242693642/plugin-5831.sock)
	{regexp.MustCompile(`((?:^|\W)pid"?:\s*|tether-|plugin-)\d+`), "${1}N"},
	// dates and times: certificate expiry, log timestamps
	{regexp.MustCompile(`\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d| UTC)?)?`), "DATE"},
	// durations: uptimes, elapsed times (2m0s, 1.5s, 300ms)
	{regexp.MustCompile(`\b(?:\d+(?:\.\d+)?(?:h|ms|µs|ns|m|s))+\b`), "DURATION"},
}

// normalise applies varying to each line.
func normalise(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		for _, v := range varying {
			l = v.re.ReplaceAllString(l, v.repl)
		}
		out[i] = l
	}
	return out
}

// isEllipsis reports whether a doc line stands for any number of lines.
func isEllipsis(want string) bool { return strings.TrimSpace(want) == "..." }

// lineMatches reports whether got matches the doc line want, where "..."
// in want stands for any text.
func lineMatches(want, got string) bool {
	parts := strings.Split(want, "...")
	if len(parts) == 1 {
		return want == got
	}
	if !strings.HasPrefix(got, parts[0]) {
		return false
	}
	got = got[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		k := strings.Index(got, p)
		if k < 0 {
			return false
		}
		got = got[k+len(p):]
	}
	return strings.HasSuffix(got, last)
}

// diffOutput compares the doc's lines with what a command printed. It
// returns "" when they match, else a diff: "-" lines the doc shows that
// were not printed, "+" lines printed that the doc does not show, " "
// lines that match (a "..." line stands for the lines it matched).
func diffOutput(want, got []string) string {
	n, m := len(want), len(got)
	// cost[i][j]: the fewest unmatched lines aligning want[i:] with got[j:].
	cost := make([][]int, n+1)
	for i := range cost {
		cost[i] = make([]int, m+1)
	}
	for i := n; i >= 0; i-- {
		for j := m; j >= 0; j-- {
			cost[i][j] = alignCost(cost, want, got, i, j)
		}
	}
	if cost[0][0] == 0 {
		return ""
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && isEllipsis(want[i]) && j < m && cost[i][j] == cost[i][j+1]:
			j++ // the ellipsis takes got[j]
		case i < n && isEllipsis(want[i]) && cost[i][j] == cost[i+1][j]:
			fmt.Fprintf(&sb, "  %s\n", want[i])
			i++
		case i < n && j < m && !isEllipsis(want[i]) && lineMatches(want[i], got[j]) && cost[i][j] == cost[i+1][j+1]:
			fmt.Fprintf(&sb, "  %s\n", got[j])
			i, j = i+1, j+1
		case i < n && cost[i][j] == 1+cost[i+1][j]:
			fmt.Fprintf(&sb, "- %s\n", want[i])
			i++
		default:
			fmt.Fprintf(&sb, "+ %s\n", got[j])
			j++
		}
	}
	return sb.String()
}

// alignCost is cost[i][j] of diffOutput, from the cells after it.
func alignCost(cost [][]int, want, got []string, i, j int) int {
	n, m := len(want), len(got)
	switch {
	case i == n:
		return m - j
	case isEllipsis(want[i]):
		c := cost[i+1][j]
		if j < m {
			c = min(c, cost[i][j+1])
		}
		return c
	case j == m:
		return 1 + cost[i+1][j]
	}
	c := 1 + min(cost[i+1][j], cost[i][j+1])
	if lineMatches(want[i], got[j]) {
		c = min(c, cost[i+1][j+1])
	}
	return c
}

package doctest

import (
	"fmt"
	"regexp"
	"strings"
)

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

// Normalise replaces in each line what varies from run to run (pids and
// the numbered names of launched plugins' sockets, dates, durations) with
// a template: applied to both the doc's lines and the printed ones.
func Normalise(lines []string) []string {
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

// LineMatches reports whether got matches the doc line want, where "..."
// in want stands for any text.
func LineMatches(want, got string) bool {
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

// Diff compares the doc's lines with what a command printed. It
// returns "" when they match, else a diff: "-" lines the doc shows that
// were not printed, "+" lines printed that the doc does not show, " "
// lines that match (a "..." line stands for the lines it matched).
func Diff(want, got []string) string {
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
		case i < n && j < m && !isEllipsis(want[i]) && LineMatches(want[i], got[j]) && cost[i][j] == cost[i+1][j+1]:
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

// alignCost is cost[i][j] of Diff, from the cells after it.
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
	if LineMatches(want[i], got[j]) {
		c = min(c, cost[i+1][j+1])
	}
	return c
}

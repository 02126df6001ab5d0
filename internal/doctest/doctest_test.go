package doctest

import (
	"strings"
	"testing"
)

// The comparison: "..." lines and "..." in a line match
// what the doc elides and nothing else, and a difference is shown as a
// diff naming the lines.
func TestMatch(t *testing.T) {
	split := func(s string) []string { return strings.Split(s, "\n") }
	for _, tc := range []struct {
		want, got, diff string
	}{
		{"a\nb", "a\nb", ""},
		{"a\n...\nd", "a\nb\nc\nd", ""},
		{"a\n  ...\nb", "a\nb", ""},
		{"error: ...", "error: it failed: badly", ""},
		{"x ... y ... z", "x 1 y 2 z", ""},
		{"a\nb", "a\nc", "  a\n- b\n+ c\n"},
		{"a", "a\nb", "  a\n+ b\n"},
		{"a\n...\nd", "a\nb\nc", "  a\n  ...\n- d\n"},
		{"error: ...", "warning: x", "- error: ...\n+ warning: x\n"},
		{"x ... z", "x y", "- x ... z\n+ x y\n"},
		{"abc...bcd", "abcd", "- abc...bcd\n+ abcd\n"},
	} {
		if got := Diff(split(tc.want), split(tc.got)); got != tc.diff {
			t.Errorf("doc %q, printed %q: diff\n%s\nwant\n%s", tc.want, tc.got, got, tc.diff)
		}
	}
}

// What varies from run to run is normalised on both sides, and nothing else.
func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{
		"pid:               5831": "pid:               N",
		`  "pid": 5863,`:          `  "pid": N,`,
		"unix /tmp/tether-2242693642/plugin-5831.sock, grpc":           "unix /tmp/tether-N/plugin-N.sock, grpc",
		`("tether CA", valid until 2031-12-06)`:                        `("tether CA", valid until DATE)`,
		`{"time":"2026-12-07T05:33:08.046099925Z","level":"INFO"}`:     `{"time":"DATE","level":"INFO"}`,
		"since 2026-12-06 18:00:00 UTC (2m0s ago)":                     "since DATE (DURATION ago)",
		"failed after 1.5s, then 300ms":                                "failed after DURATION, then DURATION",
		"greeter v1 (greeter.v1.Greeter) 10.1.0.12:7000 exit status 1": "greeter v1 (greeter.v1.Greeter) 10.1.0.12:7000 exit status 1",
	} {
		if got := Normalise([]string{in})[0]; got != want {
			t.Errorf("Normalise(%q) = %q, want %q", in, got, want)
		}
	}
}

// A block's commands, continuations, background marks and output, and the
// markers before blocks, are read as the package doc says.
func TestParse(t *testing.T) {
	doc := "Text:\n\n    $ A=1 prog \\\n        --flag &\n    $ tether x\n    out 1\n\n    out 2\n\n" +
		"<!-- not run: a synopsis -->\n\n    $ tether kube ls\n\n" +
		"<!-- runs after the example above -->\n<!-- ready when: tether status -->\n\n    $ tether y\n\n" +
		"Listing:\n\n    tether certs ca\n\n```\n$ tether z\n```\n"
	blocks, err := Parse("doc.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 5 {
		t.Fatalf("%d blocks, want 5", len(blocks))
	}
	b := blocks[0]
	if len(b.Cmds) != 2 || !b.Cmds[0].Background || b.Cmds[0].Script != "A=1 prog \\\n    --flag " ||
		b.Cmds[1].Line != 5 || strings.Join(b.Cmds[1].Want, "|") != "out 1||out 2" || b.Name() != "A=1 prog" {
		t.Errorf("block 1: %+v", b)
	}
	if blocks[1].NotRun != "a synopsis" || blocks[1].After || blocks[2].NotRun != "" || !blocks[2].After || blocks[2].Ready != "tether status" {
		t.Errorf("markers: %+v, %+v", blocks[1], blocks[2])
	}
	if !blocks[3].Listing || len(blocks[3].Cmds) != 0 || blocks[4].Name() != "z" || blocks[4].Line != 24 {
		t.Errorf("listing and fenced blocks: %+v, %+v", blocks[3], blocks[4])
	}
	if _, err := Parse("doc.md", "x\n\n    $ prog &\n    out\n"); err == nil || !strings.Contains(err.Error(), "doc.md:3: a background command") {
		t.Errorf("a background command showing output: %v", err)
	}
}

// An example that needs a Kubernetes cluster is marked so, and only an
// example may be.
func TestParseCluster(t *testing.T) {
	blocks, err := Parse("doc.md", "<!-- runs on the test cluster -->\n\n    $ tether kube ls\n    NAME  READY\n\nText.\n\n    $ tether x\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || !blocks[0].Cluster || blocks[0].NotRun != "" || len(blocks[0].Cmds) != 1 || blocks[1].Cluster {
		t.Fatalf("blocks: %+v", blocks)
	}
	_, err = Parse("doc.md", "<!-- runs on the test cluster -->\n\n    tether kube ls\n")
	if err == nil || !strings.Contains(err.Error(), "doc.md:3: marked to run on the test cluster, but not an example") {
		t.Errorf("a cluster-marked listing: %v", err)
	}
}

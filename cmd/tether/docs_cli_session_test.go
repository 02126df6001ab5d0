//go:build unix

package main

import "testing"

// An example's session writes the doc's files, waits for a background
// command to be ready, shows stdout and stderr in the order written, and
// stops what it started.
func TestDocsCLISession(t *testing.T) {
	doc := "<!-- file: conf/app.txt -->\n\n    hello from a file\n\n" +
		"<!-- ready when: test -f up -->\n\n" +
		"    $ bash -c 'sleep 0.2; echo started > up; exec sleep 100' &\n" +
		"    $ cat up conf/app.txt; echo to stderr >&2; echo to stdout\n" +
		"    started\n    hello from a file\n    to stderr\n    to stdout\n"
	blocks, err := parseDoc("doc.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].file != "conf/app.txt" || blocks[1].ready != "test -f up" {
		t.Fatalf("blocks: %+v", blocks)
	}
	bins := docBins{tether: "/nonexistent/tether", files: map[string]string{"conf/app.txt": "hello from a file\n"}}
	newDocSession(t, bins).runBlock(blocks[1], true)
}

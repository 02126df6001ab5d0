//go:build unix

package main

import (
	"testing"

	"github.com/tetherplug/tether/internal/doctest"
)

// An example's session writes the doc's files, waits for a background
// command to be ready, shows stdout and stderr in the order written, and
// stops what it started.
func TestDocsCLISession(t *testing.T) {
	doc := "<!-- file: conf/app.txt -->\n\n    hello from a file\n\n" +
		"<!-- ready when: test -f up -->\n\n" +
		"    $ bash -c 'sleep 0.2; echo started > up; exec sleep 100' &\n" +
		"    $ cat up conf/app.txt; echo to stderr >&2; echo to stdout\n" +
		"    started\n    hello from a file\n    to stderr\n    to stdout\n"
	blocks, err := doctest.Parse("doc.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].File != "conf/app.txt" || blocks[1].Ready != "test -f up" {
		t.Fatalf("blocks: %+v", blocks)
	}
	bins := docBins{tether: "/nonexistent/tether", files: map[string]string{"conf/app.txt": "hello from a file\n"}}
	newDocSession(t, bins).runBlock(blocks[1], true)
}

// The doc's addresses (docPort, docMetrics) are free ports in the
// commands of an example, distinct, and the doc's again in what they print.
func TestDocsCLISessionAddresses(t *testing.T) {
	doc := "Text:\n\n    $ p=127.0.0.1:7000 m=127.0.0.1:9090; [[ ${p##*:} != 7000 && ${m##*:} != 9090 && $p != $m ]] && echo $p $m\n" +
		"    127.0.0.1:7000 127.0.0.1:9090\n"
	blocks, err := doctest.Parse("doc.md", doc)
	if err != nil || len(blocks) != 1 {
		t.Fatalf("blocks: %+v, %v", blocks, err)
	}
	newDocSession(t, docBins{tether: "/nonexistent/tether"}).runBlock(blocks[0], true)
}

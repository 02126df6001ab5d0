package tether

import (
	"strings"
	"testing"
)

func TestForwardLinesBoundsEndlessLines(t *testing.T) {
	endless := strings.Repeat("x", 3*maxLogLine+100)
	input := "first\n" + endless + "\nlast without newline"
	var got []string
	forwardLines(strings.NewReader(input), func(s string) { got = append(got, s) })

	if got[0] != "first\n" || got[len(got)-1] != "last without newline" {
		t.Fatalf("short lines not passed on whole: first %q, last %q", got[0], got[len(got)-1])
	}
	middle := got[1 : len(got)-1]
	if len(middle) < 3 {
		t.Fatalf("a %d-byte line came in %d piece(s), want it cut into several", len(endless), len(middle))
	}
	total := 0
	for _, piece := range middle {
		if len(piece) > maxLogLine+4096 {
			t.Errorf("piece of %d bytes, over the bound", len(piece))
		}
		total += len(piece)
	}
	if joined := strings.Join(middle, ""); joined != endless+"\n" || total != len(endless)+1 {
		t.Errorf("pieces do not add up to the line: %d bytes, want %d", total, len(endless)+1)
	}
}

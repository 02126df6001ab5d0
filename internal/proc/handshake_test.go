package proc

import (
	"slices"
	"strings"
	"testing"
)

func TestForwardLinesSplitsLongLines(t *testing.T) {
	t.Parallel()
	var got []string
	ForwardLines(strings.NewReader(strings.Repeat("a", 2*MaxLine+10)+"\nshort\nlast"), func(s string) { got = append(got, s) })
	want := []string{strings.Repeat("a", MaxLine), strings.Repeat("a", MaxLine), strings.Repeat("a", 10) + "\n", "short\n", "last"}
	if !slices.Equal(got, want) {
		t.Errorf("got %d pieces of lengths %v", len(got), lens(got))
	}
}

func lens(s []string) []int {
	var n []int
	for _, x := range s {
		n = append(n, len(x))
	}
	return n
}

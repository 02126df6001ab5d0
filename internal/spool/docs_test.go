package spool

import (
	"os"
	"strings"
	"testing"
)

// docs/platforms.md quotes what a Follower reports where holes cannot be
// punched (FreeBSD, Windows, HFS+).
func TestPlatformsDocQuotesPunchError(t *testing.T) {
	b, err := os.ReadFile("../../docs/platforms.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), ErrPunchUnsupported.Error()) {
		t.Errorf("docs/platforms.md does not quote %q", ErrPunchUnsupported.Error())
	}
}

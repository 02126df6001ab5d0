package daemon

import (
	"fmt"
	"time"
)

// positive parses an optional Go duration: nil (omitted) is 0, the
// default, def; a given one must be more than 0.
func positive(s *string, def string) (time.Duration, error) {
	if s == nil {
		return 0, nil
	}
	d, err := time.ParseDuration(*s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a duration such as 500ms or 2m", *s)
	case d < 0:
		return 0, fmt.Errorf("%q is negative", *s)
	case d == 0:
		return 0, zero(fmt.Sprintf("%q", *s), def, "more than 0")
	}
	return d, nil
}

// zero is the refusal of a given 0 that the supervisor would take for the
// default: it cannot be honoured.
func zero(given, def, want string) error {
	return fmt.Errorf("%s cannot be honoured (0 means the default, %s): omit the field for the default, or give %s", given, def, want)
}

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}

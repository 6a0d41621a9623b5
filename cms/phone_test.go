package cms

import (
	"testing"

	"github.com/citycard/citycard"
)

// TestPhoneTerminal: a phone's terminal ID is FE and its holder's ID,
// from 1 to the largest 5 bytes hold; outside that, Invalid.
func TestPhoneTerminal(t *testing.T) {
	for _, c := range []struct {
		holder int64
		want   string
	}{{1, "FE0000000001"}, {0x0102030405, "FE0102030405"}, {1<<40 - 1, "FEFFFFFFFFFF"}} {
		if got, err := PhoneTerminal(c.holder); err != nil || got.String() != c.want {
			t.Errorf("PhoneTerminal(%d) = %v, %v, want %s", c.holder, got, err, c.want)
		}
	}
	for _, h := range []int64{0, -1, 1 << 40} {
		if _, err := PhoneTerminal(h); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("PhoneTerminal(%d): %v, want Invalid", h, err)
		}
	}
}

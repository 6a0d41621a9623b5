package terminal

import (
	"testing"

	"github.com/citycard/citycard"
)

// TestTicket: the adult price for a category without a concession,
// half for a student rounded down to the fen (the concession the rest),
// free for a senior, a percent over 100 refused.
func TestTicket(t *testing.T) {
	tk := Ticket{FullFen: 4999, PayPercent: map[uint8]uint32{1: 50, 2: 0, 4: 100}}
	for _, c := range []struct {
		category uint8
		paid     uint32
	}{{0, 4999}, {1, 2499}, {2, 0}, {3, 4999}, {4, 4999}} {
		ch, err := tk.Price(FareQuery{Tap: TapAmount, RiderCategory: c.category, AmountFen: 1})
		if err != nil || ch.AmountFen != c.paid || ch.FullFen != 4999 {
			t.Errorf("category %d: %+v, %v; want %d of 4999", c.category, ch, err, c.paid)
		}
	}
	if _, err := (Ticket{FullFen: 100, PayPercent: map[uint8]uint32{1: 101}}).Price(FareQuery{RiderCategory: 1}); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("101%%: %v, want invalid", err)
	}
}

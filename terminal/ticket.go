package terminal

import (
	"fmt"

	"github.com/citycard/citycard"
)

// Ticket prices a paid admission: a tourist site's ticket bought with the
// e-purse at its gate, a sports venue's entry without a pass. FullFen is
// the adult price; PayPercent gives, by rider category (the card's, as
// the fare feed numbers them: 1 student, 2 senior, ...), the percent of
// it the rider pays, a category missing paying it all: students half,
// seniors free. The rider's part is rounded down to the fen; the rest,
// the concession, is FullFen less it (Charge.FullFen - AmountFen), so
// no fen is lost to rounding. The keyed-in amount, if any, is not read.
type Ticket struct {
	FullFen    uint32
	PayPercent map[uint8]uint32
}

// Price implements Fare. Kind Invalid for a percent over 100.
func (t Ticket) Price(q FareQuery) (Charge, error) {
	pct, ok := t.PayPercent[q.RiderCategory]
	if !ok {
		pct = 100
	}
	if pct > 100 {
		return Charge{}, citycard.E("terminal.Ticket.Price", citycard.Invalid, "rider category %d pays %d%% of the ticket: want at most 100", q.RiderCategory, pct)
	}
	paid := uint32(uint64(t.FullFen) * uint64(pct) / 100)
	c := Charge{AmountFen: paid, FullFen: t.FullFen, Explanation: fmt.Sprintf("ticket %s", yuan(t.FullFen))}
	if paid < t.FullFen {
		c.Explanation += fmt.Sprintf(", rider category %d pays %d%%: %s", q.RiderCategory, pct, yuan(paid))
	}
	return c, nil
}

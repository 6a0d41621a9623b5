package clearing

import (
	"context"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
)

// memJournal is an in-memory Journal: journaled records in position order, each
// with its commit time. drop names a position its Entries skips, as a
// read that missed a row not yet written would; its Claim still counts
// the row, as the store's own count does.
type memJournal struct {
	entries []acquire.Journaled
	at      []time.Time
	amounts []int64
	drop    int64
	greys   []acquire.GreyDecision
}

func (j *memJournal) add(at time.Time, class acquire.Class, out acquire.Outcome, r *record.Record) {
	e := acquire.Journaled{Pos: int64(len(j.entries) + 1), Terminal: r.TerminalID, BatchID: "b", Outcome: out, Class: class}
	copy(e.Raw[:], r.AppendBinary(nil))
	j.entries = append(j.entries, e)
	j.at = append(j.at, at)
	j.amounts = append(j.amounts, int64(r.Amount))
}

func (j *memJournal) Claim(_ context.Context, from int64, before time.Time) (Claim, error) {
	c := Claim{Range: Range{From: from, To: from}}
	for i := from; i < int64(len(j.entries)) && j.at[i].Before(before); i++ {
		c.To = i + 1
		c.add(j.amounts[i])
	}
	for _, g := range j.greys {
		if g.Pos > c.From && g.Pos <= c.To {
			c.Greys.add(g.AmountFen)
		}
	}
	return c, nil
}

func (j *memJournal) Greys(_ context.Context, r Range, fn func(*acquire.GreyDecision) error) error {
	for i := range j.greys {
		if g := &j.greys[i]; g.Pos > r.From && g.Pos <= r.To {
			if err := fn(g); err != nil {
				return err
			}
		}
	}
	return nil
}

func (j *memJournal) Records(_ context.Context, r Range, fn func(*acquire.Journaled, time.Time) error) error {
	for p := r.From + 1; p <= r.To; p++ {
		if p == j.drop {
			continue
		}
		if err := fn(&j.entries[p-1], j.at[p-1]); err != nil {
			return err
		}
	}
	return nil
}

// memTerminals answers from a map.
type memTerminals map[citycard.TerminalID]TerminalInfo

func (m memTerminals) Terminal(_ context.Context, id citycard.TerminalID) (TerminalInfo, error) {
	ti, ok := m[id]
	if !ok {
		return TerminalInfo{}, citycard.E("memTerminals", citycard.NotFound, "no terminal %v", id)
	}
	return ti, nil
}

// purchase returns a valid purchase record of card (issuer, n) on
// terminal term of amount fen.
func purchase(issuer citycard.IssuerCode, n byte, term citycard.TerminalID, fen uint32, product uint16) record.Record {
	r := record.Record{
		Type: citycard.TxPurchase, Issuer: issuer, CardType: 1, Counter: uint16(n),
		BalanceBefore: 100000, Amount: fen, TerminalID: term, PSAMID: citycard.PSAMID{1, 2, 3, 4, 5, 6},
		TerminalSeq: uint32(n), Product: product,
	}
	r.ASN[9] = n
	r.ASN[2] = 1
	r.Date, r.Time = citycard.DateTime(time.Date(2026, 12, 1, 8, 0, 0, 0, citycard.ChinaTime))
	return r
}

var (
	ourIssuer   = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	termBus     = citycard.TerminalID{0x31, 0x50, 0x01, 0, 0, 1}
	termGate    = citycard.TerminalID{0x31, 0x50, 0x02, 0, 0, 1}
	twoTerminal = memTerminals{
		termBus:  {Operator: "nb-bus", Type: registry.TerminalBusValidator},
		termGate: {Operator: "nb-metro", Type: registry.TerminalGate},
	}
)

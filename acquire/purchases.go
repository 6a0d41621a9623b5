package acquire

import (
	"context"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/record"
)

// CardPurchasesMax bounds the cards of one CardPurchases call: each call
// reads the whole journal once, so that a sweep over many cards (the lost
// cards whose late records card management settles) pays one read.
const CardPurchasesMax = 4096

// Card names a card application: issuer and ASN.
type Card struct {
	Issuer citycard.IssuerCode
	ASN    citycard.ASN
}

// Purchase is one purchase of a card that the back office booked, as its
// record has it: the time the terminal stamped on it, the amount, the
// card's offline counter and the journal position it was booked at.
type Purchase struct {
	At        time.Time
	AmountFen int64
	Counter   uint16
	Pos       int64
}

// CardPurchases returns the purchases booked of each of cards, in journal
// order: what card management needs for a refund's fee rule and a lost
// card's cut of liability (cms.SplitAtCut), which the card shadow does
// not keep (a shadow holds counters and balances, not the history of its
// card). A purchase booked is a record classed booked, a grey record's
// recovered record, or a grey record whose debit a later record of the
// card confirmed (the shadow keeps those, to be contradicted); a grey
// record still in suspense is not one, nor a grey released or whose
// confirmation was reversed. Loads and application records are not
// purchases.
//
// It reads the journal from its start up to the position the state had
// reached when it was called (the shadows' confirmed greys are read at
// that same position), one pass for all the cards: its cost is the
// journal's length, which is why it serves the rare operations of card
// management (a refund, a balance move, the settling of late losses),
// never a tap. A record whose time does not parse (none is journaled so)
// is given the zero time. Kinds Invalid (no card, or more than
// CardPurchasesMax), IO (the journal).
func (a *Acquirer) CardPurchases(ctx context.Context, cards ...Card) (map[Card][]Purchase, error) {
	const op = "acquire.CardPurchases"
	if len(cards) == 0 || len(cards) > CardPurchasesMax {
		return nil, citycard.E(op, citycard.Invalid, "%d cards: want 1 to %d", len(cards), CardPurchasesMax)
	}
	type tap struct {
		terminal citycard.TerminalID
		seq      uint32
	}
	want := make(map[Card]map[tap]bool, len(cards))
	a.mu.Lock()
	upTo := a.st.pos
	for _, c := range cards {
		confirmed := map[tap]bool{}
		if sh, ok := a.st.card(cardID{c.Issuer, c.ASN}); ok {
			for _, g := range sh.greyList() {
				if g.confirmed {
					confirmed[tap{g.terminal, g.seq}] = true
				}
			}
		}
		want[c] = confirmed
	}
	a.mu.Unlock()

	out := make(map[Card][]Purchase, len(cards))
	for c := range want {
		out[c] = nil
	}
	err := a.cfg.Journal.Replay(ctx, 0, func(e *Journaled) error {
		if e.Pos > upTo {
			return nil
		}
		switch e.Class {
		case ClassBooked, ClassRecovered, ClassSuspense:
		default:
			return nil
		}
		r, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.E(op, citycard.Invalid, "journaled record %d: %w", e.Pos, err)
		}
		c := Card{r.Issuer, r.ASN}
		confirmed, ok := want[c]
		if !ok || r.Type == citycard.TxLoad || e.Class == ClassSuspense && !confirmed[tap{r.TerminalID, r.TerminalSeq}] {
			return nil
		}
		at, _ := citycard.TimeOf(r.Date, r.Time, citycard.ChinaTime)
		out[c] = append(out[c], Purchase{At: at, AmountFen: int64(r.Amount), Counter: r.Counter, Pos: e.Pos})
		return nil
	})
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "reading the journal for %d cards: %w", len(cards), err)
	}
	return out, nil
}

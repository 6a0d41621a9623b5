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
	err := a.scanCards(ctx, op, upTo, func(e *Journaled, r *record.Record) {
		c := Card{r.Issuer, r.ASN}
		confirmed, ok := want[c]
		switch {
		case !ok || r.Type == citycard.TxLoad:
			return
		case e.Class == ClassBooked || e.Class == ClassRecovered:
		case e.Class == ClassSuspense && confirmed[tap{r.TerminalID, r.TerminalSeq}]:
		default:
			return
		}
		at, _ := citycard.TimeOf(r.Date, r.Time, citycard.ChinaTime)
		out[c] = append(out[c], Purchase{At: at, AmountFen: int64(r.Amount), Counter: r.Counter, Pos: e.Pos})
	})
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "reading the journal for %d cards: %w", len(cards), err)
	}
	return out, nil
}

// LastUse returns, of each of cards that has a record in the journal,
// the newest time stamped on its records (purchases, grey records, loads,
// application records; not duplicates): when it was last used, as a
// dormancy report asks (cms.Product.Dormant). It reads the whole journal
// once, as CardPurchases does. Kinds Invalid (no card, or more than
// CardPurchasesMax), IO.
func (a *Acquirer) LastUse(ctx context.Context, cards ...Card) (map[Card]time.Time, error) {
	const op = "acquire.LastUse"
	if len(cards) == 0 || len(cards) > CardPurchasesMax {
		return nil, citycard.E(op, citycard.Invalid, "%d cards: want 1 to %d", len(cards), CardPurchasesMax)
	}
	want := make(map[Card]bool, len(cards))
	for _, c := range cards {
		want[c] = true
	}
	a.mu.Lock()
	upTo := a.st.pos
	a.mu.Unlock()
	out := make(map[Card]time.Time)
	err := a.scanCards(ctx, op, upTo, func(e *Journaled, r *record.Record) {
		c := Card{r.Issuer, r.ASN}
		if !want[c] || e.Class == ClassDuplicate {
			return
		}
		if at, err := citycard.TimeOf(r.Date, r.Time, citycard.ChinaTime); err == nil && at.After(out[c]) {
			out[c] = at
		}
	})
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "reading the journal for %d cards: %w", len(cards), err)
	}
	return out, nil
}

// scanCards calls fn for every journaled entry up to position upTo with
// its record decoded.
func (a *Acquirer) scanCards(ctx context.Context, op string, upTo int64, fn func(e *Journaled, r *record.Record)) error {
	return a.cfg.Journal.Replay(ctx, 0, func(e *Journaled) error {
		if e.Pos > upTo {
			return nil
		}
		r, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.E(op, citycard.Invalid, "journaled record %d: %w", e.Pos, err)
		}
		fn(e, &r)
		return nil
	})
}

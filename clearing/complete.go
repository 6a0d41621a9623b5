package clearing

import (
	"context"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
)

// ItemsMax bounds the journaled records one cycle takes: 2^30, fifty
// Beijing days. With amounts below 2^32 fen, every sum of a cycle stays
// below 2^62 and cannot overflow.
const ItemsMax = 1 << 30

// Item is one journaled record as clearing sees it: the journaled record,
// the record's fields that clearing reads, and what the registry says of
// its terminal.
type Item struct {
	Pos        int64     // the entry's position in the journal
	AcceptedAt time.Time // when acquisition committed it: what places it in a cycle
	Class      acquire.Class
	Outcome    acquire.Outcome
	// Flags are the entry's: another city's card's are marked, and the
	// grey decisions of the entry are pending by them (Grey).
	Flags    acquire.Flags
	Issuer   string // the card issuer's party ID (its issuer code in hex)
	Operator string // the operator of the terminal that took it
	// TerminalType is the channel the record came through (gate, bus
	// validator, POS, ...): fee rules may depend on it.
	TerminalType registry.TerminalType
	Product      uint16
	CardType     uint8
	AmountFen    int64
	// What concessions read (the package doc's "Concessions"): the
	// record's rider category and full fare (its FareFull: the leg's
	// fare at the rider's category before transfers), and what the rider
	// category took off the leg's fare at the default category, priced
	// by Gather under a fare table (0 without one). Unpriced says the
	// table did not price the record as it states: it carries no
	// category discount.
	RiderCategory uint8
	Unpriced      bool
	FareFullFen   int64
	CategoryFen   int64
}

// Grey is a grey record's decision as clearing sees it: a later record
// (or load) of its card confirmed it, released it, or reversed its
// confirmation (acquire.GreyDecision), at the position of that record's
// entry, so that it is cleared in the cycle of the entry that decided it.
// Issuer, Operator and the channel are the grey record's: its operator
// is paid (confirmed) or repays (reversed).
type Grey struct {
	Pos          int64 // the deciding entry's position
	Move         acquire.GreyMove
	Issuer       string
	Operator     string
	TerminalType registry.TerminalType
	Product      uint16
	CardType     uint8
	AmountFen    int64
	// PendingIssuer: the card is another city's, so the decision is
	// pending its issuer (acquire.PendingIssuerDecided of the deciding
	// entry's flags) and clears no line.
	PendingIssuer bool
}

// Totals are a count of journaled records and the sum of their records'
// amounts (of every entry, whatever its class).
type Totals struct {
	Count     int64
	AmountFen int64
}

func (t *Totals) add(fen int64) { t.Count++; t.AmountFen += fen }

// Claim is a journal range and its totals as the journal itself counts
// them (a count and a sum computed by the store, apart from the reading
// of the records): what the cycle proves it took.
type Claim struct {
	Range
	Totals
	// Greys are the count and sum of the grey decisions of the range's
	// records, as the journal counts them.
	Greys Totals
}

// Journal is what clearing reads of acquisition's journal; the stores
// implement it.
type Journal interface {
	// Claim returns the range of records after position from whose
	// commit was before before, with the journal's own count and sum of
	// their amounts. Entries are committed in position order, so the
	// range is the prefix after from of records committed before before.
	Claim(ctx context.Context, from int64, before time.Time) (Claim, error)
	// Records calls fn for each entry of r, in position order, with the
	// time it was committed.
	Records(ctx context.Context, r Range, fn func(e *acquire.Journaled, at time.Time) error) error
	// Greys calls fn for each grey decision made by an entry of r, in
	// position order.
	Greys(ctx context.Context, r Range, fn func(g *acquire.GreyDecision) error) error
}

// TerminalInfo is what clearing needs of the registry about a terminal.
type TerminalInfo struct {
	Operator string
	Type     registry.TerminalType
}

// Terminals looks terminals up in the registry.
type Terminals interface {
	// Terminal returns terminal id's operator and type. Kind NotFound for
	// a terminal the registry does not know.
	Terminal(ctx context.Context, id citycard.TerminalID) (TerminalInfo, error)
}

// Gathered is what Gather read of a cycle's journal range.
type Gathered struct {
	Claim Claim
	Items []Item // the claim's records, in position order
	Greys []Grey // the grey decisions they made, in position order
	// FareVersion is the fare table GatherPriced priced the category
	// discounts under; "" for none.
	FareVersion string
}

// Gather claims the journal range after from committed before the
// cycle's cut-off, reads its records and their grey decisions, and
// proves that it took them all (Check, CheckGreys). A terminal is looked
// up once per call, an issuer's party ID made once.
func Gather(ctx context.Context, j Journal, terms Terminals, c *Cycle, from int64) (*Gathered, error) {
	return GatherPriced(ctx, j, terms, c, from, nil)
}

// GatherPriced is Gather, pricing with fares (nil for none) the category
// discount of every cleared record of a rider category other than the
// fare table's default (Fares.CategoryDiscount).
func GatherPriced(ctx context.Context, j Journal, terms Terminals, c *Cycle, from int64, fares Fares) (*Gathered, error) {
	const op = "clearing.Gather"
	cl, err := j.Claim(ctx, from, c.Cutoff)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if cl.Len() < 0 || cl.Len() > ItemsMax {
		return nil, citycard.E(op, citycard.Invalid, "cycle %v: journal range %v: want 0 to %d records", c.Day, cl.Range, ItemsMax)
	}
	g := &Gathered{Claim: cl, Items: make([]Item, 0, cl.Len())}
	if fares != nil {
		g.FareVersion = fares.Version()
	}
	ls := lookups{ctx: ctx, terms: terms, seen: map[citycard.TerminalID]TerminalInfo{}, issuers: map[citycard.IssuerCode]string{}}
	err = j.Records(ctx, cl.Range, func(e *acquire.Journaled, at time.Time) error {
		r, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.E(op, citycard.Invalid, "cycle %v: journaled record %d: %w", c.Day, e.Pos, err)
		}
		ti, err := ls.terminal(e.Terminal)
		if err != nil {
			return err
		}
		it := Item{
			Pos: e.Pos, AcceptedAt: at, Class: e.Class, Outcome: e.Outcome,
			Issuer: ls.issuer(r.Issuer), Operator: ti.Operator, TerminalType: ti.Type,
			Product: r.Product, CardType: r.CardType, AmountFen: int64(r.Amount),
			RiderCategory: r.RiderCategory, FareFullFen: int64(r.FareFull), Flags: e.Flags,
		}
		if fares != nil && r.Product == 0 && (e.Class == acquire.ClassBooked || e.Class == acquire.ClassRecovered) && !acquire.PendingIssuer(e.Class, e.Outcome) {
			fen, ok := fares.CategoryDiscount(&r)
			it.CategoryFen, it.Unpriced = int64(fen), !ok
		}
		g.Items = append(g.Items, it)
		return nil
	})
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := Check(c.Day, cl, g.Items); err != nil {
		return nil, err
	}
	err = j.Greys(ctx, cl.Range, func(s *acquire.GreyDecision) error {
		if len(g.Greys) >= ItemsMax {
			return citycard.E(op, citycard.Invalid, "cycle %v: more than %d grey decisions", c.Day, ItemsMax)
		}
		ti, err := ls.terminal(s.Terminal)
		if err != nil {
			return err
		}
		// The deciding entry is the claim's (CheckGreys proves it), and
		// Items holds the claim's every position in order (Check).
		var flags acquire.Flags
		if i := s.Pos - cl.From - 1; i >= 0 && i < int64(len(g.Items)) {
			flags = g.Items[i].Flags
		}
		g.Greys = append(g.Greys, Grey{
			Pos: s.Pos, Move: s.Move, Issuer: ls.issuer(s.Issuer), Operator: ti.Operator, TerminalType: ti.Type,
			Product: s.Product, CardType: s.CardType, AmountFen: s.AmountFen, PendingIssuer: acquire.PendingIssuerDecided(flags),
		})
		return nil
	})
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := CheckGreys(c.Day, cl, g.Greys); err != nil {
		return nil, err
	}
	return g, nil
}

// lookups remembers the terminals looked up and the issuers' party IDs
// made while gathering: a few thousand of each in a day of millions of
// records.
type lookups struct {
	ctx     context.Context
	terms   Terminals
	seen    map[citycard.TerminalID]TerminalInfo
	issuers map[citycard.IssuerCode]string
}

func (l *lookups) terminal(id citycard.TerminalID) (TerminalInfo, error) {
	ti, ok := l.seen[id]
	if !ok {
		var err error
		if ti, err = l.terms.Terminal(l.ctx, id); err != nil {
			return TerminalInfo{}, citycard.Wrap("clearing.Gather", citycard.Other, err)
		}
		l.seen[id] = ti
	}
	return ti, nil
}

func (l *lookups) issuer(c citycard.IssuerCode) string {
	s, ok := l.issuers[c]
	if !ok {
		s = c.String()
		l.issuers[c] = s
	}
	return s
}

// CheckGreys proves that greys are the whole of the claim's grey
// decisions: each made by an entry of the range, in position order, and
// their count and sum those the journal counts. Kind Conflict.
func CheckGreys(d Day, claim Claim, greys []Grey) error {
	const op = "clearing.CheckGreys"
	var took Totals
	prev := claim.From
	for i := range greys {
		g := &greys[i]
		if g.Pos <= claim.From || g.Pos > claim.To || g.Pos < prev {
			return citycard.E(op, citycard.Conflict, "cycle %v: grey decision %d at position %d: want one in %v, in position order", d, i, g.Pos, claim.Range)
		}
		prev = g.Pos
		took.add(g.AmountFen)
	}
	if took != claim.Greys {
		return citycard.E(op, citycard.Conflict, "cycle %v incomplete: the journal range %v holds %d grey decisions of %d fen, the cycle took %d of %d fen",
			d, claim.Range, claim.Greys.Count, claim.Greys.AmountFen, took.Count, took.AmountFen)
	}
	return nil
}

// Check proves that items are the whole of claim before anything is
// summed: the claim's count is its range's length (the journal's
// positions are dense), the items' positions are exactly those of the
// range, in order, and their count and sum equal the claim's. A read that
// silently dropped a row (one not yet written when it ran, say) fails
// here, naming the first position missing. Kind Conflict.
func Check(d Day, claim Claim, items []Item) error {
	const op = "clearing.Check"
	if claim.Count != claim.Len() {
		return citycard.E(op, citycard.Conflict, "cycle %v: the journal counts %d records in range %v of %d positions", d, claim.Count, claim.Range, claim.Len())
	}
	var took Totals
	var gap string
	next := claim.From + 1
	for i := range items {
		it := &items[i]
		if gap == "" && it.Pos != next {
			if it.Pos > next {
				gap = "position " + itoa(next) + " missing"
			} else {
				gap = "position " + itoa(it.Pos) + " out of order or repeated"
			}
		}
		next = it.Pos + 1
		took.add(it.AmountFen)
	}
	if gap == "" && took.Count < claim.Count {
		gap = "position " + itoa(claim.From+took.Count+1) + " missing"
	}
	if gap == "" && next-1 > claim.To {
		gap = "position " + itoa(next-1) + " past the range"
	}
	if gap != "" || took != claim.Totals {
		if gap == "" {
			gap = "the amounts differ"
		}
		return citycard.E(op, citycard.Conflict, "cycle %v incomplete: the journal range %v holds %d records of %d fen, the cycle took %d of %d fen: %s",
			d, claim.Range, claim.Count, claim.AmountFen, took.Count, took.AmountFen, gap)
	}
	return nil
}

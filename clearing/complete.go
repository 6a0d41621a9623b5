package clearing

import (
	"context"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
)

// ItemsMax bounds the journal entries one cycle takes: 2^30, fifty
// Beijing days. With amounts below 2^32 fen, every sum of a cycle stays
// below 2^62 and cannot overflow.
const ItemsMax = 1 << 30

// Item is one journaled record as clearing sees it: the journal entry,
// the record's fields that clearing reads, and what the registry says of
// its terminal.
type Item struct {
	Pos        int64     // the entry's position in the journal
	AcceptedAt time.Time // when acquisition committed it: what places it in a cycle
	Class      acquire.Class
	Outcome    acquire.Outcome
	Issuer     string // the card issuer's party ID (its issuer code in hex)
	Operator   string // the operator of the terminal that took it
	// TerminalType is the channel the record came through (gate, bus
	// validator, POS, ...): fee rules may depend on it.
	TerminalType registry.TerminalType
	Product      uint16
	CardType     uint8
	AmountFen    int64
}

// Totals are a count of journal entries and the sum of their records'
// amounts (of every entry, whatever its class).
type Totals struct {
	Count     int64
	AmountFen int64
}

func (t *Totals) add(fen int64) { t.Count++; t.AmountFen += fen }

// Claim is a journal range and its totals as the journal itself counts
// them (a count and a sum computed by the store, apart from the reading
// of the entries): what the cycle proves it took.
type Claim struct {
	Range
	Totals
}

// Journal is what clearing reads of acquisition's journal; the stores
// implement it.
type Journal interface {
	// Claim returns the range of entries after position from whose
	// commit was before before, with the journal's own count and sum of
	// their amounts. Entries are committed in position order, so the
	// range is the prefix after from of entries committed before before.
	Claim(ctx context.Context, from int64, before time.Time) (Claim, error)
	// Entries calls fn for each entry of r, in position order, with the
	// time it was committed.
	Entries(ctx context.Context, r Range, fn func(e *acquire.Journaled, at time.Time) error) error
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

// Gather claims the journal range after from committed before the
// cycle's cut-off, reads its entries and proves that it took them all
// (Check). A terminal is looked up once per call.
func Gather(ctx context.Context, j Journal, terms Terminals, c *Cycle, from int64) (Claim, []Item, error) {
	const op = "clearing.Gather"
	cl, err := j.Claim(ctx, from, c.Cutoff)
	if err != nil {
		return Claim{}, nil, citycard.Wrap(op, citycard.Other, err)
	}
	if cl.Len() < 0 || cl.Len() > ItemsMax {
		return Claim{}, nil, citycard.E(op, citycard.Invalid, "cycle %v: journal range %v: want 0 to %d entries", c.Day, cl.Range, ItemsMax)
	}
	items := make([]Item, 0, cl.Len())
	seen := map[citycard.TerminalID]TerminalInfo{}
	err = j.Entries(ctx, cl.Range, func(e *acquire.Journaled, at time.Time) error {
		r, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.E(op, citycard.Invalid, "cycle %v: journal entry %d: %w", c.Day, e.Pos, err)
		}
		ti, ok := seen[e.Terminal]
		if !ok {
			if ti, err = terms.Terminal(ctx, e.Terminal); err != nil {
				return citycard.Wrap(op, citycard.Other, err)
			}
			seen[e.Terminal] = ti
		}
		items = append(items, Item{
			Pos: e.Pos, AcceptedAt: at, Class: e.Class, Outcome: e.Outcome,
			Issuer: r.Issuer.String(), Operator: ti.Operator, TerminalType: ti.Type,
			Product: r.Product, CardType: r.CardType, AmountFen: int64(r.Amount),
		})
		return nil
	})
	if err != nil {
		return Claim{}, nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := Check(c.Day, cl, items); err != nil {
		return Claim{}, nil, err
	}
	return cl, items, nil
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
		return citycard.E(op, citycard.Conflict, "cycle %v: the journal counts %d entries in range %v of %d positions", d, claim.Count, claim.Range, claim.Len())
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
		return citycard.E(op, citycard.Conflict, "cycle %v incomplete: the journal range %v holds %d entries of %d fen, the cycle took %d of %d fen: %s",
			d, claim.Range, claim.Count, claim.AmountFen, took.Count, took.AmountFen, gap)
	}
	return nil
}

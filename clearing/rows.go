package clearing

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
)

// CycleRow is a stored cycle as the stores write it: times in Unix
// nanoseconds (0 for none), the state by name, the result and the files'
// hashes as JSON (nil for none). The stores then differ only in their
// SQL.
type CycleRow struct {
	Day                                          int64
	State                                        string
	CutoffNs                                     int64
	From, To                                     int64
	OpenedNs, ComputedNs, ReviewedNs, ApprovedNs int64
	ClosedNs                                     int64
	ComputedBy, ReviewedBy, ApprovedBy, ClosedBy string
	Result, Files                                []byte
	// SettlementVersion is the cycle's (0 for a row kept before
	// migration 0038: SettlementPayers).
	SettlementVersion int64
}

// Row lays s out as its row. Kind Invalid for a state without a name.
func (s *Stored) Row() (CycleRow, error) {
	const op = "clearing.Stored.Row"
	c := &s.Cycle
	if c.State.String() == "state?" {
		return CycleRow{}, citycard.E(op, citycard.Invalid, "cycle %v: state %d", c.Day, c.State)
	}
	r := CycleRow{
		Day: int64(c.Day), State: c.State.String(), CutoffNs: ns(c.Cutoff), From: c.Range.From, To: c.Range.To,
		OpenedNs: ns(c.OpenedAt), ComputedNs: ns(c.ComputedAt), ReviewedNs: ns(c.ReviewedAt), ApprovedNs: ns(c.ApprovedAt), ClosedNs: ns(c.ClosedAt),
		ComputedBy: c.ComputedBy, ReviewedBy: c.ReviewedBy, ApprovedBy: c.ApprovedBy, ClosedBy: c.ClosedBy,
		SettlementVersion: int64(c.SettlementVersion),
	}
	var err error
	if s.Result != nil {
		if r.Result, err = json.Marshal(s.Result); err != nil {
			return CycleRow{}, citycard.E(op, citycard.Invalid, "cycle %v: result: %w", c.Day, err)
		}
	}
	if s.Files != nil || c.State == Closed {
		if r.Files, err = json.Marshal(s.Files); err != nil {
			return CycleRow{}, citycard.E(op, citycard.Invalid, "cycle %v: files: %w", c.Day, err)
		}
	}
	return r, nil
}

// Stored reads a row back. Kind IO for a row that does not read (a state
// or JSON the store should never have held).
func (r *CycleRow) Stored() (Stored, error) {
	const op = "clearing.CycleRow.Stored"
	st, ok := parseState(r.State)
	if !ok {
		return Stored{}, citycard.E(op, citycard.IO, "cycle %d: stored state %q", r.Day, r.State)
	}
	if r.SettlementVersion < 0 || r.SettlementVersion > math.MaxUint8 {
		return Stored{}, citycard.E(op, citycard.IO, "cycle %d: stored settlement version %d", r.Day, r.SettlementVersion)
	}
	s := Stored{Cycle: Cycle{
		Day: Day(r.Day), State: st, Cutoff: at(r.CutoffNs), Range: Range{From: r.From, To: r.To},
		OpenedAt: at(r.OpenedNs), ComputedAt: at(r.ComputedNs), ReviewedAt: at(r.ReviewedNs), ApprovedAt: at(r.ApprovedNs), ClosedAt: at(r.ClosedNs),
		ComputedBy: r.ComputedBy, ReviewedBy: r.ReviewedBy, ApprovedBy: r.ApprovedBy, ClosedBy: r.ClosedBy,
		SettlementVersion: SettlementVersion(r.SettlementVersion),
	}}
	if r.Result != nil {
		s.Result = &Result{}
		if err := json.Unmarshal(r.Result, s.Result); err != nil {
			return Stored{}, citycard.E(op, citycard.IO, "cycle %v: stored result: %w", s.Cycle.Day, err)
		}
	}
	if r.Files != nil {
		if err := json.Unmarshal(r.Files, &s.Files); err != nil {
			return Stored{}, citycard.E(op, citycard.IO, "cycle %v: stored files: %w", s.Cycle.Day, err)
		}
	}
	return s, nil
}

func parseState(s string) (State, bool) {
	for i, n := range stateNames {
		if n != "" && n == s {
			return State(i), true
		}
	}
	return 0, false
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// at is ns's inverse, in UTC: the zone a cycle is shown in is its
// calendar's.
func at(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// EntryRows calls fn for each entry of r in journal chunk rows of columns
// first_pos, terminal, batch_id, data, at_ns (the chunk's commit time),
// in position order: the stores' Journal.Entries.
func EntryRows(rows acquire.Rows, r Range, fn func(e *acquire.Journaled, at time.Time) error) error {
	for rows.Next() {
		var first, atNs int64
		var term, batch string
		var data []byte
		if err := rows.Scan(&first, &term, &batch, &data, &atNs); err != nil {
			return err
		}
		tid, err := citycard.ParseTerminalID(term)
		if err != nil {
			return citycard.E("clearing.EntryRows", citycard.IO, "journal chunk %d: %w", first, err)
		}
		t := at(atNs)
		err = acquire.DecodeChunk(first, tid, batch, data, func(e *acquire.Journaled) error {
			if e.Pos <= r.From || e.Pos > r.To {
				return nil
			}
			return fn(e, t)
		})
		if err != nil {
			return err
		}
	}
	return rows.Err()
}

// GreyRow is a grey decision as the stores write it: identifiers in
// hex, the move by name.
type GreyRow struct {
	Pos                         int64
	Index                       int
	GreyPos                     int64
	Move, Terminal, Issuer, ASN string
	Seq                         int64
	Counter, CardType, Product  int
	AmountFen                   int64
}

// GreyRowOf lays g out as its row.
func GreyRowOf(g *acquire.GreyDecision) GreyRow {
	return GreyRow{
		Pos: g.Pos, Index: g.Index, GreyPos: g.GreyPos, Move: g.Move.String(), Terminal: g.Terminal.String(), Issuer: g.Issuer.String(),
		ASN: hex.EncodeToString(g.ASN[:]), Seq: int64(g.Seq), Counter: int(g.Counter), CardType: int(g.CardType), Product: int(g.Product), AmountFen: g.AmountFen,
	}
}

// GreyRows calls fn for each grey decision in rows of columns pos, idx,
// move, terminal, seq, issuer, asn, counter, card_type, product,
// amount_fen, grey_pos: the stores' Journal.Greys.
func GreyRows(rows acquire.Rows, fn func(g *acquire.GreyDecision) error) error {
	const op = "clearing.GreyRows"
	for rows.Next() {
		var r GreyRow
		if err := rows.Scan(&r.Pos, &r.Index, &r.Move, &r.Terminal, &r.Seq, &r.Issuer, &r.ASN, &r.Counter, &r.CardType, &r.Product, &r.AmountFen, &r.GreyPos); err != nil {
			return err
		}
		g := acquire.GreyDecision{Pos: r.Pos, Index: r.Index, GreyPos: r.GreyPos, Seq: uint32(r.Seq), Counter: uint16(r.Counter), CardType: uint8(r.CardType), Product: uint16(r.Product), AmountFen: r.AmountFen}
		var ok bool
		var err, err2, err3 error
		g.Move, ok = acquire.ParseGreyMove(r.Move)
		g.Terminal, err = citycard.ParseTerminalID(r.Terminal)
		g.Issuer, err2 = citycard.ParseIssuerCode(r.Issuer)
		g.ASN, err3 = citycard.ParseASN(r.ASN)
		if !ok || err != nil || err2 != nil || err3 != nil || len(r.ASN) != 2*len(g.ASN) {
			return citycard.E(op, citycard.IO, "grey decision %d/%d: stored row %+v does not read", r.Pos, r.Index, r)
		}
		if err := fn(&g); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ClaimCounts are what a store counts of a journal range to claim it, in
// one statement (one snapshot): whether from ends a chunk, where the
// range ends, and the range's chunks and records counted twice, from the
// journal's chunks and from their totals, with the totals' sum and the
// range's grey decisions.
type ClaimCounts struct {
	FromEnds                  bool
	To                        int64
	Chunks, Entries           int64 // from the journal's chunks
	TotalChunks, TotalEntries int64 // from the chunk totals
	AmountFen                 int64 // from the chunk totals
	Greys, GreysFen           int64
}

// Claim checks the counts and returns the claim of (from, To]. Kind
// Invalid for a from inside a chunk or past the journal's end, Conflict
// for chunks and totals that disagree (chunks committed before their
// totals were kept, or a table changed behind the platform's back).
func (c *ClaimCounts) Claim(from int64) (Claim, error) {
	const op = "clearing.ClaimCounts.Claim"
	switch {
	case !c.FromEnds || c.To < from:
		return Claim{}, citycard.E(op, citycard.Invalid, "journal position %d: want the end of a chunk, at most the journal's end", from)
	case c.Chunks != c.TotalChunks || c.Entries != c.TotalEntries:
		return Claim{}, citycard.E(op, citycard.Conflict, "journal range (%d, %d]: %d chunks of %d records, but totals of %d chunks of %d records: chunks committed before their totals were kept, or tables changed",
			from, c.To, c.Chunks, c.Entries, c.TotalChunks, c.TotalEntries)
	}
	return Claim{Range: Range{From: from, To: c.To}, Totals: Totals{Count: c.Entries, AmountFen: c.AmountFen}, Greys: Totals{Count: c.Greys, AmountFen: c.GreysFen}}, nil
}

// ChunkAmount returns the sum of the amounts of a journal chunk's
// records (acquire.EncodeChunk), the chunk at position first: what the
// stores backfill the totals of chunks committed before they were kept
// with. Kind Invalid for a chunk that is not whole records.
func ChunkAmount(first int64, data []byte) (int64, error) {
	var fen int64
	err := acquire.DecodeChunk(first, citycard.TerminalID{}, "", data, func(e *acquire.Journaled) error {
		a, _ := record.AmountOf(e.Raw[:])
		fen += int64(a)
		return nil
	})
	return fen, err
}

// ChunkTotalsRow is a chunk's totals as the stores write them.
type ChunkTotalsRow struct {
	FirstPos, N, AmountFen, AtNs int64
}

package clearing

import (
	"cmp"
	"context"
	"encoding/hex"
	"slices"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
)

// StatementRecord is one record behind a statement's figures: where it is
// in the journal (Pos), the card and the terminal that made it, its TAC
// (hex), and what it cleared to for the operator.
type StatementRecord struct {
	Pos       int64
	Line      uint32 // the transit line of the tap; 0 where the terminal has none
	Terminal  string
	Day       string // the tap's date, YYYYMMDD as the card wrote it
	Issuer    string
	ASN       string
	Counter   uint16
	Seq       uint32 // the terminal sequence
	AmountFen int64
	FeeFen    int64
	Rule      string // the fee rule, "none" for none
	TAC       string
}

// StatementRow sums a statement's records of one key (a line, a
// terminal, a day): the records, their gross, the fees and the net paid
// to the operator (gross - fees).
type StatementRow struct {
	Key      string
	Records  int64
	GrossFen int64
	FeeFen   int64
	NetFen   int64
}

func (r *StatementRow) add(rec *StatementRecord) {
	r.Records++
	r.GrossFen += rec.AmountFen
	r.FeeFen += rec.FeeFen
	r.NetFen += rec.AmountFen - rec.FeeFen
}

// Statement is an operator's statement of a closed cycle: its cleared
// records, summed by transit line, terminal and day (the tap's), and the
// records themselves, in journal order, so that every figure drills down
// to the records (and their TACs) behind it.
type Statement struct {
	Party     string
	Day       Day
	Total     StatementRow
	Lines     []StatementRow // by line number
	Terminals []StatementRow // by terminal ID
	Days      []StatementRow // by day
	Records   []StatementRecord
	// What the party's position adds to its records' net: the rounding
	// remainder booked (paid, RoundingLine.BookedFen) and the adjustments
	// (by Ref, signed: positive paid to the party); PositionFen is its
	// net position in the cycle, Total.NetFen - RoundingFen + the
	// adjustments.
	RoundingFen int64
	Adjustments []StatementRow // Key the Ref, NetFen signed
	PositionFen int64
}

// Statements returns the statements of closed cycle d's operators, by
// party: read again from the journal range the cycle claimed, the fee of
// every record computed under the schedules in force on d, and checked
// against the cycle's result (each operator's gross and fees those of
// its record lines), so that a statement says what the cycle cleared.
// Grey decisions are on the cycle's lines but not in statements yet.
// Kind NotFound, Conflict (a cycle not closed, or a statement that
// disagrees with the result), and the journal's kinds.
func (cs *Cycles) Statements(ctx context.Context, d Day) ([]Statement, error) {
	const op = "clearing.Cycles.Statements"
	s, err := cs.Cycle(ctx, d)
	if err != nil {
		return nil, err
	}
	if s.Cycle.State != Closed {
		return nil, citycard.E(op, citycard.Conflict, "cycle %v is %v: statements are of a closed cycle", d, s.Cycle.State)
	}
	clr, err := cs.clearerFor(ctx, d)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	ls := lookups{ctx: ctx, terms: cs.Terminals, seen: map[citycard.TerminalID]TerminalInfo{}, issuers: map[citycard.IssuerCode]string{}}
	byParty := map[string]*Statement{}
	err = cs.Journal.Records(ctx, s.Cycle.Range, func(e *acquire.Journaled, _ time.Time) error {
		if e.Class != acquire.ClassBooked && e.Class != acquire.ClassRecovered || acquire.PendingIssuer(e.Class, e.Outcome) {
			return nil // cleared by no line of the cycle (Clear)
		}
		r, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.E(op, citycard.Invalid, "cycle %v: journaled record %d: %w", d, e.Pos, err)
		}
		ti, err := ls.terminal(e.Terminal)
		if err != nil {
			return err
		}
		rec := StatementRecord{Pos: e.Pos, Line: r.Line, Terminal: r.TerminalID.String(), Day: r.Date.String(), Issuer: ls.issuer(r.Issuer),
			ASN: r.ASN.String(), Counter: r.Counter, Seq: r.TerminalSeq, AmountFen: int64(r.Amount), Rule: noRuleName, TAC: hex.EncodeToString(r.TAC[:])}
		if sch := clr.schedules[ti.Operator]; sch != nil {
			if ri := sch.rule(r.Product, r.CardType, ti.Type); ri != noRule {
				rec.FeeFen, _ = sch.Rules[ri].Fee(rec.AmountFen, clr.cfg.Rounding)
				rec.Rule = sch.Rules[ri].Name
			}
		}
		st := byParty[ti.Operator]
		if st == nil {
			st = &Statement{Party: ti.Operator, Day: d}
			byParty[ti.Operator] = st
		}
		st.Records = append(st.Records, rec)
		return nil
	})
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	want := map[string]StatementRow{}
	for _, l := range s.Result.Lines {
		if l.Grey == "" {
			w := want[l.Operator]
			w.Records, w.GrossFen, w.FeeFen = w.Records+l.Records, w.GrossFen+l.GrossFen, w.FeeFen+l.FeeFen
			want[l.Operator] = w
		}
	}
	out := make([]Statement, 0, len(byParty))
	for _, p := range sortedKeys(byParty) {
		st := byParty[p]
		lines, terms, days := map[string]*StatementRow{}, map[string]*StatementRow{}, map[string]*StatementRow{}
		for i := range st.Records {
			rec := &st.Records[i]
			st.Total.add(rec)
			for _, g := range []struct {
				m   map[string]*StatementRow
				key string
			}{{lines, strconv.FormatUint(uint64(rec.Line), 10)}, {terms, rec.Terminal}, {days, rec.Day}} {
				row := g.m[g.key]
				if row == nil {
					row = &StatementRow{Key: g.key}
					g.m[g.key] = row
				}
				row.add(rec)
			}
		}
		st.Total.Key = "total"
		w := want[p]
		if st.Total.Records != w.Records || st.Total.GrossFen != w.GrossFen || st.Total.FeeFen != w.FeeFen {
			return nil, citycard.E(op, citycard.Conflict, "cycle %v: statement of %s: %d records, %d fen gross, %d fen fees; the cycle cleared %d, %d, %d",
				d, p, st.Total.Records, st.Total.GrossFen, st.Total.FeeFen, w.Records, w.GrossFen, w.FeeFen)
		}
		st.Lines, st.Terminals, st.Days = statementRows(lines, true), statementRows(terms, false), statementRows(days, false)
		st.PositionFen = st.Total.NetFen
		for _, r := range s.Result.Rounding {
			if r.Party == p {
				st.RoundingFen = r.BookedFen
				st.PositionFen -= r.BookedFen
			}
		}
		for _, a := range s.Result.Adjustments {
			switch p {
			case a.Payee:
				st.Adjustments = append(st.Adjustments, StatementRow{Key: a.Ref, NetFen: a.AmountFen})
				st.PositionFen += a.AmountFen
			case a.Payer:
				st.Adjustments = append(st.Adjustments, StatementRow{Key: a.Ref, NetFen: -a.AmountFen})
				st.PositionFen -= a.AmountFen
			}
		}
		for _, pos := range s.Result.Positions {
			if pos.Party == p && pos.NetFen != st.PositionFen {
				return nil, citycard.E(op, citycard.Conflict, "cycle %v: statement of %s nets %d fen, its position %d", d, p, st.PositionFen, pos.NetFen)
			}
		}
		out = append(out, *st)
	}
	return out, nil
}

// statementRows returns m's rows by key (numerically when numeric).
func statementRows(m map[string]*StatementRow, numeric bool) []StatementRow {
	out := make([]StatementRow, 0, len(m))
	for _, r := range m {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b StatementRow) int {
		if numeric {
			x, _ := strconv.ParseUint(a.Key, 10, 32)
			y, _ := strconv.ParseUint(b.Key, 10, 32)
			return cmp.Compare(x, y)
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

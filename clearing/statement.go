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
	// A payer's remote top-ups (Result.TopUps): each paid or refunded
	// one with the ledger entry that booked it, in ledger order, and
	// their sums, in total, by issuer and by the entry's day (in the
	// cycle's zone). In these rows Records counts the top-ups (a refund
	// is one too), GrossFen is what the payer collected (a refund
	// negative), FeeFen the commission it earns (taken back on a
	// refund) and NetFen FeeFen - GrossFen: what they add to its
	// position (negative: it pays in).
	TopUps       []StatementTopUp
	TopUpTotal   StatementRow
	TopUpIssuers []StatementRow // by issuer
	TopUpDays    []StatementRow // by day
	// Loads are a payer's loads as a channel (a partner bank's counters
	// beside its remote top-ups), summed as its top-ups are: they are in
	// its position too. Key "loads"; zero for none.
	Loads StatementRow
}

// StatementTopUp is one remote top-up's money behind a payer's
// statement: the ledger entry (Seq) that booked its payment or refund,
// the top-up (its ID, the card) and what it cleared to.
type StatementTopUp struct {
	Seq           int64
	TopUp         string
	Refund        bool
	Day           string // the entry's date in the cycle's zone, YYYYMMDD
	Issuer        string
	Card          string // "card:ISSUER/ASN", the entry's source
	AmountFen     int64  // collected; a refund negative
	CommissionFen int64
	Rule          string // the commission rule, "none" for none
}

func (r *StatementRow) addTopUp(t *StatementTopUp) {
	r.Records++
	r.GrossFen += t.AmountFen
	r.FeeFen += t.CommissionFen
	r.NetFen += t.CommissionFen - t.AmountFen
}

// Statements returns the statements of closed cycle d's operators, by
// party: read again from the journal range the cycle claimed, the fee of
// every record computed under the schedules in force on d, and checked
// against the cycle's result (each operator's gross and fees those of
// its record lines), so that a statement says what the cycle cleared.
// Grey decisions are on the cycle's lines but not in statements yet.
// A payer of the cycle's remote top-ups has a statement of them
// (payerStatements). Kind NotFound, Conflict (a cycle not closed, or a statement that
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
	clr, err := cs.ClearerFor(ctx, d)
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
	if err := cs.payerStatements(ctx, &s, clr, byParty); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
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
		st.PositionFen = st.Total.NetFen + st.TopUpTotal.NetFen + st.Loads.NetFen
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

// payerStatements adds to byParty the remote top-ups of closed cycle s's
// payers: read again from the ledger range the cycle claimed (the moves
// of Seq in (From, To], gathered as Run gathered them), each one's
// commission computed under clr, and checked against the cycle's top-up
// lines (kind Conflict for a difference). A payer with no other
// statement gets one of its own.
func (cs *Cycles) payerStatements(ctx context.Context, s *Stored, clr *Clearer, byParty map[string]*Statement) error {
	const op = "clearing.Cycles.Statements"
	if len(s.Result.TopUps) == 0 || cs.Ledger == nil {
		return nil
	}
	prev, ok, err := cs.Store.Before(ctx, s.Cycle.Day)
	if err != nil {
		return err
	}
	var pp *Stored
	if ok {
		pp = &prev
	}
	_, loads, moves, err := cs.GatherLoads(ctx, pp, &s.Cycle)
	if err != nil {
		return err
	}
	payers := map[string]bool{}
	for _, l := range s.Result.TopUps {
		payers[l.Payer] = true
	}
	loaded := map[string]*StatementRow{} // a payer's loads as a channel: its position has them too
	for i := range loads {
		ld := &loads[i]
		if ld.Seq > s.Result.LoadClaim.To || !payers[ld.Channel] || ld.Channel == ld.Issuer {
			continue
		}
		_, fen, _ := clr.channelCommission(ld.Channel, ld.AmountFen)
		row := loaded[ld.Channel]
		if row == nil {
			row = &StatementRow{Key: "loads"}
			loaded[ld.Channel] = row
		}
		row.Records++
		row.GrossFen += ld.AmountFen
		row.FeeFen += fen
		row.NetFen += fen - ld.AmountFen
	}
	zone := s.Cycle.Cutoff.Location()
	issuers, days := map[string]map[string]*StatementRow{}, map[string]map[string]*StatementRow{}
	for i := range moves {
		m := &moves[i]
		if m.Seq <= s.Result.LoadClaim.From || m.Seq > s.Result.LoadClaim.To || m.Payer == m.Issuer {
			continue
		}
		rule, fen, _ := clr.channelCommission(m.Payer, m.AmountFen)
		t := StatementTopUp{Seq: m.Seq, TopUp: m.TopUp, Refund: m.AmountFen < 0, Day: m.At.In(zone).Format("20060102"), Issuer: m.Issuer,
			Card: m.Card, AmountFen: m.AmountFen, CommissionFen: fen, Rule: ruleName(rule)}
		st := byParty[m.Payer]
		if st == nil {
			st = &Statement{Party: m.Payer, Day: s.Cycle.Day}
			byParty[m.Payer] = st
		}
		if issuers[m.Payer] == nil {
			issuers[m.Payer], days[m.Payer] = map[string]*StatementRow{}, map[string]*StatementRow{}
		}
		st.TopUps = append(st.TopUps, t)
		st.TopUpTotal.addTopUp(&t)
		for _, g := range []struct {
			m   map[string]*StatementRow
			key string
		}{{issuers[m.Payer], t.Issuer}, {days[m.Payer], t.Day}} {
			row := g.m[g.key]
			if row == nil {
				row = &StatementRow{Key: g.key}
				g.m[g.key] = row
			}
			row.addTopUp(&t)
		}
	}
	want := map[string]StatementRow{}
	for _, l := range s.Result.TopUps {
		w := want[l.Payer]
		w.Records, w.GrossFen, w.FeeFen = w.Records+l.Paid+l.Refunded, w.GrossFen+l.NetFen(), w.FeeFen+l.CommissionFen
		want[l.Payer] = w
	}
	for p, st := range byParty {
		w, got := want[p], st.TopUpTotal
		if got.Records != w.Records || got.GrossFen != w.GrossFen || got.FeeFen != w.FeeFen {
			return citycard.E(op, citycard.Conflict, "cycle %v: statement of %s: %d top-ups, %d fen collected, %d fen commission; the cycle cleared %d, %d, %d",
				s.Cycle.Day, p, got.Records, got.GrossFen, got.FeeFen, w.Records, w.GrossFen, w.FeeFen)
		}
		st.TopUpTotal.Key = "total"
		if row := loaded[p]; row != nil {
			st.Loads = *row
		}
		st.TopUpIssuers, st.TopUpDays = statementRows(issuers[p], false), statementRows(days[p], false)
	}
	return nil
}

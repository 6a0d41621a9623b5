package city

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
)

// The invariants of clearing and settlement (Report.Invariants).
const (
	InvPositionsZero        = "positions_sum_to_zero"
	InvReproducible         = "clearing_reproducible"
	InvConservationClearing = "conservation_across_clearing"
	InvOpenCycles           = "records_in_open_cycles"
)

// CycleFigures are what a cycle the city cleared holds: its range, what
// it did with the records it took, its positions and its files.
type CycleFigures struct {
	Day        string          `json:"day"`
	State      string          `json:"state"`
	RangeFrom  int64           `json:"range_from"`
	RangeTo    int64           `json:"range_to"`
	Claimed    int64           `json:"claimed"`
	Cleared    int64           `json:"cleared"`
	ClearedFen int64           `json:"cleared_fen"`
	Pending    int64           `json:"pending_issuer"`
	Late       int64           `json:"tapped_earlier"` // records whose tap (by the terminal's clock) was on an earlier day
	Positions  int             `json:"positions"`
	PaidFen    int64           `json:"paid_fen"`              // the sum of the positive nets: what settlement pays out
	FeesFen    int64           `json:"fees_fen"`              // the fees the cycle charged the operators (fees.go)
	RoundedFen int64           `json:"rounding_booked_fen"`   // what rounding the fees left, booked to the collector
	Crashes    int             `json:"crashes"`               // crashes mid-clearing it went through
	CrashAt    string          `json:"crash_armed,omitempty"` // where the crash mid-clearing was armed
	Files      []clearing.File `json:"files"`
}

// checkPayIns checks closed cycle s's settlement (exchange.Settle)
// against its positions, failing v on a difference: the cycle, computed
// here, is of the settlement version of now, and asks every party in
// net debit but the collector, and no other, to pay in minus its net,
// under the reference of its rank; what comes in less what goes out is
// the collector's own net. It returns the pay-ins asked and their sum.
func checkPayIns(v *inv, s *clearing.Stored, parties map[string]exchange.Party) (int, int64) {
	res := s.Result
	if s.Cycle.SettlementVersion != clearing.SettlementCurrent {
		v.fail("cycle %v: computed under settlement version %d, not %d", s.Cycle.Day, s.Cycle.SettlementVersion, clearing.SettlementCurrent)
	}
	set, err := exchange.Settle(&s.Cycle, res, parties)
	if err != nil {
		v.fail("cycle %v: its settlement: %v", s.Cycle.Day, err)
		return 0, 0
	}
	var want []exchange.PayIn
	var collector int64
	for _, p := range res.Positions {
		switch {
		case p.Party == res.Collector:
			collector = p.NetFen
		case p.NetFen < 0:
			want = append(want, exchange.PayIn{Reference: exchange.PayInReference(s.Cycle.Day, len(want)+1), Party: p.Party,
				Name: parties[p.Party].Name, Account: parties[p.Party].Account, AmountFen: -p.NetFen})
		}
	}
	if !slices.Equal(set.Incoming, want) {
		v.fail("cycle %v: pay-ins asked %+v, want one of each party in net debit %+v", s.Cycle.Day, set.Incoming, want)
	}
	if set.IncomingFen-set.SumFen != collector {
		v.fail("cycle %v: %d fen asked in, %d paid out: the difference is not the collector's net, %d", s.Cycle.Day, set.IncomingFen, set.SumFen, collector)
	}
	return len(set.Incoming), set.IncomingFen
}

// checkClearing checks the cycles the city cleared against the journal,
// the ledger and their files on disk, as four invariants: every cycle's
// positions net to zero; every closed cycle, cleared again from its
// inputs, gives the same result and the same files byte for byte; what
// the cycles paid each operator is what the ledger moved to its payable
// for the records they took; every journaled record was taken by one
// cycle, open when the record was committed.
func (c *City) checkClearing(ctx context.Context, newInv func(string) *inv, j acquire.Journal, l ledger.Store) []CycleFigures {
	zero := newInv(InvPositionsZero)
	repro := newInv(InvReproducible)
	cons := newInv(InvConservationClearing)
	open := newInv(InvOpenCycles)
	cs, parties, err := c.bo.Clearing(ctx)
	if err != nil {
		for _, v := range []*inv{zero, repro, cons, open} {
			v.fail("the back office's clearing: %v", err)
		}
		return nil
	}
	cal := clearing.DefaultCalendar()
	figs := make([]CycleFigures, 0, len(c.cycles))
	stored := make([]clearing.Stored, len(c.cycles))
	for i, cr := range c.cycles {
		s, err := cs.Cycle(ctx, cr.day)
		if err != nil {
			repro.fail("cycle %v: %v", cr.day, err)
			return nil
		}
		stored[i] = s
	}

	// Positions net to zero, cycle by cycle.
	var nPos int
	var paidAll, topUpsOwed, payInsFen int64
	var nPayIns int
	for i := range stored {
		s := &stored[i]
		f := CycleFigures{Day: s.Cycle.Day.String(), State: s.Cycle.State.String(), RangeFrom: s.Cycle.Range.From, RangeTo: s.Cycle.Range.To,
			Crashes: c.cycles[i].crashes, CrashAt: c.cycles[i].crashAt, Files: s.Files}
		if f.Files == nil {
			f.Files = []clearing.File{}
		}
		if s.Result == nil {
			zero.fail("cycle %v is %v: no positions", s.Cycle.Day, s.Cycle.State)
			figs = append(figs, f)
			continue
		}
		res := s.Result
		f.Claimed, f.Cleared, f.ClearedFen, f.Pending, f.Positions = res.Claim.Count, res.Cleared.Count, res.Cleared.AmountFen, res.Pending.Count, len(res.Positions)
		for _, ln := range res.Lines {
			f.FeesFen += ln.FeeFen
		}
		for _, r := range res.Rounding {
			f.RoundedFen += r.BookedFen
		}
		var net, rec, pay int64
		for _, p := range res.Positions {
			net, rec, pay = net+p.NetFen, rec+p.ReceivableFen, pay+p.PayableFen
			if p.NetFen > 0 {
				f.PaidFen += p.NetFen
			}
		}
		if net != 0 || rec != pay {
			zero.fail("cycle %v: positions net to %d fen (receivable %d, payable %d)", s.Cycle.Day, net, rec, pay)
		}
		// The payer of remote top-ups owes what it collected less what
		// it refunded, plus its commission: its position is that.
		owed := map[string]int64{}
		for _, l := range res.TopUps {
			owed[l.Payer] += l.CommissionFen - l.NetFen()
			topUpsOwed += l.NetFen()
		}
		for _, p := range res.Positions {
			if o, ok := owed[p.Party]; ok && p.NetFen != o {
				zero.fail("cycle %v: payer %s nets %d fen, its top-ups %d", s.Cycle.Day, p.Party, p.NetFen, o)
			}
		}
		if s.Cycle.State == clearing.Closed {
			n, fen := checkPayIns(zero, s, parties)
			nPayIns, payInsFen = nPayIns+n, payInsFen+fen
		}
		nPos += len(res.Positions)
		paidAll += f.PaidFen
		figs = append(figs, f)
	}
	zero.detail = fmt.Sprintf("%d cycles, %d positions, each cycle's netting to 0 fen; settlement pays out %s yuan and asks %d pay-ins of %s yuan of every party in net debit but the collector (payers owe %s yuan for remote top-ups)",
		len(stored), nPos, citycard.Yuan(paidAll), nPayIns, citycard.Yuan(payInsFen), citycard.Yuan(topUpsOwed))

	// Reproducible: each closed cycle cleared again from its inputs (its
	// journal range gathered again, the rounding carried from the cycle
	// before), its result and its files compared byte for byte with
	// those it closed with and those written.
	digest := sha256.New()
	var nFiles int
	// The grey confirmations (less their reversals) of other cities'
	// cards, by the grey's operator: pending their issuer as their
	// recovered records would be, paid by no cycle.
	greysPending := map[string]int64{}
	for i := range stored {
		s := &stored[i]
		if s.Cycle.State != clearing.Closed {
			repro.fail("cycle %v is %v, not closed", s.Cycle.Day, s.Cycle.State)
			continue
		}
		var from int64
		var carry []clearing.Carry
		if i > 0 && stored[i-1].Result != nil {
			from = stored[i-1].Cycle.Range.To
			for _, r := range stored[i-1].Result.Rounding {
				if r.CarryOutMicro != 0 {
					carry = append(carry, clearing.Carry{Party: r.Party, Micro: r.CarryOutMicro})
				}
			}
		}
		g, err := clearing.GatherPriced(ctx, cs.Journal, cs.Terminals, &s.Cycle, from, cs.Fares)
		if err != nil {
			repro.fail("cycle %v: gathering its range again: %v", s.Cycle.Day, err)
			continue
		}
		for _, gr := range g.Greys {
			switch {
			case !gr.PendingIssuer:
			case gr.Move == acquire.GreyConfirmed:
				greysPending[gr.Operator] += gr.AmountFen
			case gr.Move == acquire.GreyReversed:
				greysPending[gr.Operator] -= gr.AmountFen
			}
		}
		var prev *clearing.Stored
		if i > 0 {
			prev = &stored[i-1]
		}
		lc, loads, topUps, err := cs.GatherLoads(ctx, prev, &s.Cycle)
		if err != nil {
			repro.fail("cycle %v: gathering its loads again: %v", s.Cycle.Day, err)
			continue
		}
		in := &clearing.Input{Day: s.Cycle.Day, Claim: g.Claim, Items: g.Items, Greys: g.Greys, Carry: carry, LoadClaim: lc, Loads: loads, TopUps: topUps, FareVersion: g.FareVersion}
		if x, ok := cs.Interconnect.(*interop.Interop); ok && s.Result != nil {
			// The interconnection files the cycle took, as it took them.
			if in.Interop, err = x.SettlingOf(ctx, s.Result.InteropFiles); err != nil {
				repro.fail("cycle %v: reading its interconnection files again: %v", s.Cycle.Day, err)
				continue
			}
		}
		clr, err := cs.ClearerFor(ctx, s.Cycle.Day) // the fee schedules (fees.go) and parameters in force that day
		if err != nil {
			repro.fail("cycle %v: its fee schedules and parameters: %v", s.Cycle.Day, err)
			continue
		}
		res, err := clr.Clear(in)
		if err != nil {
			repro.fail("cycle %v: clearing it again: %v", s.Cycle.Day, err)
			continue
		}
		again, err1 := json.Marshal(res)
		was, err2 := json.Marshal(s.Result)
		if err1 != nil || err2 != nil || !bytes.Equal(again, was) {
			repro.fail("cycle %v: cleared again from its inputs, its result differs: %s", s.Cycle.Day, firstDiff(s.Result, res))
			continue
		}
		fs, err := exchange.Files(&s.Cycle, res, parties)
		if err == nil {
			err = sameFiles(s, fs)
		}
		if err != nil {
			repro.fail("cycle %v: its files made again: %v", s.Cycle.Day, err)
			continue
		}
		for _, f := range fs {
			disk, err := os.ReadFile(filepath.Join(c.settleDir(), f.Name))
			if err != nil || !bytes.Equal(disk, f.Data) {
				repro.fail("cycle %v: %s written is not the file made again (%v)", s.Cycle.Day, f.Name, err)
			}
			nFiles++
		}
		for _, f := range s.Files {
			fmt.Fprintf(digest, "%s %s\n", f.Name, f.SHA256)
		}
	}
	repro.detail = fmt.Sprintf("%d closed cycles cleared again from their inputs: the same results, and their %d settlement files byte for byte (sha256 of their hashes %s)",
		len(stored), nFiles, hex.EncodeToString(digest.Sum(nil))[:16])

	// What the cycles took, against the journal: every position taken
	// once, by a cycle open when the record was committed; and, per
	// operator, what the journal's records paid it (through the ledger)
	// against what the cycles cleared of them.
	opOf := make(map[citycard.TerminalID]string, len(c.devs))
	for _, d := range c.devs {
		opOf[d.id] = c.operators[d.op].id
	}
	type diff struct {
		pos            int64
		term           citycard.TerminalID
		fen            uint32
		journal, given acquire.Class
		untaken        bool
	}
	firstDiffOf := map[string]*diff{}
	pending := map[string]int64{}
	var last, tappedEarlier, nTaken int64
	err = j.Replay(ctx, 0, func(e *acquire.Journaled) error {
		last = e.Pos
		op := opOf[e.Terminal]
		fen, _ := record.AmountOf(e.Raw[:])
		pays := e.Class == acquire.ClassBooked || e.Class == acquire.ClassRecovered
		i := int(e.Pos - 1)
		if i >= len(c.taken) || !c.taken[i].ok {
			open.fail("journal position %d (terminal %v, %d fen, %v): taken by no cycle", e.Pos, e.Terminal, fen, e.Class)
			if pays && firstDiffOf[op] == nil {
				firstDiffOf[op] = &diff{pos: e.Pos, term: e.Terminal, fen: fen, journal: e.Class, untaken: true}
			}
			return nil
		}
		t := &c.taken[i]
		nTaken++
		givenPays := t.class == acquire.ClassBooked || t.class == acquire.ClassRecovered
		if pays != givenPays && firstDiffOf[op] == nil {
			firstDiffOf[op] = &diff{pos: e.Pos, term: e.Terminal, fen: fen, journal: e.Class, given: t.class}
		}
		if acquire.PendingIssuer(t.class, t.outcome) {
			pending[op] += int64(fen)
		}
		s := &stored[t.cycle]
		at := time.Unix(0, t.acceptedAt)
		switch {
		case e.Pos <= s.Cycle.Range.From || e.Pos > s.Cycle.Range.To:
			open.fail("journal position %d: taken by cycle %v, whose range is %v", e.Pos, s.Cycle.Day, s.Cycle.Range)
		case cal.Day(at) > s.Cycle.Day:
			open.fail("journal position %d, committed on %v: taken by the earlier cycle %v", e.Pos, cal.Day(at), s.Cycle.Day)
		case s.Cycle.State == clearing.Closed && !at.Before(s.Cycle.ClosedAt):
			open.fail("journal position %d, committed at %v: taken by cycle %v, closed at %v before it came", e.Pos, at, s.Cycle.Day, s.Cycle.ClosedAt)
		}
		if r, err := record.DecodeBinary(e.Raw[:]); err == nil {
			if tapped, err := citycard.TimeOf(r.Date, r.Time, citycard.ChinaTime); err == nil && cal.Day(tapped) < s.Cycle.Day {
				tappedEarlier++
				figs[t.cycle].Late++
			}
		}
		return nil
	})
	if err != nil {
		open.fail("reading the journal: %v", err)
	}
	for i := range stored {
		s := &stored[i]
		var from int64
		if i > 0 {
			from = stored[i-1].Cycle.Range.To
		}
		if s.Cycle.Range.From != from {
			open.fail("cycle %v: range %v, after the previous cycle's end %d", s.Cycle.Day, s.Cycle.Range, from)
		}
	}
	if n := len(stored); n > 0 && stored[n-1].Cycle.Range.To != last {
		open.fail("the last cycle, %v, ends at position %d; the journal at %d", stored[n-1].Cycle.Day, stored[n-1].Cycle.Range.To, last)
	}
	open.detail = fmt.Sprintf("%d journal positions, each taken by one of %d contiguous cycles, open when it was committed; %d records tapped on an earlier day (offline terminals, the last uploads) cleared in a later cycle",
		nTaken, len(stored), tappedEarlier)

	// Conservation across clearing, per operator.
	paid := map[string]int64{}
	for i := range stored {
		res := stored[i].Result
		if res == nil {
			continue
		}
		for _, p := range res.Positions {
			paid[p.Party] += p.NetFen
		}
		for _, ln := range res.Lines {
			paid[ln.Operator] += ln.FeeFen
		}
		for _, r := range res.Rounding {
			paid[r.Party] += r.BookedFen
		}
	}
	// Of the records pending their issuer, the answers rejected some
	// (reversed from the payable) and the cycles settled the accepted
	// (paid, above): what is left is pending still.
	for op, fen := range c.counterpart().rejectedOp {
		pending[op] -= fen
	}
	for op, fen := range greysPending {
		pending[op] += fen
	}
	for i := range stored {
		if res := stored[i].Result; res != nil {
			for _, ln := range res.Lines {
				if ln.Interop == clearing.InteropAccepted.String() {
					pending[ln.Operator] -= ln.GrossFen
				}
			}
		}
	}
	var sumPaid, sumLedger int64
	for _, o := range c.operators {
		b, err := l.Balance(ctx, ledger.Account{Type: ledger.OperatorPayable, Party: o.id})
		if err != nil {
			cons.fail("ledger balance of operator %s: %v", o.id, err)
			continue
		}
		moved := -b.NetFen()
		got := paid[o.id] + pending[o.id]
		sumPaid += paid[o.id]
		sumLedger += moved
		if got == moved {
			continue
		}
		msg := fmt.Sprintf("operator %s: the cycles paid it %d fen (and took %d fen pending their issuer), the ledger moved %d to its payable", o.id, paid[o.id], pending[o.id], moved)
		if d := firstDiffOf[o.id]; d != nil {
			if d.untaken {
				msg += fmt.Sprintf("; first record: journal position %d (terminal %v, %d fen, %v), taken by no cycle", d.pos, d.term, d.fen, d.journal)
			} else {
				msg += fmt.Sprintf("; first record: journal position %d (terminal %v, %d fen), journaled %v, given to its cycle as %v", d.pos, d.term, d.fen, d.journal, d.given)
			}
		} else {
			msg += "; every record was given to its cycle as journaled: the difference is in the clearing of them"
		}
		cons.fail("%s", msg)
	}
	cons.detail = fmt.Sprintf("%d operators: the cycles paid them %d fen (gross of fees), the ledger moved %d fen to their payables for the records the cycles took, less those pending their issuer",
		len(c.operators), sumPaid, sumLedger-sumOf(pending))
	return figs
}

func sumOf(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// firstDiff names the first position of two results that differs, or
// their totals.
func firstDiff(was, again *clearing.Result) string {
	if was.Claim != again.Claim {
		return fmt.Sprintf("claim %+v, again %+v", was.Claim, again.Claim)
	}
	if was.Cleared != again.Cleared {
		return fmt.Sprintf("cleared %+v, again %+v", was.Cleared, again.Cleared)
	}
	for i := 0; i < min(len(was.Positions), len(again.Positions)); i++ {
		if was.Positions[i] != again.Positions[i] {
			return fmt.Sprintf("position %+v, again %+v", was.Positions[i], again.Positions[i])
		}
	}
	return fmt.Sprintf("%d positions, again %d", len(was.Positions), len(again.Positions))
}

package city

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/interop/interoptest"
	"github.com/citycard/citycard/keys"
)

// The counterpart cities: the visiting issuers of the interconnection,
// each holding its own TAC keys (issuer.keys), which our back office does
// not. Each day, once its cycle is closed, our OUT file is exported
// (interop.Interop.Export) and each visiting issuer answers the records
// of its cards: each TAC verified under its own keys, each grey record
// confirmed on its balance (a G line) against its cards' histories (the
// records it verified: interoptest.Cards), accepted or rejected
// (FaultCounterpart makes it reject some genuine ones, late);
// the answers are imported, the rejected records reversed in the ledger,
// the accepted settled by the next cycle to close.

// InvInteropAnswered: every record of every OUT file exported is
// answered once by its issuer, as the counterpart answered it, and the
// records the counterpart rejected are exactly those reversed.
const InvInteropAnswered = "interop_answered"

// FaultCounterpart makes a counterpart city reject now and then a record
// of its cards whose TAC verifies (as late: the record came after the
// interconnection's time limit), and, in its INC files of our cards'
// records (travel.go), put a forged record or one it sent before, or
// send a file twice.
const FaultCounterpart Fault = "counterpart"

// counterpartRejectPM is the per mille of genuine records FaultCounterpart
// rejects.
const counterpartRejectPM = 50

// counterpart is what the counterpart cities answered over the run.
type counterpart struct {
	rng   *rand.Rand
	outs  []string // the OUT files exported, by day
	files int      // the answer files imported
	// answered is each OUT file's records as the counterpart answered
	// them: the reason, by the record's Seq (1-based).
	answered                                      map[string][]interop.Reason
	exported, accepted, rejected, byFault, forged interop.Totals
	// rejectedOf is the fen the counterpart rejected, by our operator
	// (the acquirer) and by issuer: what the ledger reversed.
	rejectedOp, rejectedIssuer map[string]int64
	// cards is each visiting issuer's view of its cards' histories.
	cards map[citycard.IssuerCode]*interoptest.Cards
	// greys counts the grey records (G lines) exported, and those the
	// issuers accepted.
	greys, greysAccepted interop.Totals
}

func (c *City) counterpart() *counterpart {
	if c.cp == nil {
		c.cp = &counterpart{rng: rngFor(c.cfg.Seed, "faults-counterpart"), answered: map[string][]interop.Reason{},
			rejectedOp: map[string]int64{}, rejectedIssuer: map[string]int64{}, cards: map[citycard.IssuerCode]*interoptest.Cards{}}
	}
	return c.cp
}

// exchangeInterop exports day d's OUT file from its closed cycle, has
// each visiting issuer answer its cards' records, and imports the
// answers. A failure is a violation.
func (c *City) exchangeInterop(ctx context.Context, d clearing.Day) {
	cp := c.counterpart()
	byFault := cp.byFault.Count
	defer func() {
		if n := cp.byFault.Count - byFault; n > 0 {
			c.faults[string(FaultCounterpart)] += n
		}
	}()
	_, x, err := c.interconnection(ctx)
	if err != nil {
		c.violate("interconnection of cycle %v: %v", d, err)
		return
	}
	out, err := x.Export(ctx, d)
	if err != nil {
		c.violate("exporting the OUT file of cycle %v: %v", d, err)
		return
	}
	f, err := interop.Decode("out", out)
	if err != nil {
		c.violate("the OUT file of cycle %v: %v", d, err)
		return
	}
	h := &f.Header
	cp.outs = append(cp.outs, h.ID)
	reasons := make([]interop.Reason, len(f.Clearing))
	cp.answered[h.ID] = reasons
	for ii := 1; ii < len(c.issuers); ii++ {
		is := &c.issuers[ii]
		ans := cp.answer(f, is.code, is.keys, c.cfg.has(FaultCounterpart))
		if len(ans.Answers) == 0 {
			continue
		}
		var acc, rej interop.Totals
		rejOp := map[string]int64{}
		for _, a := range ans.Answers {
			reasons[a.RefSeq-1] = a.Reason
			fen := int64(a.AmountFen)
			if a.Accepted {
				acc.Count, acc.AmountFen = acc.Count+1, acc.AmountFen+fen
			} else {
				rej.Count, rej.AmountFen = rej.Count+1, rej.AmountFen+fen
				rejOp[c.operatorOfTerminal(f.Clearing[a.RefSeq-1].Terminal)] += fen
			}
		}
		b, err := interop.Encode(ans)
		if err != nil {
			c.violate("the answer of issuer %v to %s: %v", is.code, h.ID, err)
			continue
		}
		imp, err := x.Import(ctx, ans.Header.ID+".txt", b)
		if err != nil {
			c.violate("importing the answer of issuer %v to %s: %v", is.code, h.ID, err)
			continue
		}
		if imp.Accepted != acc || imp.Rejected != rej {
			c.violate("the answer of issuer %v to %s: imported as %+v accepted, %+v rejected; it accepted %+v, rejected %+v", is.code, h.ID, imp.Accepted, imp.Rejected, acc, rej)
		}
		cp.files++
		cp.rejectedIssuer[is.code.String()] += rej.AmountFen
		for op, fen := range rejOp {
			cp.rejectedOp[op] += fen
		}
	}
	for i, reason := range reasons {
		fen := int64(f.Clearing[i].AmountFen)
		add := func(t *interop.Totals) { t.Count, t.AmountFen = t.Count+1, t.AmountFen+fen }
		add(&cp.exported)
		if f.Clearing[i].Grey {
			add(&cp.greys)
			if reason == interop.ReasonAccepted {
				add(&cp.greysAccepted)
			}
		}
		switch reason {
		case interop.ReasonAccepted:
			add(&cp.accepted)
		case interop.ReasonLate:
			add(&cp.rejected)
			add(&cp.byFault)
		default:
			add(&cp.rejected)
			add(&cp.forged)
		}
	}
}

// answer is issuer's answer to OUT file f, its TAC keys in store: each
// record of its cards verified by its TAC, each grey record against its
// cards' histories (interoptest.AnswerOf); with fault,
// counterpartRejectPM of those that verify rejected as late.
func (cp *counterpart) answer(f *interop.File, issuer citycard.IssuerCode, store keys.Store, fault bool) *interop.File {
	if cp.cards == nil {
		cp.cards = map[citycard.IssuerCode]*interoptest.Cards{}
	}
	if cp.cards[issuer] == nil {
		cp.cards[issuer] = &interoptest.Cards{}
	}
	return interoptest.AnswerOf(f, issuer, store, cp.cards[issuer], func(int) interop.Reason {
		if fault && cp.rng.IntN(1000) < counterpartRejectPM {
			return interop.ReasonLate
		}
		return interop.ReasonAccepted
	})
}

// interconnection returns the back office's cycles and their
// interconnection.
func (c *City) interconnection(ctx context.Context) (*clearing.Cycles, *interop.Interop, error) {
	cs, _, err := c.bo.Clearing(ctx)
	if err != nil {
		return nil, nil, err
	}
	x, ok := cs.Interconnect.(*interop.Interop)
	if !ok {
		return nil, nil, errors.New("the back office's cycles have no interconnection")
	}
	return cs, x, nil
}

// operatorOfTerminal is the operator of our terminal id ("" if none).
func (c *City) operatorOfTerminal(id citycard.TerminalID) string {
	for _, d := range c.devs {
		if d.id == id {
			return c.operators[d.op].id
		}
	}
	return ""
}

// checkInterop checks InvInteropAnswered against the interconnection's
// store: each OUT file the city exported holds the records it was
// exported with, each answered once, as the counterpart answered it.
func (c *City) checkInterop(ctx context.Context, v *inv) {
	cp := c.counterpart()
	_, x, err := c.interconnection(ctx)
	if err != nil {
		v.fail("the interconnection's store: %v", err)
		return
	}
	for _, id := range cp.outs {
		want := cp.answered[id]
		n := 0
		err := x.Store.Records(ctx, id, func(r *interop.Rec) error {
			n++
			if r.Seq < 1 || r.Seq > len(want) {
				v.fail("OUT file %s: record %d, past the %d exported", id, r.Seq, len(want))
				return nil
			}
			wantState := interop.Accepted
			if want[r.Seq-1] != interop.ReasonAccepted {
				wantState = interop.Rejected
			}
			if r.State != wantState || r.Reason != want[r.Seq-1] {
				v.fail("OUT file %s record %d (card %v, counter %d, %d fen): %v (%v), the issuer answered %v (%v)", id, r.Seq, r.ASN, r.Counter, r.AmountFen, r.State, r.Reason, wantState, want[r.Seq-1])
			}
			return nil
		})
		if err != nil {
			v.fail("OUT file %s: reading its records: %v", id, err)
		}
		if n != len(want) {
			v.fail("OUT file %s holds %d records, %d were exported", id, n, len(want))
		}
	}
	v.detail = fmt.Sprintf("%d OUT files of %d records (%d fen; %d grey records confirmed on their balance, %d fen) pending their issuer, each answered once by %d answer files of the counterpart cities: %d accepted (%d fen; %d grey, %d fen), %d rejected (%d fen: %d by the counterpart fault, %d forged or unconfirmed), reversed in the ledger",
		len(cp.outs), cp.exported.Count, cp.exported.AmountFen, cp.greys.Count, cp.greys.AmountFen, cp.files, cp.accepted.Count, cp.accepted.AmountFen,
		cp.greysAccepted.Count, cp.greysAccepted.AmountFen, cp.rejected.Count, cp.rejected.AmountFen, cp.byFault.Count, cp.forged.Count)
}

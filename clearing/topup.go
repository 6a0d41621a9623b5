package clearing

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
)

// TopUpMove is a remote top-up's money as clearing sees it: one ledger
// entry of card management's type topup (cms.EntryTopUp), moving
// AmountFen from the settlement account of Payer (the payment company,
// top-up agent or partner bank the cardholder paid through) to the
// top-up pending account of Issuer (the payment), or, negative, back
// (the refund of a top-up that expired unclaimed or that its payer
// asked back). Its claim onto the card is a load (Load), through the
// issuer itself.
type TopUpMove struct {
	Seq       int64     // the ledger entry's
	At        time.Time // the ledger entry's time
	TopUp     string    // the top-up's ID (cms.TopUpOfEntry)
	Card      string    // the entry's source: "card:ISSUER/ASN"
	Payer     string
	Issuer    string
	AmountFen int64
}

// topUpOf reads a top-up entry: one posting on the payer's settlement
// account, one on the issuer's top-up pending account, of opposite
// amounts, under a key that names its top-up. Kind Invalid.
func topUpOf(p *ledger.Posted) (TopUpMove, error) {
	const op = "clearing.topUpOf"
	id, refund, ok := cms.TopUpOfEntry(p.Key)
	if !ok {
		return TopUpMove{}, citycard.E(op, citycard.Invalid, "ledger entry %d (%s): a top-up entry whose key names no top-up", p.Seq, p.Key)
	}
	m := TopUpMove{Seq: p.Seq, At: p.Time, TopUp: id, Card: p.Source}
	var pending int64
	for _, q := range p.Postings {
		switch {
		case q.Account.Type == ledger.Settlement && m.Payer == "":
			m.Payer, m.AmountFen = q.Account.Party, q.AmountFen
		case q.Account.Type == ledger.TopUpPending && m.Issuer == "":
			m.Issuer, pending = q.Account.Party, q.AmountFen
		default:
			return TopUpMove{}, citycard.E(op, citycard.Invalid, "ledger entry %d (%s): a top-up posting to %v: want one settlement account and one top-up pending account", p.Seq, p.Key, q.Account)
		}
	}
	if m.Payer == "" || m.Issuer == "" || m.AmountFen != -pending || m.AmountFen == 0 || refund != (m.AmountFen < 0) {
		return TopUpMove{}, citycard.E(op, citycard.Invalid, "ledger entry %d (%s): want one settlement posting and one top-up pending posting of opposite amounts, in for a payment and out for a refund", p.Seq, p.Key)
	}
	return m, nil
}

// TopUpLine is what one payer collected in a cycle for remote top-ups
// onto one issuer's cards, and owes it: Paid top-ups of PaidFen, less
// Refunded ones of RefundedFen (expired unclaimed, or asked back: paid
// back to the cardholder through the payer, so netted against what it
// owes, whichever cycle took the payment), and the commission the
// collector pays the payer under Rule of its commission schedule
// ("none" for none), each payment's rounded the way Config.Rounding
// says and a refund taking back exactly what its payment earned, with
// RemainderMicro what rounding left (booked with the payer's rounding,
// negated, as a channel's on loads). The payer's net for the line is
// CommissionFen - NetFen().
type TopUpLine struct {
	Payer          string
	Issuer         string
	Rule           string
	Paid           int64
	PaidFen        int64
	Refunded       int64
	RefundedFen    int64
	CommissionFen  int64
	RemainderMicro int64
}

// NetFen is what the payer owes the issuer for the line: paid less
// refunded.
func (l *TopUpLine) NetFen() int64 { return l.PaidFen - l.RefundedFen }

// topUps moves the cycle's remote top-ups into pos (each payer owes the
// issuer what it collected, less what it refunded) and returns their
// lines with the payers' commissions; Result.TopUpsPaid and
// TopUpsRefunded count them all. A top-up paid through the issuer
// itself (a bank card acquired by the issuer's own bank) moves no
// position and earns no commission, as a load at its own counter.
// Kind Invalid for a move outside the claim, out of Seq order, of 0
// fen or beyond 2^32.
func (c *Clearer) topUps(op string, in *Input, res *Result, pos positions) ([]TopUpLine, error) {
	type key struct{ payer, issuer string }
	lines := map[key]*TopUpLine{}
	prev := in.LoadClaim.From
	for i := range in.TopUps {
		m := &in.TopUps[i]
		if m.Seq <= prev || m.Seq > in.LoadClaim.To {
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: top-up at ledger entry %d: want one in %v, in Seq order", in.Day, m.Seq, in.LoadClaim.Range)
		}
		prev = m.Seq
		if m.AmountFen == 0 || m.AmountFen > math.MaxUint32 || m.AmountFen < -math.MaxUint32 || m.Payer == "" || m.Issuer == "" {
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: top-up at ledger entry %d of %d fen through %q for %q's cards", in.Day, m.Seq, m.AmountFen, m.Payer, m.Issuer)
		}
		if m.AmountFen > 0 {
			res.TopUpsPaid.add(m.AmountFen)
		} else {
			res.TopUpsRefunded.add(-m.AmountFen)
		}
		if m.Payer == m.Issuer {
			continue
		}
		pos.move(m.Payer, m.Issuer, m.AmountFen)
		k := key{m.Payer, m.Issuer}
		l := lines[k]
		if l == nil {
			l = &TopUpLine{Payer: m.Payer, Issuer: m.Issuer, Rule: noRuleName}
			lines[k] = l
		}
		rule, fen, rem := c.channelCommission(m.Payer, m.AmountFen)
		l.Rule = ruleName(rule)
		if m.AmountFen > 0 {
			l.Paid++
			l.PaidFen += m.AmountFen
		} else {
			l.Refunded++
			l.RefundedFen -= m.AmountFen
		}
		l.CommissionFen += fen
		l.RemainderMicro += rem
	}
	out := make([]TopUpLine, 0, len(lines))
	for _, l := range lines {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b TopUpLine) int {
		return cmp.Or(strings.Compare(a.Payer, b.Payer), strings.Compare(a.Issuer, b.Issuer))
	})
	return out, nil
}

// channelCommission returns the rule of channel's commission schedule
// that charges a load or top-up of amountFen through it (nil for none)
// and the commission, signed as amountFen (a reversal or refund takes
// back what its load or payment earned), with its remainder.
func (c *Clearer) channelCommission(channel string, amountFen int64) (r *FeeRule, fen, remMicro int64) {
	s := c.commissions[channel]
	ri := s.rule(0, 0, 0)
	if ri == noRule {
		return nil, 0, 0
	}
	r = &s.Rules[ri]
	fen, remMicro = r.Fee(abs(amountFen), c.cfg.Rounding)
	if amountFen < 0 {
		fen, remMicro = -fen, -remMicro
	}
	return r, fen, remMicro
}

// ruleName is r's name, "none" for none.
func ruleName(r *FeeRule) string {
	if r == nil {
		return noRuleName
	}
	return r.Name
}

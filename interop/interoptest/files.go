package interoptest

import (
	"math"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// Answer is the city's answer, as its cards' issuer, to OUT file out
// (another city's records of its cards): each record of its cards
// verified by its TAC under the city's own keys, accepted, or rejected
// with the reason (a forged TAC, a key version it does not hold); each
// grey record confirmed on its balance (a G line) verified against its
// cards' histories, which the city keeps from every answer it makes
// (Cards). Records of other issuers' cards are not its to answer. The
// answer is addressed to out's sender, an hour after out was made. Kinds
// of interop.Decode and interop.Encode.
func (c *City) Answer(out []byte) ([]byte, error) {
	const op = "interoptest.City.Answer"
	f, err := interop.Decode("out", out)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if c.cards == nil {
		c.cards = &Cards{}
	}
	return interop.Encode(AnswerOf(f, c.Code, c.Store, c.cards, nil))
}

// Cards is what an issuer knows of its cards' histories: the taps of
// them it verified by their TACs (in the OUT files it answered), by card
// and counter. A grey record, which has no TAC, is verified against it:
// the card's debit happened if its record at the next counter begins at
// the balance the grey debit left, and no other tap took the grey's
// counter. The zero value is empty, ready to use.
type Cards struct {
	taps map[cardCounter][]cardTap
}

type cardCounter struct {
	asn     citycard.ASN
	counter uint16
}

// cardTap is one verified tap of a card at a counter.
type cardTap struct {
	terminal  citycard.TerminalID
	seq       uint32
	beforeFen int32
}

func (cs *Cards) add(cl *interop.Clearing) {
	if cs.taps == nil {
		cs.taps = map[cardCounter][]cardTap{}
	}
	k := cardCounter{cl.ASN, cl.Counter}
	cs.taps[k] = append(cs.taps[k], cardTap{terminal: cl.Terminal, seq: cl.TerminalSeq, beforeFen: cl.BalanceBeforeFen})
}

// confirms reports whether the histories confirm grey record cl: a tap
// at its counter + 1 begins at the balance it left, and every tap at its
// counter is its own.
func (cs *Cards) confirms(cl *interop.Clearing) bool {
	for _, t := range cs.taps[cardCounter{cl.ASN, cl.Counter}] {
		if t.terminal != cl.Terminal || t.seq != cl.TerminalSeq {
			return false
		}
	}
	if cl.Counter == math.MaxUint16 {
		return false
	}
	for _, t := range cs.taps[cardCounter{cl.ASN, cl.Counter + 1}] {
		if int64(t.beforeFen) == int64(cl.BalanceBeforeFen)-int64(cl.AmountFen) {
			return true
		}
	}
	return false
}

// AnswerOf is issuer's answer to OUT file f, as City.Answer makes it,
// its TAC keys in store, its cards' histories in cards (nil: the file's
// own records only): each record of its cards verified by its TAC,
// accepted or rejected with the reason, and each grey record (G line) of
// its cards verified against the histories, with the file's records
// whose TACs verify added to them first (a grey and the record that
// confirms it are usually sent together): confirmed, accepted; not,
// rejected unconfirmed (ReasonUnconfirmed). Reject, if not nil, is asked
// of each record that verifies (by its index in f.Clearing): a reason
// other than ReasonAccepted rejects it all the same, as an issuer does
// for reasons of its own (a record too late, a card it had blacklisted).
// The grey records it accepts join the histories.
func AnswerOf(f *interop.File, issuer citycard.IssuerCode, store keys.Store, cards *Cards, reject func(i int) interop.Reason) *interop.File {
	h := &f.Header
	v := record.NewVerifier(store, issuer)
	if cards == nil {
		cards = &Cards{}
	}
	ans := &interop.File{Header: interop.Header{Type: interop.FileAnswer, ID: "ANS-" + issuer.String() + "-" + h.Day.String(), Sender: issuer,
		Receiver: h.Sender, Day: h.Day, Created: h.Created.Add(time.Hour), Refers: h.ID}}
	reasons := make([]interop.Reason, len(f.Clearing))
	for i := range f.Clearing {
		cl := &f.Clearing[i]
		if cl.Issuer != issuer || cl.Grey {
			continue
		}
		r := cl.Record()
		if err := v.VerifyTAC(&r); citycard.IsKind(err, citycard.KeyMissing) {
			reasons[i] = interop.ReasonKey
		} else if err != nil {
			reasons[i] = interop.ReasonTAC
		} else {
			cards.add(cl)
		}
	}
	for i := range f.Clearing {
		cl := &f.Clearing[i]
		if cl.Issuer != issuer {
			continue
		}
		if cl.Grey && !cards.confirms(cl) {
			reasons[i] = interop.ReasonUnconfirmed
		}
		if reasons[i] == interop.ReasonAccepted && reject != nil {
			reasons[i] = reject(i)
		}
		if cl.Grey && reasons[i] == interop.ReasonAccepted {
			cards.add(cl)
		}
		ans.Answers = append(ans.Answers, interop.Answer{RefSeq: i + 1, Accepted: reasons[i] == interop.ReasonAccepted, Reason: reasons[i],
			Issuer: cl.Issuer, ASN: cl.ASN, Counter: cl.Counter, AmountFen: cl.AmountFen})
	}
	return ans
}

// Incoming writes the INC file of day d for receiver: the records recs
// its terminals took of receiver's cards (sealed records, as they
// uploaded them), made at created. Its ID is INC-CODE-YYYYMMDD. Kind
// Invalid for a record that does not decode.
func (c *City) Incoming(receiver citycard.IssuerCode, d interop.Day, created time.Time, recs [][]byte) ([]byte, error) {
	const op = "interoptest.City.Incoming"
	f := &interop.File{Header: interop.Header{Type: interop.FileIncoming, ID: "INC-" + c.Code.String() + "-" + d.String(), Sender: c.Code,
		Receiver: receiver, Day: d, Created: created}}
	for _, b := range recs {
		r, err := record.DecodeBinary(b)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, err)
		}
		cl, err := interop.ClearingOf(&r)
		if err != nil {
			return nil, err
		}
		f.Clearing = append(f.Clearing, cl)
	}
	return interop.Encode(f)
}

// AnswerCases is the city's answer to our ERR or DSP file b (the cases
// another city raised about records it is party to): each record echoed,
// accepted unless reject (by its index in the file) gives a reason other
// than ReasonAccepted. Addressed to b's sender, an hour after b was made;
// its ID is ANS-<b's ID>. Kinds of interop.Decode and interop.Encode.
func (c *City) AnswerCases(b []byte, reject func(i int) interop.Reason) ([]byte, error) {
	const op = "interoptest.City.AnswerCases"
	f, err := interop.Decode("cases", b)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	h := &f.Header
	ans := &interop.File{Header: interop.Header{Type: interop.FileAnswer, ID: interop.AnswerID(h.ID), Sender: c.Code,
		Receiver: h.Sender, Day: h.Day, Created: h.Created.Add(time.Hour), Refers: h.ID}}
	add := func(i int, issuer citycard.IssuerCode, asn citycard.ASN, counter uint16, fen uint32) {
		reason := interop.ReasonAccepted
		if reject != nil {
			reason = reject(i)
		}
		ans.Answers = append(ans.Answers, interop.Answer{RefSeq: i + 1, Accepted: reason == interop.ReasonAccepted, Reason: reason,
			Issuer: issuer, ASN: asn, Counter: counter, AmountFen: fen})
	}
	for i, e := range f.Errors {
		add(i, e.Issuer, e.ASN, e.Counter, e.AmountFen)
	}
	for i, d := range f.Disputes {
		add(i, d.Issuer, d.ASN, d.Counter, d.AmountFen)
	}
	return interop.Encode(ans)
}

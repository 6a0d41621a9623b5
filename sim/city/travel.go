package city

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// Our cards travelling (issue 12). Now and then a rider of one of our
// MoT cards spends a day in a visiting city and taps there, on that
// city's terminal (a counterpart terminal: a terminal.Terminal whose
// PSAM, from that city's own vendor, holds the national interconnection
// key of interconnectVersion and that city's operator record key, and
// no key of ours), which spools its records in memory. After our cycle
// of the day closes, each city sends us the INC file of the day's
// records of our cards (INC-CODE-YYYYMMDD, made as interoptest's
// Incoming makes one), which we import through the same
// interop.Interop the OUT files go through: each TAC verified under our
// keys, the accepted booked from our card float to the city's
// receivable, settled by the next cycle. With FaultCounterpart a city
// now and then sends its INC file twice (a no-op), puts in it a forged
// copy of one of its records (its TAC changed: answered tac) or a record
// it sent in an earlier INC file (answered duplicate).

// InvIncomingAnswered: every record of every INC file the counterpart
// cities sent is answered once, the genuine accepted, the forged and
// the duplicates rejected with their reason; the ledger booked the
// accepted (EntryIncoming) and a later cycle settled each file.
const InvIncomingAnswered = "interop_incoming_answered"

// travelOneIn: one of our MoT riders in this many travels on a day (at
// least one a day when any may).
const travelOneIn = 300

// The amounts of a tap in another city, in fen, and its taps a day.
const (
	travelMinFen, travelMaxFen = 200, 600
	travelTapsMax              = 4
)

// TravelFigures are what our cards did in the counterpart cities.
type TravelFigures struct {
	Travellers  int64  `json:"travellers"`   // rider-days spent in another city
	Taps        int64  `json:"taps"`         // taps there the card committed
	TapsFen     int64  `json:"taps_fen"`     // what they debited
	Refused     counts `json:"taps_refused"` // taps the counterpart terminal refused, by reason
	IncFiles    int64  `json:"inc_files"`    // INC files imported
	IncResent   int64  `json:"inc_files_sent_twice"`
	Records     int64  `json:"inc_records"` // records in the INC files
	Accepted    int64  `json:"inc_accepted"`
	AcceptedFen int64  `json:"inc_accepted_fen"`
	Rejected    counts `json:"inc_rejected"` // by reason
	// Lost are the cards reported lost after they travelled: their
	// balance moved or refunded less their purchases elsewhere.
	Lost int64 `json:"lost_after_travel"`
}

// travel is the counterpart cities' terminals and what their INC files
// held.
type travel struct {
	rng   *rand.Rand // the counterpart fault's draws
	terms []*travelTerm
	today map[int32]bool     // the riders travelling today: no tears
	sent  []interop.Clearing // the records accepted in every earlier INC file
	lost  bool               // Config.LoseIncoming's INC file lost
	// The INC files imported, in order; of each, the reason we expect
	// for each record.
	files []incFile
	// acceptedOf is the fen accepted of each of our riders' taps
	// elsewhere; incomingOf the fen accepted of each counterpart's, by
	// issuer index.
	acceptedOf map[int32]int64
	incomingOf map[int]int64
}

// incFile is one INC file sent: its records' expected answers.
type incFile struct {
	id   string
	day  clearing.Day
	want []interop.Reason
	fen  int64 // the accepted's
}

// travelTerm is a counterpart city's terminal.
type travelTerm struct {
	issuer int // index into City.issuers
	id     citycard.TerminalID
	term   *terminal.Terminal
	spool  *memSpool
	sent   []interop.Clearing // records accepted in its earlier INC files
}

// memSpool is a counterpart terminal's spool: in memory, each record
// with the rider who tapped it.
type memSpool struct {
	c    *City
	seq  uint64
	recs []spooled
}

type spooled struct {
	seq   uint64
	raw   []byte
	rider int32
}

func (s *memSpool) Append(rec []byte) (uint64, error) {
	s.seq++
	s.recs = append(s.recs, spooled{seq: s.seq, raw: append([]byte(nil), rec...), rider: s.c.cur})
	return s.seq, nil
}

func (s *memSpool) Ack(seqs ...uint64) error {
	for _, q := range seqs {
		for i := range s.recs {
			if s.recs[i].seq == q {
				s.recs = append(s.recs[:i], s.recs[i+1:]...)
				break
			}
		}
	}
	return nil
}

// take returns the records spooled and empties the spool.
func (s *memSpool) take() []spooled {
	r := s.recs
	s.recs = nil
	return r
}

// buildCounterparts gives each visiting city its HSM's copy of the
// national key (from the national key ceremony), its operator's record
// key and its PSAM vendor's transport key, and one terminal: a blank
// PSAM from that vendor, personalized with the national key and the
// record key only, at a terminal ID in the city's range.
func (c *City) buildCounterparts(national []byte, put func(*keys.MemStore, keys.Ref, []byte) error) error {
	const op = "city.buildCounterparts"
	rng := rngFor(c.cfg.Seed, "keys-counterpart")
	tv := &travel{rng: rngFor(c.cfg.Seed, "faults-incoming"), acceptedOf: map[int32]int64{}, incomingOf: map[int]int64{}}
	nref := keys.Ref{Issuer: nationalIssuer, Type: keys.KeyPurchase, Version: interconnectVersion}
	for ii := 1; ii < len(c.issuers); ii++ {
		is := &c.issuers[ii]
		cc := [2]byte{is.code[0], is.code[1]}
		opCode := citycard.IssuerCode{cc[0], cc[1], 0x09, 0x00, 0x01, 0xFF, 0xFF, 0xFF}
		tref := keys.Ref{Issuer: is.code, Type: keys.KeyTransport, Version: 1}
		tk := randomKey(rng)
		err := put(is.keys, nref, national)
		if err == nil {
			err = put(is.keys, keys.Ref{Issuer: opCode, Type: keys.KeyRecord, Version: 1}, randomKey(rng))
		}
		if err == nil {
			err = put(is.keys, tref, tk)
		}
		if err != nil {
			return err
		}
		v, err := terminal.NewPSAMVendor(tref, c.cfg.Alg, tk)
		clear(tk)
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		t := &travelTerm{issuer: ii, id: citycard.TerminalID{cc[0], cc[1], 0x20, 0x00, 0x00, 0x01}, spool: &memSpool{c: c}}
		psamID := citycard.PSAMID{cc[0], cc[1], 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x01}
		psam := v.NewPSAM(psamID)
		pk := terminal.PSAMKeys{Operator: opCode, RecordKeyVersion: 1, National: []keys.Ref{nref}}
		if err := terminal.ProvisionPSAM(is.keys, psam, t.id, pk, 1); err != nil {
			return err
		}
		t.term, err = terminal.New(terminal.Config{
			PSAM: psam, PSAMID: psamID, RecordKeyVersion: 1, Mode: terminal.ModePOS, Fare: terminal.FlatFare{},
			Spool: t.spool, KeyVersions: []uint8{interconnectVersion}, MaintenanceKeyVersion: interconnectVersion, Now: c.now,
		})
		if err != nil {
			return err
		}
		tv.terms = append(tv.terms, t)
	}
	c.travel = tv
	return nil
}

// mayTravel reports whether rider r may spend a day in another city: one
// of our MoT cards (the interconnection's key set), in use, never
// reported lost, refunded or replaced, and never torn: a grey record
// whose card's next transaction is a tap elsewhere would be decided by
// no record here, and the city's grey check expects the record of the
// next counter here (check.go).
func (r *rider) mayTravel() bool {
	return r.issuer == 0 && r.profile == card.ProfileMoT && r.lostOn < 0 && !r.handedIn() &&
		r.replacedBy == -1 && r.replaces < 0 && r.cutRefund == cutRefundNone && !r.greyed
}

// planTravel draws the day's travellers and their taps in the other
// cities: travelOneIn of the riders who may travel, at least one when
// any may. A traveller loads at a counter in the morning if the balance
// runs low, then taps 1 to travelTapsMax times on one counterpart
// city's terminal, between 09:00 and 20:00, instead of their day here.
func (c *City) planTravel(p *planner) map[int32]bool {
	tv := c.travel
	rng := rngFor(c.cfg.Seed, "travel", uint64(p.day))
	var may, going []int32
	for ri, r := range c.riders {
		if r.mayTravel() {
			may = append(may, int32(ri))
			if rng.IntN(travelOneIn) == 0 {
				going = append(going, int32(ri))
			}
		}
	}
	if len(going) == 0 && len(may) > 0 {
		going = append(going, may[rng.IntN(len(may))])
	}
	tv.today = map[int32]bool{}
	for _, ri := range going {
		tv.today[ri] = true
		c.fig.Travel.Travellers++
		p.counterLoad(ri, int64(420+rng.IntN(60))*60)
		k, trip := int32(rng.IntN(len(tv.terms))), p.newTrip()
		t := int64(540+rng.IntN(60)) * 60
		for n := 1 + rng.IntN(travelTapsMax); n > 0 && t < 20*3600; n-- {
			fen := travelMinFen + 10*rng.IntN((travelMaxFen-travelMinFen)/10+1)
			p.add(t, evTap, stepTravel, ri, trip, k, uint32(fen))
			t += int64(30+rng.IntN(120)) * 60
		}
	}
	return tv.today
}

// travelling reports whether rider ri spends today in another city.
func (c *City) travelling(ri int32) bool { return c.travel != nil && c.travel.today[ri] }

// travelTap taps rider ri's card on counterpart k's terminal for fen. A
// refusal for the balance or the card's expiry ends the trip; any other
// error is a violation.
func (c *City) travelTap(ri int32, k int, fen uint32) bool {
	r, t := c.riders[ri], c.travel.terms[k]
	c.fig.Taps++
	c.cur = ri
	defer func() { c.cur = -1 }()
	res, err := t.term.Tap(r.card, fen)
	switch {
	case citycard.IsKind(err, citycard.Insufficient):
		c.fig.Travel.Refused["insufficient_balance"]++
		return false
	case errors.Is(err, terminal.ErrExpired):
		c.fig.Travel.Refused["expired"]++
		return false
	case err != nil:
		c.violate("card %v at %s's terminal %v: %v", r.asn, c.issuers[t.issuer].name, t.id, err)
		return false
	case res.Grey || res.Record.KeyVersion != interconnectVersion:
		c.violate("card %v at %s's terminal %v: a grey record (%v) or one of key version %d", r.asn, c.issuers[t.issuer].name, t.id, res.Grey, res.Record.KeyVersion)
		return false
	}
	r.balance, r.travelled = res.BalanceAfter, true
	c.fig.Travel.Taps++
	c.fig.Travel.TapsFen += int64(fen)
	return true
}

// With FaultCounterpart the INC files take the counterpart's faults in
// turn, so that any three in a row have each: a forged record in the
// first, a record sent before in the second (if the city sent one),
// the third sent twice.
const (
	incomingForged = iota
	incomingResent
	incomingTwice
	incomingFaults
)

// exchangeIncoming has each counterpart city send the INC file of day
// d's records of our cards, and imports it. A failure is a violation.
func (c *City) exchangeIncoming(ctx context.Context, d clearing.Day) {
	tv := c.travel
	_, x, err := c.interconnection(ctx)
	if err != nil {
		c.violate("the INC files of day %v: %v", d, err)
		return
	}
	fault := c.cfg.has(FaultCounterpart)
	for _, t := range tv.terms {
		recs := t.spool.take()
		if len(recs) == 0 {
			continue
		}
		if c.cfg.LoseIncoming && !tv.lost {
			tv.lost = true // Config.LoseIncoming: this file never comes
			continue
		}
		is := &c.issuers[t.issuer]
		f := &interop.File{Header: interop.Header{Type: interop.FileIncoming, ID: "INC-" + is.code.String() + "-" + interop.Day(d).String(), Sender: is.code,
			Receiver: Issuer, Day: interop.Day(d), Created: c.now()}}
		var want []interop.Reason
		var riders []int32 // by record, -1 for none of ours to count
		var genuine []interop.Clearing
		turn := -1
		if fault {
			turn = len(tv.files) % incomingFaults
		}
		forgeAt := -1
		if turn == incomingForged {
			forgeAt = tv.rng.IntN(len(recs))
		}
		for i, s := range recs {
			r, err := record.DecodeBinary(s.raw)
			var cl interop.Clearing
			if err == nil {
				cl, err = interop.ClearingOf(&r)
			}
			if err != nil {
				c.violate("%s's terminal %v spooled a record of card %v it cannot send: %v", is.name, t.id, c.riderASN(s.rider), err)
				continue
			}
			if i == forgeAt {
				// A forged copy before the genuine record: its TAC made
				// up. (After it, it would be answered a duplicate.)
				fc := cl
				fc.TAC[0] ^= 0x5A
				f.Clearing, want, riders = append(f.Clearing, fc), append(want, interop.ReasonTAC), append(riders, -1)
				c.fault(FaultCounterpart)
			}
			f.Clearing, want, riders = append(f.Clearing, cl), append(want, interop.ReasonAccepted), append(riders, s.rider)
			genuine = append(genuine, cl)
		}
		sent := t.sent
		if len(sent) == 0 {
			sent = tv.sent
		}
		if turn == incomingResent && len(sent) > 0 {
			// One of its own earlier records, or if it sent none, one
			// another city sent before.
			f.Clearing = append(f.Clearing, sent[tv.rng.IntN(len(sent))])
			want, riders = append(want, interop.ReasonDuplicate), append(riders, -1)
			c.fault(FaultCounterpart)
		}
		b, err := interop.Encode(f)
		if err != nil {
			c.violate("the INC file %s: %v", f.Header.ID, err)
			continue
		}
		name := f.Header.ID + ".txt"
		imp, err := x.Import(ctx, name, b)
		if err != nil {
			c.violate("importing the INC file %s: %v", f.Header.ID, err)
			continue
		}
		tv.files = append(tv.files, incFile{id: f.Header.ID, day: d, want: want})
		inc := &tv.files[len(tv.files)-1]
		c.fig.Travel.IncFiles++
		c.fig.Travel.Records += int64(len(f.Clearing))
		t.sent, tv.sent = append(t.sent, genuine...), append(tv.sent, genuine...)
		ans, err := interop.Decode("ans", imp.Answer)
		if err != nil || len(ans.Answers) != len(f.Clearing) {
			c.violate("our answer to the INC file %s: %v (%d answers to %d records)", f.Header.ID, err, len(ans.Answers), len(f.Clearing))
			continue
		}
		var acc interop.Totals
		for i, a := range ans.Answers {
			fen := int64(a.AmountFen)
			if a.Reason != want[i] {
				c.violate("the INC file %s record %d (card %v, counter %d, %d fen): answered %v, the city expected %v", f.Header.ID, i+1, a.ASN, a.Counter, fen, a.Reason, want[i])
			}
			if !a.Accepted {
				c.fig.Travel.Rejected[a.Reason.String()]++
				continue
			}
			acc.Count, acc.AmountFen = acc.Count+1, acc.AmountFen+fen
			c.fig.Travel.Accepted++
			c.fig.Travel.AcceptedFen += fen
			inc.fen += fen
			tv.incomingOf[t.issuer] += fen
			if riders[i] >= 0 {
				tv.acceptedOf[riders[i]] += fen
			}
		}
		if imp.Accepted != acc || imp.Already {
			c.violate("the INC file %s: imported as %+v accepted (again: %v), its answer accepts %+v", f.Header.ID, imp.Accepted, imp.Already, acc)
		}
		if turn == incomingTwice {
			// Sent again: the same file is a no-op.
			again, err := x.Import(ctx, name, b)
			if err != nil || !again.Already {
				c.violate("the INC file %s sent again: %v (already %v)", f.Header.ID, err, err == nil && again.Already)
			}
			c.fig.Travel.IncResent++
			c.fault(FaultCounterpart)
		}
	}
}

// checkIncoming checks InvIncomingAnswered against the interconnection's
// store, the ledger and the closed cycles.
func (c *City) checkIncoming(ctx context.Context, v *inv) {
	tv := c.travel
	cs, x, err := c.interconnection(ctx)
	if err != nil {
		v.fail("the interconnection's store: %v", err)
		return
	}
	takenBy := map[string][]clearing.Day{}
	for _, cr := range c.cycles {
		s, err := cs.Cycle(ctx, cr.day)
		if err != nil {
			v.fail("cycle %v: %v", cr.day, err)
			return
		}
		if s.Cycle.State == clearing.Closed && s.Result != nil {
			for _, id := range s.Result.InteropFiles {
				takenBy[id] = append(takenBy[id], s.Cycle.Day)
			}
		}
	}
	var records, booked int64
	for _, f := range tv.files {
		n := 0
		err := x.Store.Records(ctx, f.id, func(r *interop.Rec) error {
			n++
			if r.Seq < 1 || r.Seq > len(f.want) {
				v.fail("INC file %s: record %d, past the %d sent", f.id, r.Seq, len(f.want))
				return nil
			}
			want, wantState := f.want[r.Seq-1], interop.Rejected
			if want == interop.ReasonAccepted {
				wantState = interop.Accepted
			}
			if r.State != wantState || r.Reason != want {
				v.fail("INC file %s record %d (card %v, counter %d, %d fen): %v (%v), the city expected %v (%v)", f.id, r.Seq, r.ASN, r.Counter, r.AmountFen, r.State, r.Reason, wantState, want)
			}
			return nil
		})
		if err != nil {
			v.fail("INC file %s: reading its records: %v", f.id, err)
		}
		if n != len(f.want) {
			v.fail("INC file %s holds %d records, %d were sent", f.id, n, len(f.want))
		}
		records += int64(n)
		es, err := c.bo.Ledger().EntriesBySource(ctx, f.id, 1000)
		if err != nil {
			v.fail("INC file %s: its ledger entries: %v", f.id, err)
		}
		var fen int64
		for _, e := range es {
			if e.Type == interop.EntryIncoming {
				for _, p := range e.Postings {
					fen += max(p.AmountFen, 0)
				}
			}
		}
		booked += fen
		if fen != f.fen {
			v.fail("INC file %s: the ledger booked %d fen incoming, its accepted records are %d fen", f.id, fen, f.fen)
		}
		switch by := takenBy[f.id]; {
		case len(by) != 1:
			v.fail("INC file %s (day %v) taken by %d closed cycles (%v), not one", f.id, f.day, len(by), by)
		case by[0] <= f.day:
			v.fail("INC file %s (day %v) settled by the cycle of %v, not a later one", f.id, f.day, by[0])
		default:
			st, err := x.SettlingOf(ctx, []string{f.id})
			var settled int64
			for _, s := range st {
				for _, r := range s.Records {
					if r.Move == clearing.InteropIncoming && r.Issuer == Issuer.String() {
						settled += r.AmountFen
					}
				}
			}
			if err != nil || settled != f.fen {
				v.fail("INC file %s: the cycle of %v settles %d fen of our cards' records, %d were accepted (%v)", f.id, by[0], settled, f.fen, err)
			}
		}
	}
	fig := &c.fig.Travel
	v.detail = fmt.Sprintf("%d rider-days in other cities, %d taps there (%d fen); %d INC files (%d sent twice, no-ops) of %d records, each answered once: %d accepted (%d fen, booked %d fen incoming, each file settled by a later cycle), %d rejected (%s)",
		fig.Travellers, fig.Taps, fig.TapsFen, fig.IncFiles, fig.IncResent, records, fig.Accepted, fig.AcceptedFen, booked, total(fig.Rejected), orNone(joinCounts64(fig.Rejected)))
}

// total is the sum of counts.
func total(cs counts) int64 {
	var n int64
	for _, v := range cs {
		n += v
	}
	return n
}

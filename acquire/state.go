package acquire

import (
	"math"
	"slices"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/record"
)

// cardID identifies a card application: issuer and ASN.
type cardID struct {
	issuer citycard.IssuerCode
	asn    citycard.ASN
}

// span is an inclusive range of missing counters or sequences. after is
// the balance before of the record just above it (at hi+1): the balance
// the card had after counter hi, which tells whether a grey record at hi
// really debited; noBalance where it is not known (a terminal's sequence,
// the loads' counter, a gap opened below the first record seen).
type span struct {
	lo, hi uint32
	after  int64
}

// noBalance marks a balance not known.
const noBalance int64 = math.MinInt64

// maxSpans bounds the open gaps of one track. A track never forgets a
// gap: forgetting one would answer a genuine record "duplicate" (lost),
// and guessing the other way would book a true duplicate twice. The bound
// is therefore one the track cannot reach unnoticed:
//   - a card's counters are 16 bits wide, so a card's track holds at most
//     2^15 spans (every other value missing), under maxSpans: a card is
//     always decided exactly, at a cost of 8 bytes a span (256 KiB in the
//     worst case, which takes 32,768 genuine records of one card
//     outstanding out of order; a typical card has no gap at all);
//   - a terminal's sequence is 32 bits wide, so its track could grow past
//     any bound; a batch that could take its terminal past maxSpans is
//     refused whole before it is decided (kind Conflict: staff must look
//     at a PSAM whose sequence has 65,536 holes), and the terminal keeps
//     it queued. See Acquirer.classify.
const maxSpans = 1 << 16

// gaps is a sorted list of disjoint spans.
type gaps []span

// take removes v from the gaps and reports whether it was missing, and the
// balance known after v (the span's after when v was its top, else
// noBalance). before is the balance before of v's record, which becomes
// the after of the span below v.
func (g *gaps) take(v uint32, before int64) (bool, int64) {
	s := *g
	i, found := slices.BinarySearchFunc(s, v, func(sp span, v uint32) int {
		switch {
		case sp.hi < v:
			return -1
		case sp.lo > v:
			return 1
		}
		return 0
	})
	if !found {
		return false, noBalance
	}
	sp := s[i]
	above := noBalance
	if v == sp.hi {
		above = sp.after
	}
	switch {
	case sp.lo == sp.hi:
		*g = slices.Delete(s, i, i+1)
	case v == sp.lo:
		s[i].lo++
	case v == sp.hi:
		s[i].hi--
		s[i].after = before
	default:
		*g = slices.Insert(s, i+1, span{v + 1, sp.hi, sp.after})
		(*g)[i].hi, (*g)[i].after = v-1, before
	}
	return true, above
}

// add appends a span above every existing one.
func (g *gaps) add(lo, hi uint32, after int64) { *g = append(*g, span{lo, hi, after}) }

// track remembers which values of a counter (a card's offline or online
// counter, a terminal's sequence) were seen: every value from floor to
// last, except the open gaps. A value past last is new (and opens a gap if
// it skips); one below floor is new too (an older record arriving after
// newer ones: the values between it and floor become a gap, silently, since
// the back office never saw them as missing); one in a gap fills it; any
// other was seen before.
type track struct {
	floor, last int64 // -1: nothing seen
	// gaps is nil while nothing is missing, as for almost every card: a
	// pointer costs 8 bytes a track where a slice costs 24.
	gaps *gaps
}

// spans returns the open gaps (nil if none).
func (t *track) spans() gaps {
	if t.gaps == nil {
		return nil
	}
	return *t.gaps
}

// setSpans sets the open gaps.
func (t *track) setSpans(g gaps) {
	if len(g) == 0 {
		t.gaps = nil
		return
	}
	t.gaps = &g
}

// cloneGaps returns a copy of the track's gaps, nil if none.
func (t *track) cloneGaps() *gaps {
	if t.gaps == nil {
		return nil
	}
	g := slices.Clone(*t.gaps)
	return &g
}

func newTrack() track { return track{floor: -1, last: -1} }

// seen says what v is to the track, and records it.
type seen uint8

const (
	seenNew    seen = iota // past last, following it
	seenSkip               // past last, skipping values: a gap opened
	seenBelow              // below floor
	seenFill               // filled a gap
	seenRepeat             // seen before
)

// see records v, whose record showed the balance before (noBalance where
// the track has no balance), and says what v is to the track; above is the
// balance known just after v (the balance before of the record at v+1)
// when v filled a gap right below a record seen, else noBalance.
func (t *track) see(v uint32, before int64) (s seen, above int64) {
	x := int64(v)
	switch {
	case t.last < 0:
		t.floor, t.last = x, x
		return seenNew, noBalance
	case x > t.last:
		r := seenNew
		if x > t.last+1 {
			g := t.spans()
			g.add(uint32(t.last+1), v-1, before)
			t.setSpans(g)
			r = seenSkip
		}
		t.last = x
		return r, noBalance
	case x < t.floor:
		if x+1 < t.floor {
			t.setSpans(slices.Insert(t.spans(), 0, span{v + 1, uint32(t.floor - 1), noBalance}))
		}
		t.floor = x
		return seenBelow, noBalance
	case t.gaps != nil:
		g := *t.gaps
		if ok, above := g.take(v, before); ok {
			t.setSpans(g)
			return seenFill, above
		}
	}
	return seenRepeat, noBalance
}

// greyRef is a grey record held in suspense on its card.
type greyRef struct {
	pos       int64 // the grey record's journal position
	counter   uint16
	terminal  citycard.TerminalID
	seq       uint32
	amount    uint32
	before    uint32
	product   uint16
	prevAfter int64 // the card's balance after, before this grey record
	prevLoads int64 // loads seen since, before this grey record
	prevLast  int64 // the card's last offline counter before this grey record
	// confirmed: a later record's balance showed the debit happened, and
	// it was booked; kept, so that a record of another tap with the same
	// counter, which proves it did not, reverses it.
	confirmed bool
}

// load unpacks lastLoad: the newest load's balance before and after;
// ok false when no load was seen.
func (c *shadow) load() (before, after int64, ok bool) {
	if c.lastLoad == 0 {
		return 0, 0, false
	}
	before = int64(int32(uint32(c.lastLoad >> 32)))
	return before, before + int64(uint32(c.lastLoad)), true
}

// after is the balance the grey debit left, had it happened.
func (g *greyRef) after() int64 { return int64(int32(g.before)) - int64(g.amount) }

// shadow is the back office's view of one card.
type shadow struct {
	offline track // offline counters: purchases
	online  track // online counters: loads
	// lastAfter is the balance the card's record of offline.last left; it
	// is valid when offline.last >= 0.
	lastAfter  int64
	loadsSince int64 // loads seen since the record of offline.last
	booked     int64 // balance the back office booked: loads seen - purchases booked
	reported   int64 // the balance the card's newest record reported (after it)
	// floorBefore is the balance before of the record at offline.floor:
	// the balance the card had after the counter below the first one seen,
	// which decides a grey record arriving there.
	floorBefore int64
	// lastLoad is the newest load seen (by online counter): its balance
	// before (the card's 32-bit field) in the high half, its amount in
	// the low; 0 when none. A purchase whose balance before is that
	// load's balance after, arriving after the load, shows the load
	// happened just below it, as stepLoad infers for a load arriving
	// after the purchase: so a gap (or the floor) opened by that purchase
	// keeps the balance from before the load. One word, so that the
	// shadow stays in its allocation size class.
	lastLoad uint64
	// greys holds the grey records in suspense, and those confirmed on
	// the balance (kept to be contradicted); nil for almost every card: a
	// pointer costs 8 bytes where a slice costs 24, which keeps the shadow
	// in its allocation size class with floorBefore.
	greys *[]greyRef
	// epoch is the undo epoch of the last batch that saved this shadow
	// (see undo); it costs no memory (the struct stays in its allocation
	// size class) and is not checkpointed.
	epoch uint32
}

// clone returns a deep copy of c: gaps and greys are changed in place.
func (c *shadow) clone() shadow {
	d := *c
	d.offline.gaps = c.offline.cloneGaps()
	d.online.gaps = c.online.cloneGaps()
	if c.greys != nil {
		g := slices.Clone(*c.greys)
		d.greys = &g
	}
	return d
}

// greyList returns the card's grey records (nil if none).
func (c *shadow) greyList() []greyRef {
	if c.greys == nil {
		return nil
	}
	return *c.greys
}

// setGreys sets the card's grey records.
func (c *shadow) setGreys(g []greyRef) {
	if len(g) == 0 {
		c.greys = nil
		return
	}
	c.greys = &g
}

func newShadow() *shadow { return &shadow{offline: newTrack(), online: newTrack()} }

// shard holds the card shadows of cards whose hash falls in it. The map
// holds pointers: with 100-byte values the map's empty slots would cost
// more than the pointers do (measured).
type shard struct {
	cards map[cardID]*shadow
	apps  map[cardID]*track // application counters of cards that tapped an application gate
}

// state is everything acquisition decides with: card shadows by shard and
// terminal sequences. It is changed only by step, so that replaying the
// journal through step rebuilds it exactly.
type state struct {
	shards []shard
	terms  map[citycard.TerminalID]*track // terminal sequences
	pos    int64                          // the last journal position applied
}

func newState(shards int) *state {
	s := &state{shards: make([]shard, shards), terms: map[citycard.TerminalID]*track{}}
	for i := range s.shards {
		s.shards[i].cards = map[cardID]*shadow{}
		s.shards[i].apps = map[cardID]*track{}
	}
	return s
}

// shardOf returns the shard of a card.
func (s *state) shardOf(id *cardID) *shard {
	return &s.shards[Shard(id.issuer, id.asn, len(s.shards))]
}

// Shard returns the shard of a card among n: FNV-1a of its issuer code
// and ASN, mod n. It is a stored fact, the same in every process and
// release, so that a city that outgrows one machine can route a card's
// uploads to the worker of its shard (DESIGN.md, "Growing past one
// machine").
func Shard(issuer citycard.IssuerCode, asn citycard.ASN, n int) int {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, b := range issuer {
		h = (h ^ uint64(b)) * prime
	}
	for _, b := range asn {
		h = (h ^ uint64(b)) * prime
	}
	return int(h % uint64(n))
}

// card returns the card's shadow; ok is false for a card never seen.
func (s *state) card(id cardID) (c *shadow, ok bool) {
	c, ok = s.shardOf(&id).cards[id]
	return c, ok
}

func (s *state) terminal(id citycard.TerminalID) *track {
	t := s.terms[id]
	if t == nil {
		nt := newTrack()
		t = &nt
		s.terms[id] = t
	}
	return t
}

// decision is what step made of one record.
type decision struct {
	class Class
	flags Flags
	// Money the record moves, besides its own booking: a grey record it
	// confirmed or released.
	confirmed []greyRef // book: suspense to the grey's operator
	released  []greyRef // release: suspense back to the card float
	reversed  []greyRef // a confirmation undone: the grey's operator back to the card float
}

// step decides what a verified record is and applies it to the state. It
// is the only function that changes the state, and it is deterministic in
// (state, record, outcome, position), so replaying the journal rebuilds
// the state. pos is the position the record is journaled at: a grey
// record's is kept, so that its decision names it (GreyDecision.GreyPos).
// u, if not nil, saves what step changes before it changes it, so that
// the batch can be taken back (the sequencer's path; replay passes nil).
func (s *state) step(r *record.Record, out Outcome, pos int64, u *undo) decision {
	d := s.stepCard(r, out, pos, u)
	if termPart(d.class) {
		d.flags |= s.stepTerminal(r, u)
	}
	return d
}

// termPart reports whether a record of this class moves its terminal's
// sequence: a new purchase or application record does; a duplicate, a
// recovered record (its grey one took the sequence) and a load (no
// sequence) do not.
func termPart(k Class) bool { return k == ClassBooked || k == ClassSuspense || k == ClassApplication }

// stepCard is the card's part of step: the decision and the card's shadow.
func (s *state) stepCard(r *record.Record, out Outcome, pos int64, u *undo) decision {
	id := cardID{r.Issuer, r.ASN}
	if r.Type == citycard.TxApplication {
		return s.stepApp(id, r, out, u)
	}
	sh := s.shardOf(&id)
	c, ok := sh.cards[id]
	switch {
	case !ok:
		c = newShadow()
		sh.cards[id] = c
		if u != nil {
			u.created = append(u.created, id)
			c.epoch = u.epoch
		}
	case u != nil && c.epoch != u.epoch:
		u.cards = append(u.cards, savedCard{c: c, prev: c.clone()})
		c.epoch = u.epoch
	}
	if r.Type == citycard.TxLoad {
		return s.stepLoad(c, r)
	}
	return s.stepPurchase(c, r, out, pos)
}

// stepPurchase is step for a purchase record, on the card's shadow c.
//
// A grey record (the card tore; no TAC) at counter k is in suspense until
// a fact decides it, and only a fact: the card's counter moving past k
// proves nothing alone, since another tap may have taken counter k (the
// card tore before it committed, and its next tap used the same counter).
//   - its recovered record (the same tap, with the TAC) books it;
//   - a record of another tap with counter k shows the debit never
//     happened: it releases the grey, and takes the counter;
//   - the record at counter k+1 confirms it when its balance before is the
//     balance the grey debit left (DESIGN.md: "the counter after it and
//     the lower balance"), in order (loads seen since counted) or late (a
//     grey arriving after k+1, whose balance the gap below k+1 kept; a
//     record k+1 arriving after the grey);
//   - a confirmation the balance allowed (another tap at k charged the same
//     amount) is reversed when that tap's record, with counter k, arrives.
//
// Otherwise the grey waits in suspense: money held apart, never guessed.
func (s *state) stepPurchase(c *shadow, r *record.Record, out Outcome, pos int64) decision {
	var d decision
	counter := uint32(r.Counter)
	before := r.BalanceBeforeFen()
	var taken *greyRef // the grey whose counter this record takes

	// A grey record of this card with the same counter decides first.
	if gi := slices.IndexFunc(c.greyList(), func(g greyRef) bool { return g.counter == r.Counter }); gi >= 0 {
		g := c.greyList()[gi]
		sameTap := g.terminal == r.TerminalID && g.seq == r.TerminalSeq
		switch {
		case sameTap && (out == OutcomeGrey || g.confirmed):
			// The grey again, or the recovered record of a grey already
			// confirmed (booked).
			d.class = ClassDuplicate
			return d
		case sameTap:
			// The recovered record of the grey one: book it from suspense.
			c.setGreys(slices.Delete(c.greyList(), gi, gi+1))
			c.booked -= int64(r.Amount)
			d.class = ClassRecovered
			d.flags |= s.flagsOf(out)
			return d
		}
		// Another tap used the same counter: the grey debit never
		// happened. Release it (or reverse its confirmation); this record
		// takes the counter the grey one held.
		c.setGreys(slices.Delete(c.greyList(), gi, gi+1))
		if g.confirmed {
			d.reversed = append(d.reversed, g)
			c.booked += int64(g.amount)
		} else {
			d.released = append(d.released, g)
		}
		taken = &g
		if c.offline.last == int64(counter) {
			// The grey was the card's last record: this one is, in the
			// balance context from before it.
			c.lastAfter, c.loadsSince = g.prevAfter, g.prevLoads
		}
	}

	prevLast, oldFloor := c.offline.last, c.offline.floor
	prevAfter, prevLoads := c.lastAfter, c.loadsSince
	var seenAs seen
	above := noBalance
	switch {
	case taken != nil && prevLast == int64(counter):
		seenAs, prevLast = seenNew, taken.prevLast
	case taken != nil:
		seenAs = seenFill // history: the counter was the grey's, below the last
	default:
		seenAs, above = c.offline.see(counter, before)
	}
	// belowLoad is the balance this record's predecessor left when the
	// newest load, seen before this record, happened just below it.
	belowLoad := before
	if lb, la, ok := c.load(); ok && c.loadsSince != 0 && la == before {
		belowLoad = lb
	}
	switch {
	case prevLast < 0 && seenAs == seenNew:
		c.floorBefore = belowLoad // the first record seen
	case taken != nil && int64(counter) == oldFloor:
		c.floorBefore = before // the floor's record now
	case seenAs == seenBelow:
		if int64(counter)+1 == oldFloor {
			above = c.floorBefore // the record just above is the old floor's
		} else if g := c.offline.spans(); len(g) > 0 && int64(g[0].hi)+1 == oldFloor {
			// The gap just opened between this record and the old floor's
			// keeps the balance before the old floor's record, as a gap
			// opened above keeps the balance before the record above it.
			g[0].after = c.floorBefore
		}
		c.floorBefore = before
		if lb, la, ok := c.load(); ok && la == before {
			// The newest load came just below this record, the lowest
			// now: the balance after the counter below it is the load's
			// balance before.
			c.floorBefore = lb
		}
	}
	inOrder := false
	switch seenAs {
	case seenRepeat:
		d.class = ClassDuplicate
		return d
	case seenSkip:
		d.flags |= FlagCounterGap
		if g := c.offline.spans(); len(g) > 0 && g[len(g)-1].hi+1 == counter {
			g[len(g)-1].after = belowLoad // the gap just opened below this record
		}
		fallthrough
	case seenNew:
		// In order, the balance must be what the previous record left plus
		// the loads seen since: lower means money vanished, higher a load
		// the back office never saw.
		// Loads are uploaded by other terminals, early or late: a balance
		// that is just what the previous record left, with loads seen
		// since, follows too: those loads came after this record, and
		// count towards the next one.
		inOrder = prevLast >= 0 && int64(counter) == prevLast+1
		carry := int64(0)
		switch {
		case !inOrder || before == c.lastAfter+c.loadsSince:
		case c.loadsSince != 0 && before == c.lastAfter:
			carry = c.loadsSince
		default:
			d.flags |= FlagBalance
			inOrder = false // the balance does not follow: it confirms nothing
		}
		// The newest load, seen before this record, whose balance before
		// is the balance this record left came just after it: it counts
		// towards the next record, not this one.
		if lb, _, ok := c.load(); ok && carry == 0 && prevLoads != 0 && lb == before-int64(r.Amount) {
			carry = min(prevLoads, int64(uint32(c.lastLoad)))
		}
		c.lastAfter = before - int64(r.Amount)
		c.loadsSince = carry
		c.reported = c.lastAfter
	}
	// seenBelow and seenFill: an older record arriving late; the balance
	// it shows is history.

	g := greyRef{
		pos: pos, counter: r.Counter, terminal: r.TerminalID, seq: r.TerminalSeq, amount: r.Amount,
		before: r.BalanceBefore, product: r.Product, prevAfter: prevAfter, prevLoads: prevLoads, prevLast: prevLast,
	}
	if out == OutcomeGrey {
		if r.Amount == 0 {
			// A grey record of nothing (a tap-on) holds no money in
			// suspense, and no balance can tell whether it happened:
			// confirmed at once, and, as any confirmed grey, reversed
			// (of nothing) by a record of another tap with its counter.
			g.confirmed = true
			d.confirmed = append(d.confirmed, g)
		} else if above != noBalance && above == g.after() {
			// A grey record arriving after the record just above it,
			// whose balance shows the card made this debit: confirmed at
			// once.
			g.confirmed = true
			d.confirmed = append(d.confirmed, g)
			c.booked -= int64(r.Amount)
		} else if lb, _, ok := c.load(); ok && prevLoads != 0 && (seenAs == seenNew || seenAs == seenSkip) && lb == g.after() {
			// A load seen before this grey record, since the card's
			// previous one, whose balance before is the balance the grey
			// debit left: the debit happened (stepLoad's rule, the load
			// having arrived first).
			g.confirmed = true
			d.confirmed = append(d.confirmed, g)
			c.booked -= int64(r.Amount)
		}
		c.setGreys(append(c.greyList(), g))
		d.flags |= s.flagsOf(out)
		d.class = ClassSuspense
		return d
	}
	// A genuine record just above a grey one in suspense confirms it when
	// its balance shows the grey's debit: in order, the balance check
	// above (loads seen since included); late, the grey's balance after.
	if counter > 0 {
		if gi := slices.IndexFunc(c.greyList(), func(g greyRef) bool { return !g.confirmed && uint32(g.counter) == counter-1 }); gi >= 0 {
			pg := &c.greyList()[gi]
			if inOrder || (seenAs == seenFill || seenAs == seenBelow) && before == pg.after() {
				pg.confirmed = true
				d.confirmed = append(d.confirmed, *pg)
				c.booked -= int64(pg.amount)
			}
		}
	}
	d.flags |= s.flagsOf(out)
	d.class = ClassBooked
	c.booked -= int64(r.Amount)
	return d
}

// stepTerminal is the terminal's part of step: the sequence of the
// terminal that sealed a new purchase.
func (s *state) stepTerminal(r *record.Record, u *undo) Flags {
	if u != nil {
		u.saveTerminal(s, r.TerminalID)
	}
	switch sa, _ := s.terminal(r.TerminalID).see(r.TerminalSeq, noBalance); sa {
	case seenSkip:
		return FlagSeqGap
	case seenRepeat:
		// The card's counter says the record is new, so this is not a
		// copy: the PSAM reused a sequence (replaced or reset). Booked,
		// since the card did pay, and flagged.
		return FlagSeqReused
	}
	return 0
}

func (s *state) flagsOf(out Outcome) Flags {
	switch out {
	case OutcomePendingIssuer:
		return FlagPendingIssuer
	case OutcomeGrey:
		return FlagGrey
	}
	return 0
}

// stepLoad applies a load record: deduplicated by the online counter. A
// load whose balance before is the balance a grey record in suspense would
// have left shows that the grey debit happened: it confirms it (a record of
// another tap with the grey's counter would still reverse it).
func (s *state) stepLoad(c *shadow, r *record.Record) decision {
	if sa, _ := c.online.see(uint32(r.Counter), noBalance); sa == seenRepeat {
		return decision{class: ClassDuplicate}
	}
	d := decision{class: ClassLoad}
	before := r.BalanceBeforeFen()
	for i := range c.greyList() {
		if g := &c.greyList()[i]; !g.confirmed && g.after() == before {
			g.confirmed = true
			d.confirmed = append(d.confirmed, *g)
			c.booked -= int64(g.amount)
			break
		}
	}
	// A load whose balance after is the balance a gap kept of the record
	// above it (or the floor's) happened just below that record: the
	// balance after the gap's top counter is the load's balance before.
	if after := before + int64(r.Amount); c.offline.gaps != nil {
		for i := range *c.offline.gaps {
			if sp := &(*c.offline.gaps)[i]; sp.after == after {
				sp.after = before
			}
		}
	}
	if c.floorBefore == before+int64(r.Amount) && c.offline.last >= 0 {
		c.floorBefore = before
	}
	if r.Amount != 0 && int64(r.Counter) >= c.online.last {
		c.lastLoad = uint64(r.BalanceBefore)<<32 | uint64(r.Amount)
	}
	c.loadsSince += int64(r.Amount)
	c.booked += int64(r.Amount)
	c.reported = before + int64(r.Amount)
	return d
}

// undo is what the classification of one batch changed in the state,
// saved as it goes (the first time the batch touches each card and its
// terminal), so that a batch that cannot commit, or is refused after it
// was classified, is taken back out of memory exactly. Without it a failed
// commit had to rebuild the whole state from the journal, under the
// sequencer's lock, at every retry. Undos of a group are restored newest
// first; each batch has its own epoch, so a card touched by two batches
// of a group is saved by each.
type undo struct {
	epoch   uint32
	pos     int64       // the state's position before the batch
	cards   []savedCard // shadows as they were
	created []cardID    // shadows the batch created
	apps    appUndo     // application counters
	term    struct {
		saved, existed bool
		id             citycard.TerminalID
		prev           track
	}
}

type savedCard struct {
	c    *shadow
	prev shadow
}

// saveTerminal saves terminal id's track before the batch first changes
// it. A batch changes one terminal's track, its own.
func (u *undo) saveTerminal(s *state, id citycard.TerminalID) {
	if u.term.saved {
		if u.term.id != id {
			panic("acquire: a batch stepped two terminals' sequences")
		}
		return
	}
	u.term.saved, u.term.id = true, id
	if t, ok := s.terms[id]; ok {
		u.term.existed = true
		u.term.prev = *t
		u.term.prev.gaps = t.cloneGaps()
	}
}

// restore puts the state back as it was before the batch.
func (u *undo) restore(s *state) {
	for i := len(u.cards) - 1; i >= 0; i-- {
		*u.cards[i].c = u.cards[i].prev
	}
	for _, id := range u.created {
		delete(s.shardOf(&id).cards, id)
	}
	u.apps.restore(s)
	if u.term.saved {
		if u.term.existed {
			*s.terms[u.term.id] = u.term.prev
		} else {
			delete(s.terms, u.term.id)
		}
	}
	s.pos = u.pos
}

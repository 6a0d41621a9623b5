package terminal

import (
	"strconv"
	"sync"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// A Canteen is a school canteen's POS: an e-purse purchase (a Terminal
// in ModePOS) bound by the daily canteen limit the parents set on the
// pupil's campus slot (package apps: the slot's limit, and its uses the
// day's canteen spend, both in fen, the day China time's, so it rolls
// over at midnight Asia/Shanghai). Offline: a purchase that would take
// the day's spend past the limit is refused canteen_limit before
// anything is written (spend exactly at the limit is allowed, one fen
// more is not). An allowed one is counted first, by a stamp in the
// slot (action canteen: its record, type A0, carries the day's spend it
// left), and paid after, so a card never spends past its limit offline:
// a debit that then fails (the card pulled away, torn) leaves the meal
// counted and not paid, the pupil's loss of that amount of the day's
// limit, never the parents' limit passed. The balance is read before
// the stamp, so a card that cannot pay is refused (kind Insufficient)
// with nothing counted; the canteen allows no overdraw.
//
// A card with no campus slot of the school (a teacher's, a visitor's)
// pays with no limit and nothing stamped, as does a pupil's whose slot
// has no limit (0). The canteen refuses a file that does not verify
// (forged) and, as every terminal, an expired or blacklisted card; it
// is not told the gates' versions: a card that holds an older limit is
// held to it until its next online contact rewrites the file, and the
// back office flags a record past the limit in force (apps.Office:
// canteen_limit).
//
// A counted purchase costs a gate's tap and a POS purchase together:
// BenchmarkCanteenTap measured 47 µs a tap (virtual card and PSAMs in
// the process, 2 cores at load average 7), twice a gate's, far inside a
// terminal's 300 ms.
type Canteen struct {
	mu   sync.Mutex
	gate *Gate     // the campus slot's: application campus, the school's scope, action canteen
	pos  *Terminal // the purchase's: ModePOS
}

// NewCanteen returns the canteen POS of gate (a campus gate of the
// school, action apps.Canteen; it may share its PSAM with pos) and pos
// (a POS). Kind Invalid for a gate or terminal of another sort.
func NewCanteen(gate *Gate, pos *Terminal) (*Canteen, error) {
	const op = "terminal.NewCanteen"
	if gate == nil || pos == nil {
		return nil, citycard.E(op, citycard.Invalid, "gate and POS are required")
	}
	if gate.cfg.App != card.AppCampus || gate.cfg.Action != apps.Canteen {
		return nil, citycard.E(op, citycard.Invalid, "a %v gate of action %v: want a campus gate of action canteen", gate.cfg.App, gate.cfg.Action)
	}
	if pos.cfg.Mode != ModePOS {
		return nil, citycard.E(op, citycard.Invalid, "terminal mode %v: want POS", pos.cfg.Mode)
	}
	return &Canteen{gate: gate, pos: pos}, nil
}

// CanteenResult is what a canteen purchase did.
type CanteenResult struct {
	// Reason is apps.Allowed, apps.CanteenLimit, or the file's refusal
	// (forged, expired, blacklisted).
	Reason apps.Reason
	// Limited is true when the card's limit counted the purchase:
	// Stamp is then the stamp's result (its record, the day's spend in
	// Stamp.After.Uses).
	Limited  bool
	Stamp    GateResult
	Purchase Result // the e-purse purchase, when allowed
	Detail   string // what a refusal saw
}

// Tap sells amountFen to the card cd: refused, or counted on the card's
// limit and paid. A refusal by the rules is a result with its reason and
// a nil error; the purchase's refusals are its errors (Terminal.Tap),
// and a balance under amountFen is kind Insufficient, nothing counted.
func (k *Canteen) Tap(cd apdu.Transport, amountFen uint32) (CanteenResult, error) {
	const op = "terminal.Canteen.Tap"
	k.mu.Lock()
	defer k.mu.Unlock()
	var res CanteenResult
	c := device{name: "card", t: cd}
	k.gate.mu.Lock()
	t, gr, err := k.gate.decide(op, c, apps.Canteen, amountFen)
	if err == nil && gr.Reason == apps.Allowed && t.f.Slots[t.d.Slot].Limit > 0 {
		var bal int64
		if bal, err = readBalance(op, c); err == nil && bal < int64(amountFen) {
			err = citycard.E(op, citycard.Insufficient, "balance %d fen, the meal %d fen: the canteen allows no overdraw", bal, amountFen)
		}
		if err == nil {
			gr, err = k.gate.stamp(op, c, &t)
			res.Limited = err == nil && gr.Reason == apps.Allowed
		}
	}
	k.gate.mu.Unlock()
	res.Stamp, res.Reason, res.Detail = gr, gr.Reason, gr.Detail
	if err != nil {
		return res, err
	}
	switch {
	case gr.Reason == apps.WrongApplication && (!t.decision || t.d.Slot < 0):
		// Not a pupil of the school: no limit.
		res.Reason, res.Detail = apps.Allowed, ""
	case gr.Reason == apps.CanteenLimit:
		e := t.f.Slots[t.d.Slot]
		spent := uint32(0)
		if e.LastDate == t.date {
			spent = uint32(e.Uses)
		}
		res.Detail = "spent " + strconv.FormatUint(uint64(spent), 10) + " fen today, the meal " + strconv.FormatUint(uint64(amountFen), 10) +
			", the limit " + strconv.FormatUint(uint64(e.Limit), 10)
		return res, nil
	case gr.Reason != apps.Allowed:
		return res, nil
	}
	res.Purchase, err = k.pos.Tap(cd, amountFen)
	return res, err
}

package terminal

import (
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

const canteenSchool = 1001

// canteen sets a canteen POS of canteenSchool up: a campus gate of
// action canteen and a POS, each with its PSAM.
func (w *world) canteen() (*Canteen, testGate, testTerminal) {
	w.t.Helper()
	g := w.gate(card.AppCampus, canteenSchool, 9, apps.Canteen, nil, nil)
	pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
	k, err := NewCanteen(g.Gate, pos.Terminal)
	if err != nil {
		w.t.Fatal(err)
	}
	return k, g, pos
}

// pupilCard is a pupil's card of canteenSchool with a daily canteen
// limit of limitFen and balanceFen loaded.
func (w *world) pupilCard(asnLow uint32, limitFen uint16, balanceFen uint32) *card.Card {
	w.t.Helper()
	cd := w.appCard(asnLow, 2, card.Entitlement{App: card.AppCampus, Scope: canteenSchool, ValidFrom: lastWeek, ValidTo: nextYear, Class: 3, Limit: limitFen})
	w.load(cd, balanceFen)
	return cd
}

// TestCanteenLimitBoundary: spend exactly at the limit is allowed, one
// fen more is refused canteen_limit with nothing written or paid; each
// allowed meal is counted on the card (its stamp record carrying the
// day's spend) and paid.
func TestCanteenLimitBoundary(t *testing.T) {
	w := appWorld(t)
	k, g, pos := w.canteen()
	cd := w.pupilCard(1, 1000, 5000)
	v := w.verifier()
	for i, c := range []struct {
		amount uint32
		reason apps.Reason
		spent  uint16
	}{{600, apps.Allowed, 600}, {400, apps.Allowed, 1000}, {1, apps.CanteenLimit, 1000}} {
		before := cd.State()
		res, err := k.Tap(cd, c.amount)
		if err != nil || res.Reason != c.reason {
			t.Fatalf("meal %d of %d fen: %v %v (%s), want %v", i, c.amount, res.Reason, err, res.Detail, c.reason)
		}
		after := cd.State()
		if got := after.Entitlements.Slots[0].Uses; got != c.spent {
			t.Fatalf("meal %d: the card's day spend %d, want %d", i, got, c.spent)
		}
		if c.reason != apps.Allowed {
			if after.BalanceFen != before.BalanceFen || after.Entitlements.Counter != before.Entitlements.Counter {
				t.Fatalf("meal %d refused, yet the card moved: balance %d -> %d, counter %d -> %d", i,
					before.BalanceFen, after.BalanceFen, before.Entitlements.Counter, after.Entitlements.Counter)
			}
			continue
		}
		if !res.Limited || res.Purchase.Record.Amount != c.amount || after.BalanceFen != before.BalanceFen-int64(c.amount) {
			t.Fatalf("meal %d: limited %v, purchase %d fen, balance %d -> %d", i, res.Limited, res.Purchase.Record.Amount, before.BalanceFen, after.BalanceFen)
		}
		r := res.Stamp.Record
		if r.Type != citycard.TxApplication || r.Product != uint16(apps.Canteen) || r.EntryStation != uint32(c.spent) || r.Line != canteenSchool {
			t.Fatalf("meal %d: stamp record %+v", i, r)
		}
		if err := v.Verify(&r); err != nil {
			t.Fatalf("meal %d: the back office refuses the stamp record: %v", i, err)
		}
	}
	if n, m := len(g.spool.pending(t)), len(pos.spool.pending(t)); n != 2 || m < 2 {
		t.Fatalf("%d stamp records and %d purchase records spooled, want 2 and 2 (and the load's)", n, m)
	}
}

// TestCanteenDayRollsAtMidnightShanghai: the day's spend is the day's in
// China time: at 23:59:59 Asia/Shanghai the day's spend still counts, at
// 00:00:00 it starts again, whatever the UTC date.
func TestCanteenDayRollsAtMidnightShanghai(t *testing.T) {
	w := appWorld(t)
	k, _, _ := w.canteen()
	cd := w.pupilCard(2, 500, 5000)
	w.now = time.Date(2026, 11, 24, 12, 0, 0, 0, citycard.ChinaTime)
	if res, err := k.Tap(cd, 500); err != nil || res.Reason != apps.Allowed {
		t.Fatalf("lunch: %v %v", res.Reason, err)
	}
	w.now = time.Date(2026, 11, 24, 23, 59, 59, 0, citycard.ChinaTime)
	if res, err := k.Tap(cd, 1); err != nil || res.Reason != apps.CanteenLimit {
		t.Fatalf("23:59:59 the same day: %v %v, want canteen_limit", res.Reason, err)
	}
	w.now = time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC) // 00:00:00 on the 25th in Shanghai
	res, err := k.Tap(cd, 500)
	if err != nil || res.Reason != apps.Allowed || cd.State().Entitlements.Slots[0].Uses != 500 {
		t.Fatalf("midnight in Shanghai: %v %v, day spend %d", res.Reason, err, cd.State().Entitlements.Slots[0].Uses)
	}
}

// TestCanteenCheckInStartsTheDay: a school gate's check-in on a new day
// leaves the day's spend at zero, so the pupil's yesterday does not
// count against today.
func TestCanteenCheckInStartsTheDay(t *testing.T) {
	w := appWorld(t)
	k, _, _ := w.canteen()
	cd := w.pupilCard(3, 800, 5000)
	if res, err := k.Tap(cd, 800); err != nil || res.Reason != apps.Allowed {
		t.Fatalf("day 1: %v %v", res.Reason, err)
	}
	w.now = w.now.AddDate(0, 0, 1)
	gate := w.gate(card.AppCampus, canteenSchool, 1, apps.CheckIn, nil, nil)
	if res, err := gate.Tap(cd); err != nil || res.Reason != apps.Allowed || res.After.Uses != 0 {
		t.Fatalf("check-in on day 2: %v %v, spend %d", res.Reason, err, res.After.Uses)
	}
	if res, err := k.Tap(cd, 800); err != nil || res.Reason != apps.Allowed {
		t.Fatalf("day 2's meal after the check-in: %v %v (%s)", res.Reason, err, res.Detail)
	}
}

// TestCanteenNoLimit: a card without the school's slot (a teacher's) and
// a pupil's without a limit pay with nothing counted; a pupil who cannot
// pay is refused Insufficient before anything is counted.
func TestCanteenNoLimit(t *testing.T) {
	w := appWorld(t)
	k, g, _ := w.canteen()
	teacher := w.newCard(card.ProfileCitizen, 40, 1)
	w.load(teacher, 5000)
	free := w.pupilCard(41, 0, 5000)
	for name, cd := range map[string]*card.Card{"teacher": teacher, "no limit": free} {
		res, err := k.Tap(cd, 3000)
		if err != nil || res.Reason != apps.Allowed || res.Limited || res.Purchase.Record.Amount != 3000 {
			t.Fatalf("%s: %v %v limited %v, purchase %d", name, res.Reason, err, res.Limited, res.Purchase.Record.Amount)
		}
	}
	poor := w.pupilCard(42, 1000, 100)
	res, err := k.Tap(poor, 500)
	if !citycard.IsKind(err, citycard.Insufficient) || poor.State().Entitlements.Slots[0].Uses != 0 {
		t.Fatalf("balance 100, meal 500: %v %v, day spend %d, want Insufficient and nothing counted", res.Reason, err, poor.State().Entitlements.Slots[0].Uses)
	}
	if n := len(g.spool.pending(t)); n != 0 {
		t.Fatalf("%d stamp records, want none", n)
	}
}

// TestCanteenForgedLimit: a card whose limit was raised on the chip (the
// grant MAC unchanged) is refused forged: nothing counted, nothing paid.
func TestCanteenForgedLimit(t *testing.T) {
	w := appWorld(t)
	k, g, pos := w.canteen()
	cd := w.pupilCard(50, 1000, 5000)
	f := *cd.State().Entitlements
	f.Slots[0].Limit = 60000
	if err := cd.SetEntitlements(f); err != nil {
		t.Fatal(err)
	}
	before := cd.State()
	res, err := k.Tap(cd, 2000)
	if err != nil || res.Reason != apps.Forged || res.Purchase.Record.Amount != 0 {
		t.Fatalf("a raised limit: %v %v, purchase %d; want forged, nothing paid", res.Reason, err, res.Purchase.Record.Amount)
	}
	if after := cd.State(); after.BalanceFen != before.BalanceFen || after.Entitlements.Counter != before.Entitlements.Counter {
		t.Fatalf("refused forged, yet the card moved")
	}
	if n, m := len(g.spool.pending(t)), len(pos.spool.pending(t)); n != 0 || m != 0 {
		t.Fatalf("%d stamp and %d purchase records spooled, want none", n, m)
	}
	if _, err := NewCanteen(g.Gate, w.terminal(ModeTapOn, 1, FlatFare{Fen: 200}, nil).Terminal); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a canteen around a validator: %v, want invalid", err)
	}
	if _, err := NewCanteen(w.gate(card.AppCampus, canteenSchool, 1, apps.CheckIn, nil, nil).Gate, pos.Terminal); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a canteen around a check-in gate: %v, want invalid", err)
	}
}

// BenchmarkCanteenTap: one canteen purchase counted on a pupil's limit
// (read the file, check the grant MAC, stamp, verify the stamp MAC, seal
// the stamp's record, then the e-purse purchase), virtual card and PSAMs
// in the process.
func BenchmarkCanteenTap(b *testing.B) {
	w := newWorld(b, keys.Alg3DES)
	w.putKeys(ourIssuer, keys.Alg3DES, 1, keys.KeyApplication)
	k, _, _ := w.canteen()
	cd := w.pupilCard(60, apps.CanteenLimitMaxFen, 5000)
	b.ResetTimer()
	for range b.N {
		if res, err := k.Tap(cd, 0); err != nil || !res.Limited {
			b.Fatalf("%v %v", res.Reason, err)
		}
	}
}

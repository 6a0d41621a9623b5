package clearing

import (
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

func TestRound(t *testing.T) {
	for _, c := range []struct {
		mode  Rounding
		exact int64
		fen   int64
	}{
		{RoundDown, 0, 0}, {RoundDown, 999_999, 0}, {RoundDown, 1_000_000, 1}, {RoundDown, 2_999_999, 2},
		{RoundHalfUp, 499_999, 0}, {RoundHalfUp, 500_000, 1}, {RoundHalfUp, 1_500_000, 2}, {RoundHalfUp, 2_500_000, 3},
		{RoundHalfEven, 499_999, 0}, {RoundHalfEven, 500_000, 0}, {RoundHalfEven, 500_001, 1},
		{RoundHalfEven, 1_500_000, 2}, {RoundHalfEven, 2_500_000, 2}, {RoundHalfEven, 2_500_001, 3},
	} {
		fen, rem := c.mode.round(c.exact)
		if fen != c.fen || fen*MicroPerFen+rem != c.exact {
			t.Errorf("%v(%d) = %d fen + %d micro, want %d fen and the rest", c.mode, c.exact, fen, rem, c.fen)
		}
	}
}

// The issue: "fee schedules (percentage and/or fixed per record, by
// product, card type and channel, with minimums and caps), explicit
// rounding".
func TestFeeRule(t *testing.T) {
	pct := FeeRule{Name: "pct", RatePPM: 6000}                                 // 0.6%
	both := FeeRule{Name: "both", RatePPM: 5000, FixedFen: 2}                  // 0.5% + 2 fen
	bounded := FeeRule{Name: "bounded", RatePPM: 10000, MinFen: 3, MaxFen: 50} // 1%, 3 to 50 fen
	fixed := FeeRule{Name: "fixed", FixedFen: 10}                              // 10 fen a record
	for _, c := range []struct {
		rule   FeeRule
		mode   Rounding
		amount int64
		fen    int64
		rem    int64
	}{
		{pct, RoundDown, 200, 1, 200_000},       // 1.2 fen
		{pct, RoundHalfUp, 200, 1, 200_000},     // 1.2 fen
		{pct, RoundHalfUp, 250, 2, -500_000},    // 1.5 fen up
		{pct, RoundHalfEven, 250, 2, -500_000},  // 1.5 fen to 2
		{pct, RoundHalfEven, 750, 4, 500_000},   // 4.5 fen to 4
		{both, RoundDown, 100, 2, 500_000},      // 2.5 fen
		{both, RoundDown, 0, 0, 0},              // never more than the amount
		{both, RoundDown, 1, 1, 0},              // 2.005 fen bounded by the 1 fen amount: exact
		{bounded, RoundDown, 299, 3, 0},         // 2.99 fen: the minimum, exact
		{bounded, RoundDown, 300, 3, 0},         // 3 fen: at the minimum
		{bounded, RoundDown, 301, 3, 10_000},    // 3.01 fen: rounded
		{bounded, RoundDown, 4999, 49, 990_000}, // 49.99 fen: rounded
		{bounded, RoundDown, 5000, 50, 0},       // at the cap
		{bounded, RoundDown, 5001, 50, 0},       // past the cap: the cap, exact
		{bounded, RoundDown, 2, 2, 0},           // the minimum bounded by the amount
		{fixed, RoundHalfEven, 500, 10, 0},
	} {
		fen, rem := c.rule.Fee(c.amount, c.mode)
		if fen != c.fen || rem != c.rem {
			t.Errorf("%s, %v, %d fen: fee %d, remainder %d; want %d, %d", c.rule.Name, c.mode, c.amount, fen, rem, c.fen, c.rem)
		}
	}
}

func TestFeeScheduleRule(t *testing.T) {
	s := FeeSchedule{Party: "nb-metro", Rules: []FeeRule{
		{Name: "student-gate", CardTypes: []uint8{2}, TerminalTypes: []registry.TerminalType{registry.TerminalGate}, RatePPM: 1000},
		{Name: "pass", Products: []uint16{7, 8}, FixedFen: 1},
		{Name: "rest", RatePPM: 3000},
	}}
	for _, c := range []struct {
		product uint16
		ct      uint8
		tt      registry.TerminalType
		want    int32
	}{
		{0, 2, registry.TerminalGate, 0},
		{7, 2, registry.TerminalGate, 0}, // the first rule that applies
		{7, 2, registry.TerminalPOS, 1},
		{8, 1, registry.TerminalGate, 1},
		{9, 1, registry.TerminalGate, 2},
		{0, 2, registry.TerminalBusValidator, 2},
	} {
		if got := s.rule(c.product, c.ct, c.tt); got != c.want {
			t.Errorf("product %d, card type %d, %v: rule %d, want %d", c.product, c.ct, c.tt, got, c.want)
		}
	}
	none := FeeSchedule{Party: "x", Rules: []FeeRule{{Name: "pass", Products: []uint16{7}}}}
	if got := none.rule(1, 1, registry.TerminalGate); got != noRule {
		t.Errorf("no rule applies: %d", got)
	}
	var missing *FeeSchedule
	if got := missing.rule(1, 1, registry.TerminalGate); got != noRule {
		t.Errorf("no schedule: %d", got)
	}
}

func TestFeeScheduleValidate(t *testing.T) {
	ok := FeeRule{Name: "r", RatePPM: RatePPMMax, FixedFen: FeeFenMax, MinFen: FeeFenMax, MaxFen: FeeFenMax}
	if err := (&FeeSchedule{Party: "p", Rules: []FeeRule{ok}}).validate("t"); err != nil {
		t.Errorf("every bound at its limit: %v", err)
	}
	many := make([]FeeRule, RulesMax)
	for i := range many {
		many[i] = FeeRule{Name: "r" + itoa(int64(i))}
	}
	if err := (&FeeSchedule{Party: "p", Rules: many}).validate("t"); err != nil {
		t.Errorf("%d rules: %v", RulesMax, err)
	}
	bad := []FeeRule{
		{Name: ""}, {Name: string(make([]byte, RuleNameMax+1))},
		{Name: "r", RatePPM: -1}, {Name: "r", RatePPM: RatePPMMax + 1},
		{Name: "r", FixedFen: -1}, {Name: "r", FixedFen: FeeFenMax + 1},
		{Name: "r", MinFen: -1}, {Name: "r", MinFen: FeeFenMax + 1},
		{Name: "r", MaxFen: -1}, {Name: "r", MaxFen: FeeFenMax + 1}, {Name: "r", MinFen: 5, MaxFen: 4},
		{Name: "r", Products: make([]uint16, matchMax+1)},
	}
	for _, r := range bad {
		if err := (&FeeSchedule{Party: "p", Rules: []FeeRule{r}}).validate("t"); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("rule %+v: %v, want Invalid", r, err)
		}
	}
	if err := (&FeeSchedule{Party: "p", Rules: append(many, ok)}).validate("t"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("%d rules: %v, want Invalid", RulesMax+1, err)
	}
	if err := (&FeeSchedule{Party: "p", Rules: []FeeRule{{Name: "a"}, {Name: "a"}}}).validate("t"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("two rules of one name: %v", err)
	}
	if err := (&FeeSchedule{}).validate("t"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("no party: %v", err)
	}
}

// STYLE.md: "Division rounds explicitly, and the rounding remainder is
// booked, not lost." A million records of 1 fen at 0.38%: each fee rounds
// down to nothing, and the 3,800 fen they owe are booked whole.
func TestFeeRemainderManySmallRecords(t *testing.T) {
	for _, c := range []struct {
		mode    Rounding
		rate    int64
		amount  int64
		n       int64
		carryIn int64
	}{
		{RoundDown, 3800, 1, 1_000_000, 0},
		{RoundDown, 5000, 1, 333, 0},       // 1.665 fen: 1 booked, 0.665 carried
		{RoundDown, 5000, 1, 333, 335_000}, // with last cycle's 0.335: 2 booked, nothing carried
		{RoundHalfUp, 6000, 25, 10_000, 0}, // 0.15 fen each rounds to 0
		{RoundHalfUp, 6000, 250, 9_999, 0}, // 1.5 fen each rounds up to 2: the remainder is negative
		{RoundHalfEven, 6000, 250, 7, 999_999},
	} {
		r := FeeRule{Name: "r", RatePPM: c.rate}
		var fees, rem int64
		for range c.n {
			f, m := r.Fee(c.amount, c.mode)
			fees += f
			rem += m
		}
		exact := c.n * c.amount * c.rate // micro-fen owed
		line := book("op", c.carryIn, rem)
		if fees*MicroPerFen+rem != exact {
			t.Errorf("%v %d x %d fen at %d ppm: fees %d fen + remainder %d micro != %d micro owed", c.mode, c.n, c.amount, c.rate, fees, rem, exact)
		}
		if line.BookedFen*MicroPerFen+line.CarryOutMicro != c.carryIn+rem || line.CarryOutMicro <= -MicroPerFen || line.CarryOutMicro >= MicroPerFen {
			t.Errorf("%v: booked %d fen, carried %d micro, of %d in and %d remainder", c.mode, line.BookedFen, line.CarryOutMicro, c.carryIn, rem)
		}
		// What the party pays in all, fees and remainder booked, plus what
		// it carries, is exactly what it owes.
		if (fees+line.BookedFen)*MicroPerFen+line.CarryOutMicro != exact+c.carryIn {
			t.Errorf("%v: paid %d fen and carried %d micro, owed %d micro", c.mode, fees+line.BookedFen, line.CarryOutMicro, exact+c.carryIn)
		}
	}
	if l := book("op", 0, 1_000_000*3800); l.BookedFen != 3800 || l.CarryOutMicro != 0 {
		t.Errorf("a million 1-fen records at 0.38%%: %+v, want 3800 fen booked", l)
	}
	if l := book("op", 0, 333*5000); l.BookedFen != 1 || l.CarryOutMicro != 665_000 {
		t.Errorf("333 1-fen records at 0.5%%: %+v", l)
	}
}

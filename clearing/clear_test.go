package clearing

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/registry"
)

const (
	our     = "31500001FFFFFFFF"
	foreign = "2000000100000001"
)

var day1 = DayOf(2026, 12, 1)

func exampleConfig() Config {
	return Config{
		Calendar:  DefaultCalendar(),
		Collector: our,
		Rounding:  RoundDown,
		Fees: []FeeSchedule{
			{Party: "nb-bus", Rules: []FeeRule{{Name: "bus", RatePPM: 5000, MinFen: 1}}},
			{Party: "nb-metro", Rules: []FeeRule{
				{Name: "student", CardTypes: []uint8{2}, RatePPM: 2000},
				{Name: "metro", RatePPM: 6000, MaxFen: 10},
			}},
		},
	}
}

// item returns a cleared record's item accepted at 10:00 on day1.
func item(issuer, operator string, tt registry.TerminalType, cardType uint8, fen int64) Item {
	return Item{AcceptedAt: cst(2026, 12, 1, 10, 0, 0), Class: acquire.ClassBooked, Outcome: acquire.OutcomeVerified,
		Issuer: issuer, Operator: operator, TerminalType: tt, CardType: cardType, AmountFen: fen}
}

// input numbers the items from position from+1 and claims them.
func input(d Day, from int64, items ...Item) *Input {
	in := &Input{Day: d, Claim: Claim{Range: Range{From: from, To: from}}, Items: make([]Item, 0, len(items))}
	for _, it := range items {
		in.Claim.To++
		it.Pos = in.Claim.To
		in.Claim.add(it.AmountFen)
		in.Items = append(in.Items, it)
	}
	return in
}

// exampleInput is the worked example whose every figure TestClearExample
// checks by hand.
func exampleInput() *Input {
	bus, gate, pos := registry.TerminalBusValidator, registry.TerminalGate, registry.TerminalPOS
	pending := item(foreign, "nb-bus", bus, 1, 200)
	pending.Outcome = acquire.OutcomePendingIssuer
	grey := item(our, "nb-bus", bus, 1, 200)
	grey.Class, grey.Outcome = acquire.ClassSuspense, acquire.OutcomeGrey
	dup := item(our, "nb-bus", bus, 1, 200)
	dup.Class = acquire.ClassDuplicate
	load := item(our, "nb-bus", registry.TerminalKiosk, 1, 5000)
	load.Class = acquire.ClassLoad
	late := item(our, "nb-bus", bus, 1, 300)
	late.Class, late.AcceptedAt = acquire.ClassRecovered, cst(2026, 11, 30, 23, 0, 0)
	in := input(day1, 40,
		item(our, "nb-bus", bus, 1, 200),     // 0.5% = 1 fen
		item(our, "nb-bus", bus, 1, 150),     // 0.75 fen: the minimum, 1
		item(our, "nb-bus", bus, 1, 300),     // 1.5 fen: 1, 0.5 remains
		item(our, "nb-metro", gate, 2, 400),  // student 0.2% = 0.8: 0, 0.8 remains
		item(our, "nb-metro", gate, 1, 400),  // 0.6% = 2.4: 2, 0.4 remains
		item(our, "nb-metro", gate, 1, 5000), // 30 fen: the cap, 10
		pending, grey, dup, load,             // not cleared here
		item(our, "shop", pos, 1, 1000), // no schedule: no fee
		late,                            // recovered, accepted the day before: 1 fen, 0.5 remains
	)
	in.Carry = []Carry{{Party: "nb-metro", Micro: 300_000}}
	in.Adjustments = []Adjustment{{Ref: "ADJ-1", Of: day1 - 2, Payer: "nb-metro", Payee: "nb-bus", AmountFen: 50, Reason: "fare refund"}}
	return in
}

func mustClearer(t testing.TB, cfg Config) *Clearer {
	t.Helper()
	c, err := NewClearer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// DESIGN.md flow 5: "the issuer owes the operator the fare minus the
// operator's fee"; the issue: "net positions per party".
func TestClearExample(t *testing.T) {
	res, err := mustClearer(t, exampleConfig()).Clear(exampleInput())
	if err != nil {
		t.Fatal(err)
	}
	bus, gate, pos := registry.TerminalBusValidator, registry.TerminalGate, registry.TerminalPOS
	wantLines := []Line{
		{Issuer: our, Operator: "nb-bus", CardType: 1, TerminalType: bus, Rule: "bus", Records: 4, GrossFen: 950, FeeFen: 4, RemainderMicro: 1_000_000},
		{Issuer: our, Operator: "nb-metro", CardType: 1, TerminalType: gate, Rule: "metro", Records: 2, GrossFen: 5400, FeeFen: 12, RemainderMicro: 400_000},
		{Issuer: our, Operator: "nb-metro", CardType: 2, TerminalType: gate, Rule: "student", Records: 1, GrossFen: 400, FeeFen: 0, RemainderMicro: 800_000},
		{Issuer: our, Operator: "shop", CardType: 1, TerminalType: pos, Rule: "none", Records: 1, GrossFen: 1000},
	}
	if !reflect.DeepEqual(res.Lines, wantLines) {
		t.Errorf("lines:\n%+v\nwant\n%+v", res.Lines, wantLines)
	}
	wantRounding := []RoundingLine{
		{Party: "nb-bus", RemainderMicro: 1_000_000, BookedFen: 1},
		{Party: "nb-metro", CarryInMicro: 300_000, RemainderMicro: 1_200_000, BookedFen: 1, CarryOutMicro: 500_000},
		{Party: "shop"},
	}
	if !reflect.DeepEqual(res.Rounding, wantRounding) {
		t.Errorf("rounding:\n%+v\nwant\n%+v", res.Rounding, wantRounding)
	}
	wantPos := []Position{
		{Party: our, ReceivableFen: 18, PayableFen: 7750, NetFen: -7732}, // fees 16 and rounding 2; the fares of its cards
		{Party: "nb-bus", ReceivableFen: 1000, PayableFen: 5, NetFen: 995},
		{Party: "nb-metro", ReceivableFen: 5800, PayableFen: 63, NetFen: 5737},
		{Party: "shop", ReceivableFen: 1000, NetFen: 1000},
	}
	if !reflect.DeepEqual(res.Positions, wantPos) {
		t.Errorf("positions:\n%+v\nwant\n%+v", res.Positions, wantPos)
	}
	for _, c := range []struct {
		name      string
		got, want Totals
	}{
		{"cleared", res.Cleared, Totals{8, 7750}}, {"pending", res.Pending, Totals{1, 200}},
		{"suspense", res.Suspense, Totals{1, 200}}, {"duplicates", res.Duplicates, Totals{1, 200}},
		{"loads", res.Loads, Totals{1, 5000}}, {"late", res.Late, Totals{1, 300}},
	} {
		if c.got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, c.got, c.want)
		}
	}
	if len(res.Breaches) != 0 || res.RoundingAccount != DefaultRoundingAccount || res.Collector != our {
		t.Errorf("breaches %v, rounding account %v, collector %q", res.Breaches, res.RoundingAccount, res.Collector)
	}
}

// The issue: "an optional net debit cap per party (a position past it is
// reported before settlement)". Our issuer's net is -7732.
func TestClearDebitCap(t *testing.T) {
	for _, c := range []struct {
		cap    int64
		breach bool
	}{{7733, false}, {7732, false}, {7731, true}, {0, true}} {
		cfg := exampleConfig()
		cfg.DebitCapsFen = map[string]int64{our: c.cap, "nb-bus": 0}
		res, err := mustClearer(t, cfg).Clear(exampleInput())
		if err != nil {
			t.Fatal(err)
		}
		want := []Breach(nil)
		if c.breach {
			want = []Breach{{Party: our, NetFen: -7732, CapFen: c.cap}}
		}
		if !reflect.DeepEqual(res.Breaches, want) {
			t.Errorf("cap %d: breaches %+v, want %+v", c.cap, res.Breaches, want)
		}
	}
}

// The issue: "Clearing is a pure function of the cycle's inputs": the
// order adjustments and carries come in changes nothing.
func TestClearPure(t *testing.T) {
	cfg := exampleConfig()
	cfg.DebitCapsFen = map[string]int64{our: 1_000_000}
	c := mustClearer(t, cfg)
	in := exampleInput()
	in.Adjustments = append(in.Adjustments,
		Adjustment{Ref: "ADJ-0", Of: day1 - 1, Payer: our, Payee: "shop", AmountFen: 7},
		Adjustment{Ref: "ADJ-2", Of: day1 - 1, Payer: "shop", Payee: "nb-bus", AmountFen: 9})
	in.Carry = append(in.Carry, Carry{Party: "nb-bus", Micro: -999_999})
	first, err := c.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(in.Adjustments)
	slices.Reverse(in.Carry)
	cfg.Fees[0].Rules[0].RatePPM = 900_000 // the Clearer kept its own copy
	cfg.DebitCapsFen[our] = 0
	again, err := c.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Errorf("the same input in another order:\n%+v\n%+v", first, again)
	}
	if got := first.Adjustments[0].Ref; got != "ADJ-0" {
		t.Errorf("adjustments not by reference: %q first", got)
	}
}

// Conservation: whatever the records, the positions net to zero and the
// issuers pay exactly the fares of their cards cleared.
func TestClearNetsToZero(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := mustClearer(t, exampleConfig())
	ops := []string{"nb-bus", "nb-metro", "shop", "taxi"}
	tts := []registry.TerminalType{registry.TerminalBusValidator, registry.TerminalGate, registry.TerminalPOS}
	for round := range 50 {
		var items []Item
		for range rng.IntN(500) {
			issuer := our
			if rng.IntN(10) == 0 {
				issuer = "3150000200000002"
			}
			it := item(issuer, ops[rng.IntN(len(ops))], tts[rng.IntN(len(tts))], uint8(1+rng.IntN(3)), rng.Int64N(10000))
			it.Class = []acquire.Class{acquire.ClassBooked, acquire.ClassRecovered, acquire.ClassDuplicate}[rng.IntN(3)]
			items = append(items, it)
		}
		in := input(day1, 0, items...)
		res, err := c.Clear(in)
		if err != nil {
			t.Fatal(err)
		}
		var net, issuersPay, fares int64
		for _, p := range res.Positions {
			net += p.NetFen
			if p.Party == "3150000200000002" {
				issuersPay += p.PayableFen
			}
		}
		for _, it := range in.Items {
			if it.Issuer == "3150000200000002" && it.Class != acquire.ClassDuplicate {
				fares += it.AmountFen
			}
		}
		if net != 0 || issuersPay != fares {
			t.Fatalf("round %d: positions net to %d; the second issuer pays %d for %d fen of fares", round, net, issuersPay, fares)
		}
	}
}

// A million 1-fen purchases at 0.38%: no record's fee reaches a fen, and
// the 3,800 fen they owe are booked to the rounding account, the
// operator's net position 3,800 fen below the fares.
func TestClearRemainderBooked(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	cfg := exampleConfig()
	cfg.Fees = []FeeSchedule{{Party: "bike", Rules: []FeeRule{{Name: "bike", RatePPM: 3800}}}}
	items := make([]Item, n)
	for i := range items {
		items[i] = item(our, "bike", registry.TerminalPOS, 1, 1)
	}
	res, err := mustClearer(t, cfg).Clear(input(day1, 0, items...))
	if err != nil {
		t.Fatal(err)
	}
	owed := int64(n) * 3800 / MicroPerFen
	if len(res.Lines) != 1 || res.Lines[0].FeeFen != 0 || res.Lines[0].RemainderMicro != int64(n)*3800 {
		t.Fatalf("lines %+v", res.Lines)
	}
	if r := res.Rounding; len(r) != 1 || r[0].BookedFen != owed || r[0].CarryOutMicro != 0 {
		t.Errorf("rounding %+v, want %d fen booked", r, owed)
	}
	want := []Position{
		{Party: our, ReceivableFen: owed, PayableFen: int64(n), NetFen: owed - int64(n)},
		{Party: "bike", ReceivableFen: int64(n), PayableFen: owed, NetFen: int64(n) - owed},
	}
	if !reflect.DeepEqual(res.Positions, want) {
		t.Errorf("positions %+v, want %+v", res.Positions, want)
	}
}

func TestClearRefuses(t *testing.T) {
	c := mustClearer(t, exampleConfig())
	for _, tc := range []struct {
		name   string
		change func(in *Input)
		kind   citycard.Kind
		want   string
	}{
		{"a row missing", func(in *Input) { in.Items = slices.Delete(in.Items, 3, 4) }, citycard.Conflict, "position 44 missing"},
		{"at the cut-off", func(in *Input) { in.Items[0].AcceptedAt = cst(2026, 12, 2, 0, 0, 0) }, citycard.Invalid, "at or after the cut-off"},
		{"a negative amount", func(in *Input) { in.Items[0].AmountFen = -1; in.Claim.AmountFen -= 201 }, citycard.Invalid, "of -1 fen"},
		{"an unknown class", func(in *Input) { in.Items[0].Class = 9 }, citycard.Invalid, "class class(9)"},
		{"adjustment without a reference", func(in *Input) { in.Adjustments[0].Ref = "" }, citycard.Invalid, "reference"},
		{"adjustment of this cycle", func(in *Input) { in.Adjustments[0].Of = day1 }, citycard.Invalid, "want an earlier one"},
		{"adjustment to itself", func(in *Input) { in.Adjustments[0].Payee = "nb-metro" }, citycard.Invalid, "want two parties"},
		{"adjustment of 0 fen", func(in *Input) { in.Adjustments[0].AmountFen = 0 }, citycard.Invalid, "0 fen"},
		{"adjustment too large", func(in *Input) { in.Adjustments[0].AmountFen = AdjustmentFenMax + 1 }, citycard.Invalid, "want 1 to"},
		{"adjustment twice", func(in *Input) { in.Adjustments = append(in.Adjustments, in.Adjustments[0]) }, citycard.Invalid, "twice"},
		{"a long reason", func(in *Input) { in.Adjustments[0].Reason = strings.Repeat("x", ReasonLenMax+1) }, citycard.Invalid, "reason"},
		{"a carry of a fen", func(in *Input) { in.Carry[0].Micro = MicroPerFen }, citycard.Invalid, "less than a fen"},
		{"a carry twice", func(in *Input) { in.Carry = append(in.Carry, in.Carry[0]) }, citycard.Invalid, "one per party"},
	} {
		in := exampleInput()
		tc.change(in)
		_, err := c.Clear(in)
		if !citycard.IsKind(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.kind, tc.want)
		}
	}
	// The bounds themselves pass.
	in := exampleInput()
	in.Adjustments[0].AmountFen = AdjustmentFenMax
	in.Adjustments[0].Reason = strings.Repeat("x", ReasonLenMax)
	in.Adjustments[0].Ref = strings.Repeat("r", RefLenMax)
	in.Carry[0].Micro = MicroPerFen - 1
	in.Items[0].AcceptedAt = cst(2026, 12, 2, 0, 0, 0).Add(-time.Nanosecond)
	if _, err := c.Clear(in); err != nil {
		t.Errorf("every bound at its limit: %v", err)
	}
}

func TestNewClearerRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
	}{
		{"no collector", func(c *Config) { c.Collector = "" }},
		{"no rounding", func(c *Config) { c.Rounding = 0 }},
		{"a bad calendar", func(c *Config) { c.Calendar.Cutoff = 0 }},
		{"two schedules of a party", func(c *Config) { c.Fees = append(c.Fees, c.Fees[0]) }},
		{"a bad rule", func(c *Config) { c.Fees[0].Rules[0].RatePPM = -1 }},
		{"a negative cap", func(c *Config) { c.DebitCapsFen = map[string]int64{our: -1} }},
	} {
		cfg := exampleConfig()
		tc.change(&cfg)
		if _, err := NewClearer(cfg); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v, want Invalid", tc.name, err)
		}
	}
}

// The positions' netting to zero is an assertion: a result that does not
// net panics.
func TestAssertNetZeroPanics(t *testing.T) {
	for _, ps := range [][]Position{
		{{Party: "a", ReceivableFen: 5, NetFen: 5}, {Party: "b", PayableFen: 4, NetFen: -4}},
		{{Party: "a", ReceivableFen: 5, NetFen: 4}, {Party: "b", PayableFen: 5, NetFen: -4}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("positions %+v: no panic", ps)
				}
			}()
			assertNetZero(&Result{Day: day1, Positions: ps})
		}()
	}
	assertNetZero(&Result{Day: day1, Positions: []Position{{Party: "a", ReceivableFen: 5, NetFen: 5}, {Party: "b", PayableFen: 5, NetFen: -5}}})
}

package clearing

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
)

const (
	student = 1
	senior  = 2
	bureau  = "bureau"
	agent   = "agent-7"
)

// concessionItem is a cleared record of rider category cat on operator's
// terminal: fullFen its record's full fare, fen what it charged, catFen
// what its category took off the default category's fare.
func concessionItem(operator string, cat uint8, catFen, fullFen, fen int64) Item {
	it := item(our, operator, registry.TerminalGate, 1, fen)
	it.RiderCategory, it.CategoryFen, it.FareFullFen = cat, catFen, fullFen
	return it
}

// TestConcessionSplitBetweenLegs: a student's journey of two legs, a bus
// (nb-bus) then the metro (nb-metro) at a transfer discount, and a
// senior's free ride (issue 10, "Concessions": "split between the
// operators of the journey's legs"; the package doc's "Concessions").
// The bureau funds the whole category discount and half the transfer
// discount on the metro; the province a tenth of the category discount
// of seniors. Every figure by hand.
func TestConcessionSplitBetweenLegs(t *testing.T) {
	cfg := exampleConfig()
	cfg.Fees = nil
	cfg.Concessions = []ConcessionVersion{
		{Effective: day1, Funder: bureau, Shares: []ConcessionShare{
			{Kind: ConcessionCategory, RiderCategory: senior, SharePPM: 900_000},
			{Kind: ConcessionCategory, RiderCategory: AnyCategory, SharePPM: 1_000_000},
			{Kind: ConcessionTransfer, RiderCategory: AnyCategory, Operator: "nb-metro", SharePPM: 500_000},
		}},
		{Effective: day1, Funder: "province", Shares: []ConcessionShare{
			{Kind: ConcessionCategory, RiderCategory: senior, SharePPM: 100_000},
		}},
	}
	in := input(day1, 0,
		// Leg 1: the bus, adult fare 2.00, the student's 1.00.
		concessionItem("nb-bus", student, 100, 100, 100),
		// Leg 2: the metro, adult 4.00, the student's 2.00, less a 0.50
		// transfer discount: 1.50 charged.
		concessionItem("nb-metro", student, 200, 200, 150),
		// A senior rides the metro free: adult 3.00, the senior's 0.
		concessionItem("nb-metro", senior, 300, 0, 0),
		// An adult's metro leg after a bus: 0.75 off 3.00.
		concessionItem("nb-metro", 0, 0, 300, 225),
		// A pass ride: no transfer discount whatever its full fare.
		func() Item { it := concessionItem("nb-metro", 0, 0, 300, 0); it.Product = 7; return it }(),
	)
	res, err := mustClearer(t, cfg).Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []ConcessionLine{
		{Funder: bureau, Operator: "nb-bus", RiderCategory: student, Kind: "category", Records: 1, DiscountFen: 100, ClaimFen: 100},
		{Funder: bureau, Operator: "nb-metro", RiderCategory: 0, Kind: "transfer", Records: 1, DiscountFen: 75, ClaimFen: 37, RemainderMicro: 500_000},
		{Funder: bureau, Operator: "nb-metro", RiderCategory: student, Kind: "category", Records: 1, DiscountFen: 200, ClaimFen: 200},
		{Funder: bureau, Operator: "nb-metro", RiderCategory: student, Kind: "transfer", Records: 1, DiscountFen: 50, ClaimFen: 25},
		{Funder: bureau, Operator: "nb-metro", RiderCategory: senior, Kind: "category", Records: 1, DiscountFen: 300, ClaimFen: 270},
		{Funder: "province", Operator: "nb-metro", RiderCategory: senior, Kind: "category", Records: 1, DiscountFen: 300, ClaimFen: 30},
	}
	if len(res.Concessions) != len(want) {
		t.Fatalf("lines %+v, want %+v", res.Concessions, want)
	}
	for i := range want {
		if res.Concessions[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, res.Concessions[i], want[i])
		}
	}
	// The bureau pays 100 + 37 + 200 + 25 + 270 = 632 fen, the province
	// 30; nb-bus receives 100 of it, nb-metro 532 + 30. The bureau's
	// half a fen of remainder is carried, not lost.
	net := map[string]int64{}
	var sum int64
	for _, p := range res.Positions {
		net[p.Party] = p.NetFen
		sum += p.NetFen
	}
	if net[bureau] != -632 || net["province"] != -30 || sum != 0 {
		t.Errorf("positions %+v: want the bureau -632, the province -30, summing to 0", res.Positions)
	}
	if net["nb-bus"] != 100+100 || net["nb-metro"] != 150+0+225+0+200+37+25+270+30 {
		t.Errorf("positions %+v: want nb-bus 200 (fares 100, claims 100), nb-metro 1137", res.Positions)
	}
	if r := roundingOf(res, bureau); r.CarryOutMicro != 500_000 || r.BookedFen != 0 {
		t.Errorf("the bureau's rounding %+v, want half a fen carried", r)
	}
}

func roundingOf(res *Result, party string) RoundingLine {
	for _, r := range res.Rounding {
		if r.Party == party {
			return r
		}
	}
	return RoundingLine{}
}

// TestConcessionSharesAtMostWhole: funders whose shares of one discount
// sum past the whole of it are refused, naming the discount; a funder
// naming itself as the operator is refused at once.
func TestConcessionSharesAtMostWhole(t *testing.T) {
	cfg := exampleConfig()
	cfg.Concessions = []ConcessionVersion{
		{Effective: day1, Funder: bureau, Shares: []ConcessionShare{{Kind: ConcessionCategory, RiderCategory: AnyCategory, SharePPM: 600_000}}},
		{Effective: day1, Funder: "province", Shares: []ConcessionShare{{Kind: ConcessionCategory, RiderCategory: student, SharePPM: 400_001}}},
	}
	_, err := mustClearer(t, cfg).Clear(input(day1, 0, concessionItem("nb-bus", student, 100, 100, 100)))
	if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "1000001 ppm") {
		t.Errorf("shares of 100.0001%%: %v, want Invalid naming the sum", err)
	}
	cfg.Concessions = []ConcessionVersion{{Effective: day1, Funder: bureau, Shares: []ConcessionShare{{Kind: ConcessionCategory, RiderCategory: 1, Operator: bureau, SharePPM: 1}}}}
	if _, err := NewClearer(cfg); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a funder compensating itself: %v, want Invalid", err)
	}
}

// loadInput is a cycle's input of loads only, in ledger entries from 1.
func loadInput(d Day, loads ...Load) *Input {
	in := input(d, 0)
	for i := range loads {
		loads[i].Seq = int64(i + 1)
	}
	in.Loads = loads
	in.LoadClaim = LoadClaim{Range: Range{0, int64(len(loads))}, Entries: int64(len(loads))}
	return in
}

// TestRoundingOverManySmallRecords: ten thousand small records and loads
// charged a fee and a commission of a third of a percent, over three
// cycles (issue 10, "Done when": "fee rounding over many small records
// (remainder booked)"): what the operator paid in fees and booked
// remainders, plus what it carries, is the exact fee to the micro-fen;
// and the agent's commission likewise (its remainder booked to it).
func TestRoundingOverManySmallRecords(t *testing.T) {
	rule := FeeRule{Name: "third", RatePPM: 3333}
	cfg := Config{Calendar: DefaultCalendar(), Collector: our, Rounding: RoundHalfEven,
		Fees:        []FeeSchedule{{Party: "nb-bus", Rules: []FeeRule{rule}}},
		Commissions: []FeeSchedule{{Party: agent, Rules: []FeeRule{rule}}}}
	clr := mustClearer(t, cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	var exactFee, exactComm, paidFee, paidComm int64 // micro-fen, and fen
	var carry []Carry
	for d := day1; d < day1+3; d++ {
		items := make([]Item, 0, 10_000)
		loads := make([]Load, 0, 10_000)
		for range 10_000 {
			fen := 1 + rng.Int64N(300)
			it := item(our, "nb-bus", registry.TerminalBusValidator, 1, fen)
			it.AcceptedAt = cst(2026, 12, 1+int(d-day1), 10, 0, 0)
			items = append(items, it)
			exactFee += fen * 3333
			lf := 1 + rng.Int64N(5000)
			loads = append(loads, Load{Channel: agent, Issuer: our, AmountFen: lf})
			exactComm += lf * 3333
		}
		in := loadInput(d, loads...)
		full := input(d, 0, items...)
		in.Claim, in.Items, in.Carry = full.Claim, full.Items, carry
		res, err := clr.Clear(in)
		if err != nil {
			t.Fatal(err)
		}
		carry = nil
		for _, r := range res.Rounding {
			if r.CarryOutMicro != 0 {
				carry = append(carry, Carry{r.Party, r.CarryOutMicro})
			}
		}
		for _, l := range res.Lines {
			paidFee += l.FeeFen
		}
		for _, l := range res.Commissions {
			paidComm += l.CommissionFen
		}
		paidFee += roundingOf(res, "nb-bus").BookedFen
		paidComm -= roundingOf(res, agent).BookedFen
	}
	feeCarry, commCarry := int64(0), int64(0)
	for _, c := range carry {
		switch c.Party {
		case "nb-bus":
			feeCarry = c.Micro
		case agent:
			commCarry = -c.Micro
		}
	}
	if paidFee*MicroPerFen+feeCarry != exactFee {
		t.Errorf("fees: paid %d fen and carries %d micro-fen; the exact fees are %d micro-fen", paidFee, feeCarry, exactFee)
	}
	if paidComm*MicroPerFen+commCarry != exactComm {
		t.Errorf("commissions: paid %d fen and carries %d micro-fen; the exact commissions are %d micro-fen", paidComm, commCarry, exactComm)
	}
}

// TestCommissionAndLoads: a channel owes the issuer the loads that came
// in through it and earns its commission (percentage, minimum and cap);
// a reversal takes back exactly what its load earned; our own counters
// move nothing.
func TestCommissionAndLoads(t *testing.T) {
	cfg := exampleConfig()
	cfg.Fees = nil
	cfg.Commissions = []FeeSchedule{{Party: agent, Rules: []FeeRule{{Name: "agent", RatePPM: 2000, MinFen: 10, MaxFen: 100}}},
		{Party: "agent-2", Rules: []FeeRule{{Name: "agent-2", RatePPM: 3000, MinFen: 10}}}}
	in := loadInput(day1,
		Load{Channel: agent, Issuer: our, AmountFen: 1000},     // 2 fen: the minimum, 10
		Load{Channel: agent, Issuer: our, AmountFen: 20_000},   // 40 fen
		Load{Channel: agent, Issuer: our, AmountFen: 100_000},  // 200: the cap, 100
		Load{Channel: agent, Issuer: our, AmountFen: -20_000},  // the 200-yuan load reversed: -40
		Load{Channel: "bank", Issuer: our, AmountFen: 5000},    // no schedule: no commission
		Load{Channel: our, Issuer: our, AmountFen: 7000},       // our own counter
		Load{Channel: "agent-2", Issuer: our, AmountFen: 3000}, // reversed in the cycle: as if it never was
		Load{Channel: "agent-2", Issuer: our, AmountFen: -3000},
	)
	res, err := mustClearer(t, cfg).Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	want := CommissionLine{Channel: agent, Issuer: our, Rule: "agent", Loads: 2, LoadedFen: 101_000, CommissionFen: 110}
	if len(res.Commissions) != 1 || res.Commissions[0] != want {
		t.Errorf("commissions %+v, want %+v", res.Commissions, want)
	}
	if res.Loaded != (Totals{Count: 4, AmountFen: 113_000}) {
		t.Errorf("loaded %+v", res.Loaded)
	}
	net := map[string]int64{}
	for _, p := range res.Positions {
		net[p.Party] = p.NetFen
	}
	if net[agent] != -101_000+110 || net["bank"] != -5000 || net[our] != 101_000-110+5000 {
		t.Errorf("positions %+v", res.Positions)
	}
	bad := loadInput(day1, Load{Channel: agent, Issuer: our, AmountFen: 0})
	if _, err := mustClearer(t, cfg).Clear(bad); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a load of 0 fen: %v, want Invalid", err)
	}
	cfg.Commissions[0].Rules[0].Products = []uint16{1}
	if _, err := NewClearer(cfg); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a commission rule listing products: %v, want Invalid", err)
	}
}

// TestPositionsNetZeroEveryCycle: random cycles of records, fees,
// concessions, loads, commissions and adjustments: the positions of
// every one net to zero, and what each party nets is what its lines say.
func TestPositionsNetZeroEveryCycle(t *testing.T) {
	cfg := exampleConfig()
	cfg.Rounding = RoundHalfUp
	cfg.Concessions = []ConcessionVersion{{Effective: day1, Funder: bureau, Shares: []ConcessionShare{
		{Kind: ConcessionCategory, RiderCategory: AnyCategory, SharePPM: 777_777},
		{Kind: ConcessionTransfer, RiderCategory: AnyCategory, SharePPM: 333_333},
	}}}
	cfg.Commissions = []FeeSchedule{{Party: agent, Rules: []FeeRule{{Name: "a", RatePPM: 4321, FixedFen: 1, MaxFen: 50}}}}
	clr := mustClearer(t, cfg)
	rng := rand.New(rand.NewPCG(7, 8))
	ops := []string{"nb-bus", "nb-metro", "shop"}
	for n := range 50 {
		var items []Item
		for range rng.IntN(200) {
			full := rng.Int64N(500)
			it := concessionItem(ops[rng.IntN(3)], uint8(rng.IntN(4)), rng.Int64N(300), full, rng.Int64N(full+1))
			items = append(items, it)
		}
		var loads []Load
		for range rng.IntN(50) {
			ch := []string{agent, "bank", our}[rng.IntN(3)]
			loads = append(loads, Load{Channel: ch, Issuer: our, AmountFen: 1 + rng.Int64N(100_000)})
		}
		in := loadInput(day1, loads...)
		full := input(day1, 0, items...)
		in.Claim, in.Items = full.Claim, full.Items
		if rng.IntN(2) == 0 {
			in.Adjustments = []Adjustment{{Ref: "r", Of: day1 - 1, Payer: our, Payee: "nb-bus", AmountFen: 1 + rng.Int64N(1000)}}
		}
		res, err := clr.Clear(in)
		if err != nil {
			t.Fatal(err)
		}
		var sum, claims, comm int64
		for _, p := range res.Positions {
			sum += p.NetFen
		}
		for _, l := range res.Concessions {
			claims += l.ClaimFen
		}
		for _, l := range res.Commissions {
			comm += l.CommissionFen
		}
		var bureauNet int64
		for _, p := range res.Positions {
			if p.Party == bureau {
				bureauNet = p.NetFen
			}
		}
		if sum != 0 || bureauNet != -claims-roundingOf(res, bureau).BookedFen {
			t.Fatalf("cycle %d: positions sum to %d, the bureau nets %d against %d of claims: %+v", n, sum, bureauNet, claims, res.Positions)
		}
	}
}

// memParams is an in-memory ParamStore.
type memParams []ParamVersion

func (m *memParams) AddParams(_ context.Context, vs []ParamVersion, _ string, _ time.Time) error {
	for _, v := range vs {
		for _, o := range *m {
			if o.Kind == v.Kind && o.Party == v.Party && o.Effective == v.Effective && o.Text != v.Text {
				return citycard.E("memParams", citycard.Exists, "%s of %s from %v", v.Kind, v.Party, v.Effective)
			}
		}
	}
	*m = append(*m, vs...)
	return nil
}

func (m *memParams) ParamVersions(_ context.Context, kind string) ([]ParamVersion, error) {
	var out []ParamVersion
	for _, v := range *m {
		if v.Kind == kind {
			out = append(out, v)
		}
	}
	return out, nil
}

// TestCapBlocksReview: a party past its net debit cap, set as a stored
// version, is reported in the computed cycle and blocks its review with a
// message naming the party, its net and its cap (issue 10: "a position
// past it is reported before settlement"); a cap raised for the day and
// the cycle run again lets it through.
func TestCapBlocksReview(t *testing.T) {
	ctx := context.Background()
	cfg := exampleConfig()
	j := &memJournal{}
	for i := range 3 {
		r := purchase(ourIssuer, byte(i+1), termBus, 1000, 0)
		j.add(cst(2026, 12, 1, 9, 0, i), acquire.ClassBooked, acquire.OutcomeVerified, &r)
	}
	now := cfg.Calendar.End(day1).Add(time.Hour)
	cs := &Cycles{Clearer: mustClearer(t, cfg), Store: memStore{}, Journal: j, Terminals: twoTerminal, Params: &memParams{}, Now: func() time.Time { return now }}
	if err := cs.SetCaps(ctx, []CapVersion{{Effective: day1, Party: our, CapFen: 2000}}, "ann"); err != nil {
		t.Fatal(err)
	}
	s, err := cs.Run(ctx, day1, "carl")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Result.Breaches) != 1 || s.Result.Breaches[0] != (Breach{Party: our, NetFen: -2985, CapFen: 2000}) {
		t.Fatalf("breaches %+v, want ours at -2985 (30.00 of fares less 0.15 of fees) past 2000", s.Result.Breaches)
	}
	_, err = cs.Approve(ctx, day1, "ann")
	if !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), our+" nets -29.85 CNY, past its net debit cap of 20.00 CNY by 9.85 CNY") {
		t.Fatalf("review past the cap: %v, want Conflict naming the party, its net and its cap", err)
	}
	if got, _ := cs.Store.Cycle(ctx, day1); got.Cycle.State != Computed {
		t.Errorf("the blocked review moved the cycle to %v", got.Cycle.State)
	}
	if err := cs.SetCaps(ctx, []CapVersion{{Effective: day1, Party: our, CapFen: 2000}}, "ann"); err != nil {
		t.Errorf("the same cap set again: %v, want nothing changed", err)
	}
	if err := cs.SetCaps(ctx, []CapVersion{{Effective: day1, Party: our, CapFen: 3000}}, "ann"); !citycard.IsKind(err, citycard.Exists) {
		t.Errorf("another cap for the same day: %v, want Exists", err)
	}
	*cs.Params.(*memParams) = nil
	if err := cs.SetCaps(ctx, []CapVersion{{Effective: day1, Party: our, CapFen: 2985}}, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Run(ctx, day1, "carl"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Approve(ctx, day1, "ann"); err != nil {
		t.Errorf("review at exactly the cap: %v, want it signed off", err)
	}
}

// fakeLedger scans posted entries.
type fakeLedger []ledger.Posted

func (l fakeLedger) Scan(_ context.Context, after int64, fn func(*ledger.Posted) error) error {
	for i := range l {
		if l[i].Seq > after {
			if err := fn(&l[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l fakeLedger) Entry(_ context.Context, seq int64) (ledger.Posted, error) {
	for i := range l {
		if l[i].Seq == seq {
			return l[i], nil
		}
	}
	return ledger.Posted{}, citycard.E("fakeLedger.Entry", citycard.NotFound, "entry %d", seq)
}

// reversalOf is the ledger reversal of e, at seq.
func reversalOf(seq int64, at time.Time, e ledger.Posted) ledger.Posted {
	r := ledger.Posted{Seq: seq, Time: at, Entry: ledger.Entry{Key: "r", Type: ledger.EntryReversal, ReversalOf: e.Seq}}
	for _, p := range e.Postings {
		r.Postings = append(r.Postings, ledger.Posting{Account: p.Account, AmountFen: -p.AmountFen})
	}
	return r
}

func loadEntry(seq int64, at time.Time, typ ledger.EntryType, channel, issuer string, fen int64) ledger.Posted {
	return ledger.Posted{Seq: seq, Time: at, Entry: ledger.Entry{Key: "k", Type: typ, Postings: ledger.Transfer(
		ledger.Account{Type: ledger.Settlement, Party: channel}, ledger.Account{Type: ledger.CardFloat, Party: issuer}, fen)}}
}

// TestGatherLoads: the loads of the ledger range up to the last entry
// booked before the cut-off, whatever else the range holds; an entry
// stamped before the cut-off after one stamped after it is taken, and
// nothing after it; a read that skips an entry is Conflict.
func TestGatherLoads(t *testing.T) {
	ctx := context.Background()
	cut := DefaultCalendar().End(day1)
	l := fakeLedger{
		loadEntry(1, cut.Add(-time.Hour), ledger.EntryLoad, agent, our, 500),
		loadEntry(2, cut.Add(-time.Minute), ledger.EntryRefund, "bank", our, -300),
		loadEntry(3, cut.Add(time.Second), ledger.EntryLoad, agent, our, 700), // after the cut-off
		loadEntry(4, cut.Add(-time.Millisecond), ledger.EntryLoad, agent, our, -500),
		loadEntry(5, cut.Add(time.Minute), ledger.EntryLoad, agent, our, 900),
	}
	claim, loads, _, err := GatherLoads(ctx, l, 0, time.Time{}, cut)
	if err != nil {
		t.Fatal(err)
	}
	// Entry 3, stamped after the cut-off, is in the range (its Seq is
	// before entry 4's): this cycle takes it.
	if claim != (LoadClaim{Range: Range{0, 4}, Entries: 4}) || len(loads) != 3 || loads[0].AmountFen != 500 || loads[1].Seq != 3 || loads[2].AmountFen != -500 {
		t.Errorf("claim %+v, loads %+v", claim, loads)
	}
	claim, loads, _, err = GatherLoads(ctx, l, 0, cut.Add(-30*time.Minute), cut)
	if err != nil || claim.To != 4 || len(loads) != 2 {
		t.Errorf("loads not before 30 minutes before the cut-off: %+v, %+v, %v", claim, loads, err)
	}
	if _, _, _, err := GatherLoads(ctx, append(l[:1:1], l[2:]...), 0, time.Time{}, cut); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a read skipping entry 2: %v, want Conflict", err)
	}
	// Reversals: of a load of this range, of a load of the range before
	// (its entry read from the ledger), of a refund (not a load), and of
	// a load after the claim (not taken).
	refund := loadEntry(2, cut.Add(-time.Minute), ledger.EntryRefund, "bank", our, -300)
	rl := fakeLedger{
		loadEntry(1, cut.Add(-2*time.Hour), ledger.EntryLoad, agent, our, 800),
		refund,
		loadEntry(3, cut.Add(-time.Hour), ledger.EntryLoad, agent, our, 500),
	}
	rl = append(rl, reversalOf(4, cut.Add(-time.Minute), rl[2]), reversalOf(5, cut.Add(-time.Minute), rl[0]),
		reversalOf(6, cut.Add(-time.Minute), refund), loadEntry(7, cut.Add(time.Minute), ledger.EntryLoad, agent, our, 900))
	rl = append(rl, reversalOf(8, cut.Add(time.Minute), rl[6]))
	claim, loads, _, err = GatherLoads(ctx, rl, 2, time.Time{}, cut)
	want := []Load{{3, agent, our, 500}, {4, agent, our, -500}, {5, agent, our, -800}}
	if err != nil || claim != (LoadClaim{Range: Range{2, 6}, Entries: 4}) || !slices.Equal(loads, want) {
		t.Errorf("reversals: claim %+v, loads %+v, %v; want %+v", claim, loads, err, want)
	}
	odd := fakeLedger{{Seq: 1, Time: cut.Add(-time.Hour), Entry: ledger.Entry{Type: ledger.EntryLoad, Postings: ledger.Transfer(
		ledger.Account{Type: ledger.FeeIncome}, ledger.Account{Type: ledger.CardFloat, Party: our}, 5)}}}
	if _, _, _, err := GatherLoads(ctx, odd, 0, time.Time{}, cut); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a load from fee income: %v, want Invalid", err)
	}
}

// TestDecodeConcessions reads a concession file, writes it back the
// same, and refuses bad lines naming the line and the field.
func TestDecodeConcessions(t *testing.T) {
	text := ConcessionHeader + "\n" +
		"bureau,2026-12-01,category,2,*,900000\n" +
		"bureau,2026-12-01,category,*,*,1000000\n" +
		"bureau,2026-12-01,transfer,*,nb-metro,500000\n" +
		"# a comment\n" +
		"province,2026-12-01,category,2,*,100000\n"
	vs, err := DecodeConcessions("c.csv", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || len(vs[0].Shares) != 3 || vs[0].Shares[1].RiderCategory != AnyCategory || vs[0].Shares[2].Operator != "nb-metro" {
		t.Fatalf("versions %+v", vs)
	}
	var b strings.Builder
	if err := EncodeConcessions(&b, vs); err != nil || b.String() != strings.ReplaceAll(text, "# a comment\n", "") {
		t.Errorf("encoded %q, %v", b.String(), err)
	}
	for _, tc := range []struct{ line, want string }{
		{"bureau,2026-12-01,fare,1,*,1", "c.csv:2: field kind"},
		{"bureau,2026-12-01,category,256,*,1", "c.csv:2: field rider_category"},
		{"bureau,2026-12-01,category,1,*,1000001", "c.csv:2: field share_ppm"},
		{"bureau,2026-12-01,category,1,bad op,1", "c.csv:2: field operator"},
		{"bureau,2026-13-01,category,1,*,1", "c.csv:2: field effective"},
		{"bureau,2026-12-01,category,1,*", "c.csv:2: 5 fields"},
		{"bureau,2026-12-01,category,1,bureau,1", "is the funder"},
		{"bureau,2026-12-01,category,1,*,1\nbureau,2026-12-01,category,1,*,2", "c.csv:3: concessions of bureau from 2026-12-01, share 1: kind, rider category and operator given at share 0"},
	} {
		_, err := DecodeConcessions("c.csv", strings.NewReader(ConcessionHeader+"\n"+tc.line+"\n"))
		if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want Invalid with %q", tc.line, err, tc.want)
		}
	}
	caps, err := DecodeCaps("caps.csv", strings.NewReader(CapHeader+"\nagent-7,2026-12-01,500000\n"))
	if err != nil || len(caps) != 1 || caps[0].CapFen != 500000 {
		t.Errorf("caps %+v, %v", caps, err)
	}
	if _, err := DecodeCaps("caps.csv", strings.NewReader(CapHeader+"\nagent-7,2026-12-01,-1\n")); !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "caps.csv:2: field cap_fen") {
		t.Errorf("a negative cap: %v", err)
	}
}

// FuzzDecodeConcessions: whatever decodes writes back to bytes that
// decode to the same versions.
func FuzzDecodeConcessions(f *testing.F) {
	f.Add(ConcessionHeader + "\nbureau,2026-12-01,category,2,*,900000\nbureau,2026-12-01,transfer,*,nb-metro,5\n")
	f.Add(CapHeader + "\nagent-7,2026-12-01,500000\n")
	f.Fuzz(func(t *testing.T, s string) {
		if vs, err := DecodeConcessions("f", strings.NewReader(s)); err == nil {
			var b strings.Builder
			if err := EncodeConcessions(&b, vs); err != nil {
				t.Fatal(err)
			}
			again, err := DecodeConcessions("f", strings.NewReader(b.String()))
			if err != nil || len(again) != len(vs) {
				t.Fatalf("%q decoded, wrote %q: %v", s, b.String(), err)
			}
		}
		if cs, err := DecodeCaps("f", strings.NewReader(s)); err == nil {
			var b strings.Builder
			_ = EncodeCaps(&b, cs)
			if again, err := DecodeCaps("f", strings.NewReader(b.String())); err != nil || len(again) != len(cs) {
				t.Fatalf("%q decoded, wrote %q: %v", s, b.String(), err)
			}
		}
	})
}

// TestTableFares prices category discounts with the sample Ningbo fare
// table (../fare/testdata/ningbo: student 50%, senior 0%): a metro leg
// from Gaoqiao to Fuming is 4.00 for an adult, a bus boarding 2.00.
func TestTableFares(t *testing.T) {
	tab, err := fare.Load(os.DirFS("../fare/testdata/ningbo"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewTableFares(tab)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 8, 40, 0, 0, citycard.ChinaTime)
	d, tm := citycard.DateTime(at)
	ed, et := citycard.DateTime(at.Add(-40 * time.Minute))
	metro := func(cat uint8, full, fen uint32) record.Record {
		return record.Record{Type: citycard.TxCompositePurchase, RiderCategory: cat, Date: d, Time: tm, Network: 2, Line: 1, Station: 106,
			EntryLine: 1, EntryStation: 101, EntryDate: ed, EntryTime: et, Amount: fen, FareFull: full}
	}
	bus := func(cat uint8, full, fen uint32) record.Record {
		return record.Record{Type: citycard.TxCompositePurchase, RiderCategory: cat, Date: d, Time: tm, Network: 1, Line: 1, Station: 1001, Amount: fen, FareFull: full}
	}
	for _, tc := range []struct {
		name string
		rec  record.Record
		fen  uint32
		ok   bool
	}{
		{"an adult's metro leg", metro(0, 400, 400), 0, true},
		{"a student's metro leg", metro(student, 200, 200), 200, true},
		{"a senior's free metro leg", metro(senior, 0, 0), 400, true},
		{"a student's bus on a transfer", bus(student, 100, 50), 100, true},
		{"a student's metro leg stating an adult's full fare", metro(student, 400, 400), 0, false},
		{"a student's metro tap-on", func() record.Record { r := bus(student, 0, 0); r.Network, r.Line, r.Station = 2, 1, 101; return r }(), 0, true},
		{"a POS purchase", func() record.Record { r := bus(student, 100, 100); r.Type = citycard.TxPurchase; return r }(), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fen, ok := f.CategoryDiscount(&tc.rec)
			if fen != tc.fen || ok != tc.ok {
				t.Errorf("CategoryDiscount = %d, %v; want %d, %v", fen, ok, tc.fen, tc.ok)
			}
		})
	}
	if f.Version() != tab.Version() {
		t.Errorf("version %q, want the table's %q", f.Version(), tab.Version())
	}
}

// TestClaimedTopUpLoads: a remote top-up's claim is a load from the
// issuer's top-up pending account (or an error receivable, for a late
// TAC after its refund): gathered as a load through the issuer itself,
// counted, moving no position and earning no commission. Before, GatherLoads
// refused the entry (Invalid) and the cycle could not be cleared.
func TestClaimedTopUpLoads(t *testing.T) {
	ctx := context.Background()
	cut := DefaultCalendar().End(day1)
	claim := func(seq int64, from ledger.Account, fen int64) ledger.Posted {
		return ledger.Posted{Seq: seq, Time: cut.Add(-time.Hour), Entry: ledger.Entry{Key: "k", Type: ledger.EntryLoad, Postings: ledger.Transfer(
			from, ledger.Account{Type: ledger.CardFloat, Party: our}, fen)}}
	}
	claimed := claim(2, ledger.Account{Type: ledger.TopUpPending, Party: our}, 5000)
	l := fakeLedger{
		loadEntry(1, cut.Add(-2*time.Hour), ledger.EntryLoad, agent, our, 20_000),
		claimed,
		reversalOf(3, cut.Add(-time.Hour), claimed), // the claim reversed: the card never credited it
		claim(4, ledger.Account{Type: ledger.ErrorReceivable, Party: "alipay"}, 3000),
	}
	lc, loads, _, err := GatherLoads(ctx, l, 0, time.Time{}, cut)
	if err != nil {
		t.Fatalf("gathering claims: %v", err)
	}
	if len(loads) != 4 || loads[1] != (Load{Seq: 2, Channel: our, Issuer: our, AmountFen: 5000}) || loads[3].Channel != our {
		t.Fatalf("loads %+v", loads)
	}
	cfg := exampleConfig()
	cfg.Fees = nil
	rule := FeeRule{Name: "agent", RatePPM: 2000, MinFen: 10, MaxFen: 100}
	cfg.Commissions = []FeeSchedule{{Party: agent, Rules: []FeeRule{rule}}}
	in := loadInput(day1)
	in.LoadClaim, in.Loads = lc, loads
	res, err := mustClearer(t, cfg).Clear(in)
	if err != nil {
		t.Fatalf("clearing claims: %v", err)
	}
	want := CommissionLine{Channel: agent, Issuer: our, Rule: "agent", Loads: 1, LoadedFen: 20_000, CommissionFen: 40}
	if len(res.Commissions) != 1 || res.Commissions[0] != want {
		t.Errorf("commissions %+v, want the agent's alone, %+v", res.Commissions, want)
	}
	if res.Loaded != (Totals{Count: 2, AmountFen: 23_000}) { // the agent's load and the late TAC's: the reversed claim counts as none
		t.Errorf("loaded %+v", res.Loaded)
	}
	net := map[string]int64{}
	for _, p := range res.Positions {
		net[p.Party] = p.NetFen
	}
	if net[agent] != -20_000+40 || net[our] != 20_000-40 || net["alipay"] != 0 {
		t.Errorf("positions %+v", res.Positions)
	}
}

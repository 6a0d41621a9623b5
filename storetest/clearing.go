package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

// ClearingStore is what clearing reads of a store's journal and where it
// keeps its cycles.
type ClearingStore interface {
	clearing.Journal
	interop.Journal // the grey records an OUT file sends
	clearing.Store
	clearing.FeeStore
	clearing.AdjustmentStore
	clearing.ParamStore
}

// ClearingStores is what one clearing test gets, over one fresh database.
type ClearingStores struct {
	Journal  acquire.Journal
	Clearing ClearingStore
	// Exec as in Stores.
	Exec func(ctx context.Context, stmts ...string) error
	// Forget deletes every chunk's totals, behind the store's triggers, as
	// a journal committed before they were kept lacks them.
	Forget func(ctx context.Context) error
	// Reopen opens the database again, as a new process does.
	Reopen func(t *testing.T) ClearingStore
}

// RunClearing runs the clearing storage suite.
func RunClearing(t *testing.T, open func(t *testing.T) ClearingStores) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ClearingStores)
	}{
		{"ClaimByCommitTime", testClaimByCommitTime},
		{"ClaimRefusesMissingTotals", testClaimRefusesMissingTotals},
		{"TotalsBackfilled", testTotalsBackfilled},
		{"Cycles", testCycles},
		{"GreyConfirmedInALaterCycle", testGreyConfirmedInALaterCycle},
		{"GreyReversedInALaterCycle", testGreyReversedInALaterCycle},
		{"FeeVersions", testFeeVersions},
		{"CycleUnderStoredFees", testCycleUnderStoredFees},
		{"Adjustments", testAdjustments},
		{"ParamVersions", testParamVersions},
		{"CycleUnderStoredParams", testCycleUnderStoredParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var (
	clearIssuer = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	clearTerm   = citycard.TerminalID{0x31, 0x50, 0x01, 0, 0, 1}
	clearDay    = clearing.DayOf(2026, 12, 1)
)

// commitAt commits one batch of n purchases of fen each, at at, directly
// to the journal (no acquirer: the records need not verify here).
func commitAt(t *testing.T, j acquire.Journal, at time.Time, id string, first int64, n int, fen uint32) {
	t.Helper()
	commitFull(t, j, at, id, first, n, fen, 0)
}

// commitFull is commitAt of records stating a full fare of fullFen.
func commitFull(t *testing.T, j acquire.Journal, at time.Time, id string, first int64, n int, fen, fullFen uint32) {
	t.Helper()
	c := &acquire.Commit{At: at, Batches: []acquire.StoredBatch{{Terminal: clearTerm, ID: id, Answer: []byte("{}"), At: at}}, Movements: [][]acquire.Movement{nil}}
	for i := range n {
		r := record.Record{Type: citycard.TxPurchase, Issuer: clearIssuer, CardType: 1, Counter: uint16(first) + uint16(i), Amount: fen, BalanceBefore: 100000, TerminalID: clearTerm,
			PSAMID: citycard.PSAMID{1, 2, 3, 4, 5, 6}, TerminalSeq: uint32(first) + uint32(i)}
		r.FareFull = fullFen
		r.Date, r.Time = citycard.DateTime(at.In(citycard.ChinaTime))
		r.ASN[9] = byte(i) + 1 // never zero: a record decodes only with a diversification input
		e := acquire.Journaled{Pos: first + int64(i), Terminal: clearTerm, BatchID: id, Outcome: acquire.OutcomeVerified, Class: acquire.ClassBooked}
		copy(e.Raw[:], r.AppendBinary(nil))
		c.Entries = append(c.Entries, e)
	}
	if err := j.Commit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

// testClaimByCommitTime: a cycle claims the entries committed before its
// cut-off after the previous cycle's range (clearing/doc.go), with the
// store's own count and sum; the entries come back with their commit
// times.
func testClaimByCommitTime(t *testing.T, s ClearingStores) {
	ctx := context.Background()
	cal := clearing.DefaultCalendar()
	end := cal.End(clearDay)
	commitAt(t, s.Journal, end.Add(-2*time.Hour), "a", 1, 3, 100)
	commitAt(t, s.Journal, end.Add(-time.Nanosecond), "b", 4, 2, 250)
	commitAt(t, s.Journal, end, "c", 6, 4, 7) // at the cut-off: the next day's

	cl, err := s.Clearing.Claim(ctx, 0, end)
	if err != nil {
		t.Fatal(err)
	}
	want := clearing.Claim{Range: clearing.Range{From: 0, To: 5}, Totals: clearing.Totals{Count: 5, AmountFen: 800}}
	if cl != want {
		t.Fatalf("claim %+v, want %+v", cl, want)
	}
	var pos []int64
	var ats []time.Time
	err = s.Clearing.Records(ctx, cl.Range, func(e *acquire.Journaled, at time.Time) error {
		pos = append(pos, e.Pos)
		ats = append(ats, at)
		return nil
	})
	if err != nil || len(pos) != 5 || pos[0] != 1 || pos[4] != 5 || !ats[0].Equal(end.Add(-2*time.Hour)) || !ats[4].Equal(end.Add(-time.Nanosecond)) {
		t.Fatalf("entries %v at %v (%v)", pos, ats, err)
	}
	next, err := s.Clearing.Claim(ctx, 5, cal.End(clearDay+1))
	if err != nil || next != (clearing.Claim{Range: clearing.Range{From: 5, To: 9}, Totals: clearing.Totals{Count: 4, AmountFen: 28}}) {
		t.Fatalf("next day's claim %+v (%v)", next, err)
	}
	// A claim from inside a chunk is refused: ranges end at chunks.
	if _, err := s.Clearing.Claim(ctx, 2, end); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("claim from inside a chunk: %v, want Invalid", err)
	}
	// The totals are append-only, as the journal is.
	for _, stmt := range []string{"UPDATE acquire_chunk_totals SET amount_fen = 0", "DELETE FROM acquire_chunk_totals"} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
}

// testClaimRefusesMissingTotals: a chunk written without its totals (as
// one committed before they were kept) makes the claim fail, naming the
// counts, rather than claim a range whose sum it does not know; and a
// read that drops it fails the cycle's completeness check (the issue's
// Mojaloop join).
func testClaimRefusesMissingTotals(t *testing.T, s ClearingStores) {
	ctx := context.Background()
	end := clearing.DefaultCalendar().End(clearDay)
	commitAt(t, s.Journal, end.Add(-time.Hour), "a", 1, 2, 100)
	// A copy of the chunk at 1, written at 3 behind the platform's back.
	stmt := "INSERT INTO acquire_journal (first_pos, n, terminal, batch_id, data) SELECT 3, n, terminal, 'x', data FROM acquire_journal WHERE first_pos = 1"
	if err := s.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	_, err := s.Clearing.Claim(ctx, 0, end)
	if !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("a chunk without totals: %v, want Conflict", err)
	}
}

// testTotalsBackfilled: a journal whose chunks were committed before
// their totals were kept cannot be claimed; opened again, the store
// backfills the totals (each chunk's commit time its batch's) and the
// claim is the one the totals kept at commit gave.
func testTotalsBackfilled(t *testing.T, s ClearingStores) {
	ctx := context.Background()
	end := clearing.DefaultCalendar().End(clearDay)
	commitAt(t, s.Journal, end.Add(-2*time.Hour), "a", 1, 3, 100)
	commitAt(t, s.Journal, end.Add(-time.Nanosecond), "b", 4, 2, 250)
	commitAt(t, s.Journal, end, "c", 6, 4, 7)
	want, err := s.Clearing.Claim(ctx, 0, end)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Clearing.Claim(ctx, 0, end); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("a journal without totals claimed: %v, want Conflict", err)
	}
	again := s.Reopen(t)
	got, err := again.Claim(ctx, 0, end)
	if err != nil || got != want || want.Count != 5 || want.AmountFen != 800 {
		t.Fatalf("after the backfill: %+v (%v), want %+v", got, err, want)
	}
	var ats []time.Time
	err = again.Records(ctx, clearing.Range{From: 5, To: 9}, func(_ *acquire.Journaled, at time.Time) error { ats = append(ats, at); return nil })
	if err != nil || len(ats) != 4 || !ats[0].Equal(end) {
		t.Errorf("the backfilled commit times: %v (%v), want 4 at %v", ats, err, end)
	}
}

// testCycles: a cycle is stored and read back as it was, result and
// files included; a save from a stale state is refused; a closed cycle
// cannot be changed, through the store or behind its back.
func testCycles(t *testing.T, s ClearingStores) {
	ctx := context.Background()
	cal := clearing.DefaultCalendar()
	at := cal.End(clearDay).Add(time.Hour + 123)
	c := clearing.Open(cal, clearDay, cal.Start(clearDay))
	if err := s.Clearing.Save(ctx, &clearing.Stored{Cycle: c}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Clearing.Save(ctx, &clearing.Stored{Cycle: c}, 0); !citycard.IsKind(err, citycard.Exists) {
		t.Errorf("opened twice: %v, want Exists", err)
	}
	if _, ok, err := s.Clearing.Before(ctx, clearDay); ok || err != nil {
		t.Errorf("a cycle before the first: %v %v", ok, err)
	}
	if _, err := s.Clearing.Cycle(ctx, clearDay+1); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("a day never opened: %v, want NotFound", err)
	}
	res := &clearing.Result{Day: clearDay, Claim: clearing.Claim{Range: clearing.Range{To: 3}, Totals: clearing.Totals{Count: 3, AmountFen: 600}},
		Cleared:   clearing.Totals{Count: 3, AmountFen: 600},
		Lines:     []clearing.Line{{Issuer: clearIssuer.String(), Operator: "bus", TerminalType: registry.TerminalBusValidator, Rule: "none", Records: 3, GrossFen: 600}},
		Positions: []clearing.Position{{Party: clearIssuer.String(), PayableFen: 600, NetFen: -600}, {Party: "bus", ReceivableFen: 600, NetFen: 600}},
		Rounding:  []clearing.RoundingLine{{Party: "bus", RemainderMicro: 7, CarryOutMicro: 7}}, RoundingAccount: clearing.DefaultRoundingAccount, Collector: clearIssuer.String()}
	steps := []func(clearing.Cycle) (clearing.Cycle, error){
		func(c clearing.Cycle) (clearing.Cycle, error) {
			c, err := c.Compute(res.Claim.Range, 0, at)
			c.ComputedBy = "carl"
			return c, err
		},
		func(c clearing.Cycle) (clearing.Cycle, error) { return c.Review("ann", at.Add(1)) },
		func(c clearing.Cycle) (clearing.Cycle, error) { return c.Approve("bob", at.Add(2)) },
		func(c clearing.Cycle) (clearing.Cycle, error) {
			c, err := c.Close(at.Add(3))
			c.ClosedBy = "dora"
			return c, err
		},
	}
	cur := clearing.Stored{Cycle: c}
	for i, step := range steps {
		next, err := step(cur.Cycle)
		if err != nil {
			t.Fatal(err)
		}
		st := clearing.Stored{Cycle: next, Result: res}
		if next.State == clearing.Closed {
			st.Files = []clearing.File{{Name: "positions.csv", SHA256: "ab", Size: 10}}
		}
		if i < 2 {
			if err := s.Clearing.Save(ctx, &st, clearing.Approved); !citycard.IsKind(err, citycard.Conflict) {
				t.Errorf("step %d saved from a state it was not in: %v, want Conflict", i, err)
			}
		}
		if err := s.Clearing.Save(ctx, &st, cur.Cycle.State); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := s.Clearing.Cycle(ctx, clearDay)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Cycle.Cutoff.Equal(st.Cycle.Cutoff) || !got.Cycle.ComputedAt.Equal(st.Cycle.ComputedAt) || !got.Cycle.ClosedAt.Equal(st.Cycle.ClosedAt) {
			t.Fatalf("step %d: times %+v, want %+v", i, got.Cycle, st.Cycle)
		}
		got.Cycle.Cutoff, got.Cycle.OpenedAt, got.Cycle.ComputedAt, got.Cycle.ReviewedAt, got.Cycle.ApprovedAt, got.Cycle.ClosedAt = st.Cycle.Cutoff, st.Cycle.OpenedAt, st.Cycle.ComputedAt, st.Cycle.ReviewedAt, st.Cycle.ApprovedAt, st.Cycle.ClosedAt
		if !reflect.DeepEqual(got, st) {
			t.Fatalf("step %d: read back\n%+v\nwant\n%+v", i, got, st)
		}
		if got.Cycle.SettlementVersion != clearing.SettlementCurrent {
			t.Fatalf("step %d: settlement version %d read back, want the compute's, %d", i, got.Cycle.SettlementVersion, clearing.SettlementCurrent)
		}
		cur = st
	}
	if prev, ok, err := s.Clearing.Before(ctx, clearDay+5); !ok || err != nil || prev.Cycle.Day != clearDay || prev.Cycle.State != clearing.Closed {
		t.Errorf("the cycle before day +5: %+v %v %v", prev.Cycle, ok, err)
	}
	reopened := cur
	reopened.Cycle.State = clearing.Opened
	if err := s.Clearing.Save(ctx, &reopened, clearing.Closed); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a closed cycle changed: %v, want Invalid", err)
	}
	for _, stmt := range []string{"UPDATE clearing_cycles SET range_to = 9", "UPDATE clearing_cycles SET settlement_version = 0", "DELETE FROM clearing_cycles"} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s on a closed cycle: allowed", stmt)
		}
	}
}

// greyRig is a small city of real devices uploading to an acquirer over
// the store, and the cycles over the same store: one card, a terminal per
// operator, the clock the test's.
type greyRig struct {
	t    *testing.T
	city *sim.DeviceCity
	a    *acquire.Acquirer
	cs   *clearing.Cycles
	now  time.Time
	n    int
}

func newGreyRig(t *testing.T, s ClearingStores, operators ...string) *greyRig {
	t.Helper()
	ctx := context.Background()
	cal := clearing.DefaultCalendar()
	stops := make([]sim.DeviceStop, len(operators))
	for i := range stops {
		stops[i] = sim.DeviceStop{Mode: terminal.ModePOS}
	}
	g := &greyRig{t: t, now: cal.Start(clearDay).Add(8 * time.Hour)}
	var err error
	g.city, err = sim.NewDeviceCity(sim.DeviceConfig{Seed: 4, Alg: keys.Alg3DES, Fare: terminal.FlatFare{Fen: 200}, Stops: stops,
		Cards: make([]sim.DeviceCard, 1), Start: cal.Start(clearDay).AddDate(0, 0, -1)})
	if err != nil {
		t.Fatal(err)
	}
	ts := acquire.TerminalMap{}
	clearTerms := clearTerminals{}
	for i, tm := range g.city.Terminals {
		ts[tm.ID] = acquire.TerminalInfo{ID: tm.ID, PSAM: tm.PSAM, Operator: operators[i], OperatorCode: tm.OperatorCode, Active: true}
		clearTerms[tm.ID] = clearing.TerminalInfo{Operator: operators[i], Type: registry.TerminalPOS}
	}
	clock := func() time.Time { return g.now }
	g.a, err = acquire.Open(ctx, acquire.Config{Journal: s.Journal, Terminals: ts, Verifier: record.NewVerifier(g.city.Store, sim.Issuer), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.a.Close() })
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: sim.Issuer.String(), Rounding: clearing.RoundDown})
	if err != nil {
		t.Fatal(err)
	}
	g.cs = &clearing.Cycles{Clearer: clr, Store: s.Clearing, Journal: s.Clearing, Terminals: clearTerms, Now: clock}
	return g
}

// tap taps the card on stop i at hour h of day d; a torn tap's error is
// its grey result's.
func (g *greyRig) tap(d clearing.Day, h, stop int, fen uint32) terminal.Result {
	g.t.Helper()
	g.now = clearing.DefaultCalendar().Start(d).Add(time.Duration(h) * time.Hour)
	r, err := g.city.Tap(0, stop, g.now, fen)
	if err != nil && !r.Grey {
		g.t.Fatal(err)
	}
	return r
}

// take returns what stop's terminal spooled since it was last taken.
func (g *greyRig) take(stop int) sim.Upload {
	for _, u := range g.city.Uploads() {
		if u.Terminal.ID == g.city.Terminals[stop].ID {
			return u
		}
	}
	return sim.Upload{}
}

// upload uploads u at hour h of day d.
func (g *greyRig) upload(d clearing.Day, h int, u sim.Upload) {
	g.t.Helper()
	g.now = clearing.DefaultCalendar().Start(d).Add(time.Duration(h) * time.Hour)
	g.n++
	b := acquire.Batch{Terminal: u.Terminal.ID, ID: fmt.Sprintf("u%d", g.n), Count: len(u.Records), AmountFen: u.GenuineFen}
	for _, r := range u.Records {
		b.Body = append(b.Body, r...)
	}
	if ans, err := g.a.Submit(context.Background(), b); err != nil || ans.Rejected != 0 {
		g.t.Fatalf("upload %d: %+v %v", g.n, ans, err)
	}
}

// clear runs day d's cycle an hour after its cut-off, approves and closes
// it, and returns its result and the net position of each party.
func (g *greyRig) clear(d clearing.Day) (*clearing.Result, map[string]int64) {
	g.t.Helper()
	ctx := context.Background()
	g.now = clearing.DefaultCalendar().End(d).Add(time.Hour)
	st, err := g.cs.Run(ctx, d, "carl")
	if err != nil {
		g.t.Fatal(err)
	}
	for _, by := range []string{"ann", "bob"} {
		if _, err := g.cs.Approve(ctx, d, by); err != nil {
			g.t.Fatal(err)
		}
	}
	if _, err := g.cs.Close(ctx, d, "dora", func(*clearing.Cycle, *clearing.Result) ([]clearing.File, error) { return nil, nil }); err != nil {
		g.t.Fatal(err)
	}
	net := map[string]int64{}
	for _, p := range st.Result.Positions {
		net[p.Party] = p.NetFen
	}
	return st.Result, net
}

// testGreyConfirmedInALaterCycle: the grey record, end to end
// through the acquirer, the store and the cycles: a tap tears after the
// card debited (a grey record, in suspense, on the bus on day 1); the
// card's next tap, in the metro on day 2, confirms it. Day 1 pays the bus
// nothing; day 2 pays it the grey fare, in the cycle of the confirmation,
// and the metro its own.
func testGreyConfirmedInALaterCycle(t *testing.T, s ClearingStores) {
	g := newGreyRig(t, s, "bus", "metro")
	d1, d2 := clearDay, clearDay+1
	g.city.Cards[0].Tear(card.TearAfterCommit)
	if r := g.tap(d1, 10, 0, 150); !r.Grey {
		t.Fatal("no grey record")
	}
	g.upload(d1, 11, g.take(0))
	res, net := g.clear(d1)
	if len(net) != 0 || res.Suspense != (clearing.Totals{Count: 1, AmountFen: 150}) {
		t.Errorf("day 1: positions %v, suspense %+v; want none, the grey in suspense", net, res.Suspense)
	}
	// Day 2: the card taps the metro, its next counter and the balance the
	// grey debit left.
	g.tap(d2, 9, 1, 300)
	g.upload(d2, 10, g.take(1))
	res, net = g.clear(d2)
	if net["bus"] != 150 || net["metro"] != 300 || net[sim.Issuer.String()] != -450 || res.Confirmed != (clearing.Totals{Count: 1, AmountFen: 150}) {
		t.Errorf("day 2: positions %v, confirmed %+v; want the bus paid the grey's 150 and the metro its 300", net, res.Confirmed)
	}
	// The store keeps the decision at the metro's entry (2), naming the
	// grey record's own (1).
	var gs []acquire.GreyDecision
	if err := s.Clearing.Greys(context.Background(), clearing.Range{From: 0, To: 2}, func(g *acquire.GreyDecision) error {
		gs = append(gs, *g)
		return nil
	}); err != nil || len(gs) != 1 || gs[0].Pos != 2 || gs[0].GreyPos != 1 || gs[0].Move != acquire.GreyConfirmed {
		t.Errorf("the grey decisions stored: %+v %v; want the confirmation at 2 of the grey at 1", gs, err)
	}
	// The grey record is read back by its position (interop.Journal).
	if e, err := s.Clearing.Journaled(context.Background(), 1); err != nil || e.Pos != 1 || e.Outcome != acquire.OutcomeGrey || e.Terminal != g.city.Terminals[0].ID {
		t.Errorf("journaled record 1: %+v %v; want the bus's grey record", e, err)
	}
	if e, err := s.Clearing.Journaled(context.Background(), 2); err != nil || e.Pos != 2 || e.Terminal != g.city.Terminals[1].ID {
		t.Errorf("journaled record 2: %+v %v; want the metro's record", e, err)
	}
	if _, err := s.Clearing.Journaled(context.Background(), 3); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("journaled record 3, past the journal: %v, want NotFound", err)
	}
}

// testGreyReversedInALaterCycle: a confirmation on the balance taken
// back in a later cycle (acquire/doc.go: "if the grey had been confirmed
// on the balance (that tap charged the same amount), the confirmation is
// reversed, the grey's operator repaying the float"). The bus tap tears
// before the card debited; the metro then charges the same 120 at the
// same counter, and the shop 200 at the next. The shop's record, uploaded
// on day 2, shows the balance the grey debit would have left: the grey is
// confirmed and day 2 pays the bus. The metro's record, uploaded on day
// 3, shows the debit was the metro's: day 3 takes the 120 back from the
// bus and pays the metro.
func testGreyReversedInALaterCycle(t *testing.T, s ClearingStores) {
	g := newGreyRig(t, s, "bus", "metro", "shop")
	d1, d2, d3 := clearDay, clearDay+1, clearDay+2
	g.tap(d1, 8, 0, 50)
	g.upload(d1, 8, g.take(0))
	g.city.Cards[0].Tear(card.TearBeforeCommit)
	if r := g.tap(d1, 9, 0, 120); !r.Grey {
		t.Fatal("no grey record")
	}
	grey := g.take(0)
	g.tap(d1, 10, 1, 120)
	metro := g.take(1)
	g.tap(d1, 11, 2, 200)
	shop := g.take(2)
	g.upload(d1, 12, grey)
	if _, net := g.clear(d1); net["bus"] != 50 || len(net) != 2 {
		t.Errorf("day 1: %v, want the bus's first fare alone", net)
	}
	g.upload(d2, 9, shop)
	res, net := g.clear(d2)
	if net["bus"] != 120 || net["shop"] != 200 || res.Confirmed.AmountFen != 120 {
		t.Errorf("day 2: %v, confirmed %+v; want the bus paid the grey on the shop's balance", net, res.Confirmed)
	}
	g.upload(d3, 9, metro)
	res, net = g.clear(d3)
	if net["bus"] != -120 || net["metro"] != 120 || net[sim.Issuer.String()] != 0 || res.Reversed != (clearing.Totals{Count: 1, AmountFen: 120}) {
		t.Errorf("day 3: %v, reversed %+v; want the bus to repay 120 and the metro paid it", net, res.Reversed)
	}
}

// clearTerminals answers clearing's terminal look-ups from a map.
type clearTerminals map[citycard.TerminalID]clearing.TerminalInfo

func (m clearTerminals) Terminal(_ context.Context, id citycard.TerminalID) (clearing.TerminalInfo, error) {
	ti, ok := m[id]
	if !ok {
		return ti, citycard.E("storetest.clearTerminals", citycard.NotFound, "no terminal %v", id)
	}
	return ti, nil
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/interop/interoptest"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
)

// InteropStores is what one interconnection test gets, over one fresh
// database.
type InteropStores struct {
	Journal  acquire.Journal
	Clearing ClearingStore
	Interop  interop.Store
	Ledger   ledger.Store
	// Exec as in Stores.
	Exec func(ctx context.Context, stmts ...string) error
}

// RunInterop runs the interconnection's storage suite.
func RunInterop(t *testing.T, open func(t *testing.T) InteropStores) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s InteropStores)
	}{
		{"RoundTrip", testInteropRoundTrip},
		{"RefusesCorrupt", testInteropRefusesCorrupt},
		{"AnsweredOnce", testInteropAnsweredOnce},
		{"ImportAtomic", testInteropImportAtomic},
		{"ErrorsAndDisputes", testInteropErrorsAndDisputes},
		{"CitiesAndBlacklists", testInteropCitiesAndBlacklists},
		{"AppendOnly", testInteropAppendOnly},
		{"RecoveredForeign", testInteropRecoveredForeign},
		{"IncomingLate", testInteropIncomingLate},
		{"ConfirmedForeign", testInteropConfirmedForeign},
		{"ConfirmedForeignRejected", testInteropConfirmedForeignRejected},
		{"ConfirmedForeignLate", testInteropConfirmedForeignLate},
		{"GreyNotSent", testInteropGreyNotSent},
		{"Cases", testInteropCases},
		{"FloatMoves", testInteropFloatMoves},
		{"CardRecords", testInteropCardRecords},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// The two cities of the interconnection tests: ours (Ningbo's code,
// the issuer the sim names) and the counterpart (Shanghai's).
var (
	interopOurs = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	interopThem = citycard.IssuerCode{0x20, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	centre      = citycard.IssuerCode{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}
)

// interopRig is our back office (acquisition, cycles and the
// interconnection over the stores) and two cities of devices: ours,
// whose cards travel to the counterpart's terminals, and the
// counterpart's, whose cards (and one counterfeit) tap ours.
type interopRig struct {
	t          *testing.T
	s          InteropStores
	ours, them *interoptest.City
	fake       int // the counterfeit's index in them.Cards
	a          *acquire.Acquirer
	cs         *clearing.Cycles
	x          *interop.Interop
	now        time.Time
	n          int
}

func newInteropRig(t *testing.T, s InteropStores) *interopRig {
	t.Helper()
	ctx := context.Background()
	cal := clearing.DefaultCalendar()
	g := &interopRig{t: t, s: s, now: cal.Start(clearDay).Add(8 * time.Hour)}
	national := make([]byte, 16)
	for i := range national {
		national[i] = byte(7*i + 1)
	}
	start := cal.Start(clearDay).AddDate(0, 0, -1)
	var err error
	if g.ours, err = interoptest.NewCity(interoptest.Config{Seed: 1, Code: interopOurs, National: national, Operator: "nb-bus", Terminals: 2, Cards: 3, Start: start}); err != nil {
		t.Fatal(err)
	}
	if g.them, err = interoptest.NewCity(interoptest.Config{Seed: 2, Code: interopThem, National: national, Operator: "sh-metro", Terminals: 2, Cards: 3, Start: start}); err != nil {
		t.Fatal(err)
	}
	fake, err := g.them.Counterfeit()
	if err != nil {
		t.Fatal(err)
	}
	g.them.Cards = append(g.them.Cards, fake)
	g.fake = len(g.them.Cards) - 1
	ts := acquire.TerminalMap{}
	clearTerms := clearTerminals{}
	for _, tm := range g.ours.Terminals {
		ts[tm.ID] = acquire.TerminalInfo{ID: tm.ID, PSAM: tm.PSAM, Operator: g.ours.Operator, OperatorCode: g.ours.OperatorCode, Active: true}
		clearTerms[tm.ID] = clearing.TerminalInfo{Operator: g.ours.Operator, Type: registry.TerminalPOS}
	}
	clock := func() time.Time { return g.now }
	g.a, err = acquire.Open(ctx, acquire.Config{Journal: s.Journal, Terminals: ts, Verifier: record.NewVerifier(g.ours.Store, interopOurs), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.a.Close() })
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: interopOurs.String(), Rounding: clearing.RoundDown})
	if err != nil {
		t.Fatal(err)
	}
	g.cs = &clearing.Cycles{Clearer: clr, Store: s.Clearing, Journal: s.Clearing, Terminals: clearTerms, Now: clock}
	g.x = &interop.Interop{Own: interopOurs, Centre: centre, Store: s.Interop, Cycles: g.cs, Journal: s.Clearing, Verifier: record.NewVerifier(g.ours.Store, interopOurs), Now: clock}
	g.cs.Interconnect = g.x
	return g
}

// at sets the clock to hour h of day d.
func (g *interopRig) at(d clearing.Day, h int) time.Time {
	g.now = clearing.DefaultCalendar().Start(d).Add(time.Duration(h) * time.Hour)
	return g.now
}

// visit taps the counterpart's cards on our terminal 0 (the counterfeit
// on terminal 1) on day d for fens, and uploads what our terminals took.
func (g *interopRig) visit(d clearing.Day, fens ...uint32) {
	g.t.Helper()
	for i, fen := range fens {
		t := 0
		if i == g.fake {
			t = 1
		}
		if _, err := g.ours.Tap(g.them.Cards[i], t, g.at(d, 8+i), fen); err != nil {
			g.t.Fatalf("card %d of the counterpart on our terminal %d: %v", i, t, err)
		}
	}
	g.at(d, 20)
	g.upload()
}

// upload uploads what our terminals took since the last upload, each
// terminal's records in one batch, none rejected.
func (g *interopRig) upload() {
	g.t.Helper()
	for i, recs := range g.ours.Take() {
		if len(recs) != 0 {
			g.submit(i, recs)
		}
	}
}

// submit uploads recs, taken by our terminal i, in one batch, none
// rejected.
func (g *interopRig) submit(i int, recs [][]byte) {
	g.t.Helper()
	g.n++
	b := acquire.Batch{Terminal: g.ours.Terminals[i].ID, ID: fmt.Sprintf("u%d", g.n), Count: len(recs)}
	for _, r := range recs {
		fen, _ := record.AmountOf(r)
		b.AmountFen += int64(fen)
		b.Body = append(b.Body, r...)
	}
	if ans, err := g.a.Submit(context.Background(), b); err != nil || ans.Rejected != 0 {
		g.t.Fatalf("upload %d: %+v %v", g.n, ans, err)
	}
}

// travel taps our cards on the counterpart's terminals on day d (card i
// on terminal i%2) for fens, and returns the records they took.
func (g *interopRig) travel(d clearing.Day, fens ...uint32) [][]byte {
	g.t.Helper()
	for i, fen := range fens {
		if _, err := g.them.Tap(g.ours.Cards[i], i%2, g.at(d, 9+i), fen); err != nil {
			g.t.Fatalf("our card %d on the counterpart's terminal: %v", i, err)
		}
	}
	var out [][]byte
	for _, recs := range g.them.Take() {
		out = append(out, recs...)
	}
	return out
}

// clear runs day d's cycle an hour after its cut-off, approves and closes
// it, and returns its result and the net position of each party, which
// must sum to zero.
func (g *interopRig) clear(d clearing.Day) (*clearing.Result, map[string]int64) {
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
	var sum int64
	for _, p := range st.Result.Positions {
		net[p.Party] = p.NetFen
		sum += p.NetFen
	}
	if sum != 0 {
		g.t.Fatalf("cycle %v: positions sum to %d fen, want 0: %v", d, sum, net)
	}
	return st.Result, net
}

// balance returns the net (debits - credits) of account a.
func (g *interopRig) balance(a ledger.Account) int64 {
	g.t.Helper()
	b, err := g.s.Ledger.Balance(context.Background(), a)
	if err != nil {
		g.t.Fatal(err)
	}
	return b.NetFen()
}

// forgeTAC returns rec with its TAC changed: what a dishonest acquirer
// would claim.
func forgeTAC(t *testing.T, rec []byte) []byte {
	t.Helper()
	r, err := record.DecodeBinary(rec)
	if err != nil {
		t.Fatal(err)
	}
	r.TAC[0] ^= 0x5A
	return r.AppendBinary(nil)
}

// testInteropRoundTrip: the round trip with the simulated
// counterpart. Day 1: three of its cards and a counterfeit tap our
// terminals (pending their issuer: no position); our cards tap its
// terminals. Our OUT file is exported from the closed cycle (the same
// bytes every time); the counterpart verifies the TACs and answers,
// rejecting the counterfeit's; it sends the INC file of our cards'
// records, one with a forged TAC, which we reject. Day 2's cycle settles
// both files: the counterpart pays our operator for its cards' accepted
// records, we pay it for ours, the counterfeit's record is reversed in
// the ledger and paid to no one; positions sum to zero; day 3 takes
// nothing again.
func testInteropRoundTrip(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	d1, d2, d3 := clearDay, clearDay+1, clearDay+2
	g.visit(d1, 200, 300, 400, 500) // the last is the counterfeit's
	incRecs := g.travel(d1, 150, 250, 350)
	res, net := g.clear(d1)
	if res.Pending != (clearing.Totals{Count: 4, AmountFen: 1400}) || len(net) != 0 {
		t.Fatalf("day 1: pending %+v, positions %v; want 4 records of 1400 fen pending and no position", res.Pending, net)
	}
	receivable := ledger.Account{Type: ledger.InterconnectReceivable, Party: interopThem.String()}
	payable := ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}
	if g.balance(receivable) != 1400 || g.balance(payable) != -1400 {
		t.Fatalf("after acquisition: receivable %d, payable %d", g.balance(receivable), g.balance(payable))
	}

	if _, err := g.x.Export(ctx, d2); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("export of a day without a cycle: %v, want NotFound", err)
	}
	out, err := g.x.Export(ctx, d1)
	if err != nil {
		t.Fatal(err)
	}
	g.now = g.now.Add(5 * time.Hour) // another time of export: the file has none of it
	if again, err := g.x.Export(ctx, d1); err != nil || string(again) != string(out) {
		t.Fatalf("export again: %v, or other bytes:\n%s\n%s", err, again, out)
	}
	f, err := interop.Decode("out", out)
	if err != nil || len(f.Clearing) != 4 || f.Header.AmountFen != 1400 || f.Header.ID != g.x.OutgoingID(d1) {
		t.Fatalf("the OUT file: %+v %v", f, err)
	}

	ans, imp := g.answer(out)
	if imp.Already || imp.Accepted != (interop.Totals{Count: 3, AmountFen: 900}) || imp.Rejected != (interop.Totals{Count: 1, AmountFen: 500}) {
		t.Fatalf("answer imported: %+v", imp)
	}
	if again, err := g.x.Import(ctx, "ans.txt", ans); err != nil || !again.Already {
		t.Fatalf("the answer imported again: %+v %v, want a no-op", again, err)
	}
	// The counterfeit's record is reversed: the receivable and the
	// operator's payable both lose its 500.
	if g.balance(receivable) != 900 || g.balance(payable) != -900 {
		t.Fatalf("after the answer: receivable %d, payable %d; want 900 and -900", g.balance(receivable), g.balance(payable))
	}
	var states []string
	if err := s.Interop.Records(ctx, f.Header.ID, func(r *interop.Rec) error {
		states = append(states, r.State.String()+"/"+r.Reason.String())
		return nil
	}); err != nil || strings.Join(states, " ") != "accepted/accepted accepted/accepted accepted/accepted rejected/tac" {
		t.Fatalf("the OUT records answered: %v %v", states, err)
	}

	for i, r := range incRecs {
		if fen, _ := record.AmountOf(r); fen == 350 {
			incRecs[i] = forgeTAC(t, r)
		}
	}
	inc, err := g.them.Incoming(interopOurs, interop.Day(d1), g.now.Truncate(time.Second), incRecs)
	if err != nil {
		t.Fatal(err)
	}
	imp, err = g.x.Import(ctx, "inc.txt", inc)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Accepted != (interop.Totals{Count: 2, AmountFen: 400}) || imp.Rejected != (interop.Totals{Count: 1, AmountFen: 350}) {
		t.Fatalf("incoming imported: %+v", imp)
	}
	our, err := interop.Decode("our answer", imp.Answer)
	var rejected []string
	for _, a := range our.Answers {
		if !a.Accepted {
			rejected = append(rejected, fmt.Sprintf("%d/%v", a.AmountFen, a.Reason))
		}
	}
	if err != nil || len(our.Answers) != 3 || strings.Join(rejected, ",") != "350/tac" ||
		our.Header.Refers != "INC-"+interopThem.String()+"-"+interop.Day(d1).String() || our.Header.Receiver != interopThem {
		t.Fatalf("our answer to the INC file: %+v %v", our, err)
	}
	if stored, err := s.Interop.File(ctx, interop.AnswerID(our.Header.Refers)); err != nil || string(stored.Body) != string(imp.Answer) || !stored.Sent {
		t.Fatalf("our answer stored: %+v %v", stored, err)
	}
	if again, err := g.x.Import(ctx, "inc.txt", inc); err != nil || !again.Already {
		t.Fatalf("the INC file imported again: %+v %v, want a no-op", again, err)
	}
	// The same record in another INC file is a duplicate, never paid twice.
	dup, err := g.them.Incoming(interopOurs, interop.Day(d1)+1, g.now.Truncate(time.Second), incRecs[:1])
	if err != nil {
		t.Fatal(err)
	}
	if imp, err := g.x.Import(ctx, "dup.txt", dup); err != nil || imp.Accepted.Count != 0 || imp.Rejected.Count != 1 {
		t.Fatalf("an accepted record in another INC file: %+v %v, want it rejected", imp, err)
	} else if our, err := interop.Decode("dup answer", imp.Answer); err != nil || our.Answers[0].Reason != interop.ReasonDuplicate {
		t.Fatalf("our answer to the duplicate: %+v %v", our, err)
	}
	float := ledger.Account{Type: ledger.CardFloat, Party: interopOurs.String()}
	if g.balance(receivable) != 500 || g.balance(float) != 400 {
		t.Fatalf("after the incoming file: receivable %d, our float's debits %d; want 500 and 400", g.balance(receivable), g.balance(float))
	}

	// Day 1's cycle, closed, is as it was: the answer and the reversal
	// are the next cycle's.
	if c1, err := g.cs.Cycle(ctx, d1); err != nil || c1.Result.Pending != res.Pending || len(c1.Result.Positions) != 0 || len(c1.Result.InteropFiles) != 0 {
		t.Fatalf("day 1's cycle after the answer: %+v %v", c1.Result, err)
	}
	res, net = g.clear(d2)
	wantFiles := []string{"ANS-" + interopThem.String() + "-" + interop.Day(d1).String(), our.Header.Refers, "INC-" + interopThem.String() + "-" + (interop.Day(d1) + 1).String()} // by ID
	if strings.Join(res.InteropFiles, ",") != strings.Join(wantFiles, ",") {
		t.Errorf("day 2 took files %v, want %v", res.InteropFiles, wantFiles)
	}
	want := clearing.InteropTotals{Accepted: clearing.Totals{Count: 3, AmountFen: 900}, Rejected: clearing.Totals{Count: 1, AmountFen: 500}, Incoming: clearing.Totals{Count: 2, AmountFen: 400}}
	if res.Interop != want {
		t.Errorf("day 2 settled %+v, want %+v", res.Interop, want)
	}
	if net["nb-bus"] != 900 || net[interopThem.String()] != -500 || net[interopOurs.String()] != -400 || len(net) != 3 {
		t.Errorf("day 2 positions %v: want our operator paid 900 by the counterpart, which we pay 400, netting to its -500", net)
	}
	res, net = g.clear(d3)
	if len(res.InteropFiles) != 0 || len(net) != 0 {
		t.Errorf("day 3 took %v again: positions %v", res.InteropFiles, net)
	}
	stored, err := s.Interop.File(ctx, wantFiles[0])
	if err != nil || stored.TakenBy != d2 {
		t.Errorf("the answer file is taken by %v (%v), want %v", stored.TakenBy, err, d2)
	}
}

// testInteropIncomingLate: our cards' records taken elsewhere come
// within the interconnection's time limit or are answered late: a tap
// of day 1 in the INC file of day 1 + DefaultLateDays is accepted, one
// day more is late, its TAC good, and nothing of it is booked; a forged
// late record is answered forged.
func testInteropIncomingLate(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	d1 := clearDay
	recs := g.travel(d1, 150, 250)
	float := ledger.Account{Type: ledger.CardFloat, Party: interopOurs.String()}
	for i, tc := range []struct {
		days int
		rec  []byte
		want interop.Reason
	}{
		{interop.DefaultLateDays, recs[0], interop.ReasonAccepted},
		{interop.DefaultLateDays + 1, recs[1], interop.ReasonLate},
		{interop.DefaultLateDays + 2, forgeTAC(t, recs[1]), interop.ReasonTAC},
	} {
		inc, err := g.them.Incoming(interopOurs, interop.Day(d1)+interop.Day(tc.days), g.now.Truncate(time.Second), [][]byte{tc.rec})
		if err != nil {
			t.Fatal(err)
		}
		imp, err := g.x.Import(ctx, fmt.Sprintf("inc-%d.txt", i), inc)
		if err != nil {
			t.Fatal(err)
		}
		our, err := interop.Decode("our answer", imp.Answer)
		if err != nil || len(our.Answers) != 1 || our.Answers[0].Reason != tc.want || our.Answers[0].Accepted != (tc.want == interop.ReasonAccepted) {
			t.Fatalf("a tap of %v in the INC file %d days later: %+v %v, want %v", d1, tc.days, our, err, tc.want)
		}
	}
	if g.balance(float) != 150 {
		t.Fatalf("our float's debits %d fen: want the record within the limit alone, 150", g.balance(float))
	}
}

// testInteropRecoveredForeign: a torn purchase of another city's card,
// recovered later, is pending its issuer as a booked one is. The
// counterpart's genuine card tears on our terminal 0 (200 fen) and its
// counterfeit on terminal 1 (500); each grey record goes to suspense from
// the counterpart's receivable, never from a float of its we do not hold.
// Their next taps recover them and pay anew (300 and 600). Day 1's cycle
// clears none of it (4 records of 1600 pending, no position); the OUT file
// sends all four; the counterpart's answer rejects the counterfeit's two
// (their receivable and payable reversed) and accepts the genuine card's
// two, which day 2's cycle makes the counterpart pay our operator.
func testInteropRecoveredForeign(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	d1, d2 := clearDay, clearDay+1
	genuine, fake := g.them.Cards[0], g.them.Cards[g.fake]
	for i, c := range []struct {
		cd        *card.Card
		term      int
		grey, fen uint32
	}{{genuine, 0, 200, 300}, {fake, 1, 500, 600}} {
		c.cd.Tear(card.TearAfterCommit)
		if r, err := g.ours.Tap(c.cd, c.term, g.at(d1, 8+i), c.grey); err == nil || r.Status != record.StatusGrey {
			t.Fatalf("torn tap %d: %+v %v, want a grey record", i, r, err)
		}
	}
	g.upload()
	receivable := ledger.Account{Type: ledger.InterconnectReceivable, Party: interopThem.String()}
	suspense := ledger.Account{Type: ledger.Suspense, Party: interopThem.String()}
	float := ledger.Account{Type: ledger.CardFloat, Party: interopThem.String()}
	payable := ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}
	if g.balance(receivable) != 700 || g.balance(suspense) != -700 || g.balance(float) != 0 {
		t.Fatalf("the greys: receivable %d, suspense %d, the counterpart's float %d; want 700, -700 and 0",
			g.balance(receivable), g.balance(suspense), g.balance(float))
	}
	for i, c := range []struct {
		cd   *card.Card
		term int
		fen  uint32
	}{{genuine, 0, 300}, {fake, 1, 600}} {
		if _, err := g.ours.Tap(c.cd, c.term, g.at(d1, 12+i), c.fen); err != nil {
			t.Fatalf("the next tap %d: %v", i, err)
		}
	}
	g.upload()
	if g.balance(receivable) != 1600 || g.balance(suspense) != 0 || g.balance(payable) != -1600 || g.balance(float) != 0 {
		t.Fatalf("recovered: receivable %d, suspense %d, payable %d, float %d; want 1600, 0, -1600, 0",
			g.balance(receivable), g.balance(suspense), g.balance(payable), g.balance(float))
	}
	res, net := g.clear(d1)
	if res.Pending != (clearing.Totals{Count: 4, AmountFen: 1600}) || res.Cleared.Count != 0 || len(net) != 0 {
		t.Fatalf("day 1: pending %+v, cleared %+v, positions %v; want 4 records of 1600 fen pending, none cleared, no position", res.Pending, res.Cleared, net)
	}
	out, err := g.x.Export(ctx, d1)
	if err != nil {
		t.Fatal(err)
	}
	f, err := interop.Decode("out", out)
	if err != nil || len(f.Clearing) != 4 || f.Header.AmountFen != 1600 {
		t.Fatalf("the OUT file: %+v %v, want the four records of 1600 fen", f, err)
	}
	if _, imp := g.answer(out); imp.Accepted != (interop.Totals{Count: 2, AmountFen: 500}) || imp.Rejected != (interop.Totals{Count: 2, AmountFen: 1100}) {
		t.Fatalf("answer imported: %+v, want the genuine card's 2 of 500 accepted, the counterfeit's 2 of 1100 rejected", imp)
	}
	if g.balance(receivable) != 500 || g.balance(payable) != -500 || g.balance(suspense) != 0 {
		t.Fatalf("after the answer: receivable %d, payable %d, suspense %d; want 500, -500, 0", g.balance(receivable), g.balance(payable), g.balance(suspense))
	}
	res, net = g.clear(d2)
	want := clearing.InteropTotals{Accepted: clearing.Totals{Count: 2, AmountFen: 500}, Rejected: clearing.Totals{Count: 2, AmountFen: 1100}}
	if res.Interop != want || net["nb-bus"] != 500 || net[interopThem.String()] != -500 || len(net) != 2 {
		t.Fatalf("day 2 settled %+v, positions %v; want %+v, the counterpart paying our operator 500", res.Interop, net, want)
	}
}

// testInteropConfirmedForeign: the round trip with the simulated
// counterpart for a torn purchase of another city's card never
// recovered, confirmed instead by the card's next record on another of
// our terminals (its balance shows the debit). It is pending its issuer
// as its recovered record would be (acquire.PendingIssuerDecided): day
// 1's cycle clears neither (the grey's 200 fen counted pending, the
// ledger holding both against the counterpart's receivable); day 1's
// OUT file sends the record (R) and then the grey record itself (G: the
// journal's, no TAC), the same bytes on every export, the grey once. The
// counterpart verifies the grey against its card's history (the record
// after it, whose TAC verifies, begins at the balance the grey left) and
// accepts both: nothing more is booked, and day 2's cycle makes it pay
// our operators for both, once.
func testInteropConfirmedForeign(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	d1, d2, d3 := clearDay, clearDay+1, clearDay+2
	g.confirmForeign(d1, g.them.Cards[0], 200, 300)
	receivable := ledger.Account{Type: ledger.InterconnectReceivable, Party: interopThem.String()}
	suspense := ledger.Account{Type: ledger.Suspense, Party: interopThem.String()}
	payable := ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}
	if g.balance(receivable) != 500 || g.balance(suspense) != 0 || g.balance(payable) != -500 {
		t.Fatalf("confirmed: receivable %d, suspense %d, payable %d; want 500, 0, -500", g.balance(receivable), g.balance(suspense), g.balance(payable))
	}
	res, net := g.clear(d1)
	if res.Confirmed != (clearing.Totals{Count: 1, AmountFen: 200}) || res.GreysPending != (clearing.Totals{Count: 1, AmountFen: 200}) ||
		res.Pending != (clearing.Totals{Count: 1, AmountFen: 300}) || len(net) != 0 {
		t.Fatalf("day 1: confirmed %+v, greys pending %+v, pending %+v, positions %v; want the grey's 200 confirmed and pending, the record's 300 pending, no position",
			res.Confirmed, res.GreysPending, res.Pending, net)
	}
	out, f := g.export(d1)
	if len(f.Clearing) != 2 || f.Header.AmountFen != 500 {
		t.Fatalf("the OUT file: %+v, want the record of 300 fen and the grey of 200", f)
	}
	if r, gr := f.Clearing[0], f.Clearing[1]; r.Grey || r.AmountFen != 300 || !gr.Grey || gr.AmountFen != 200 || gr.TAC != ([4]byte{}) ||
		gr.Counter+1 != r.Counter || int64(gr.BalanceBeforeFen)-200 != int64(r.BalanceBeforeFen) || gr.Terminal != g.ours.Terminals[0].ID {
		t.Fatalf("the OUT file's lines %+v: want R, the next record, then G, the grey record of terminal 0 (no TAC) the balance of which it follows", f.Clearing)
	}
	g.now = g.now.Add(3 * time.Hour)
	if again, err := g.x.Export(ctx, d1); err != nil || string(again) != string(out) {
		t.Fatalf("export again: %v, or other bytes:\n%s\n%s", err, again, out)
	}
	var greyPos []int64
	if err := s.Interop.Records(ctx, f.Header.ID, func(r *interop.Rec) error {
		greyPos = append(greyPos, r.GreyPos)
		return nil
	}); err != nil || len(greyPos) != 2 || greyPos[0] != 0 || greyPos[1] != 1 {
		t.Fatalf("the OUT records stored: grey positions %v, %v; want the record's 0 and the grey's journal position, 1", greyPos, err)
	}
	// A grey is sent once: the store refuses another record of it.
	dup := &interop.Import{File: interop.Stored{ID: "OUT-DUP", Type: interop.FileOutgoing, Sent: true, SHA256: strings.Repeat("0", 64), Day: interop.Day(d1),
		Sender: interopOurs, Receiver: centre, Body: []byte("x")}, At: g.now,
		Records: []interop.Rec{{File: "OUT-DUP", Seq: 1, Out: true, Issuer: interopThem, ASN: f.Clearing[1].ASN, Counter: f.Clearing[1].Counter,
			AmountFen: 200, Acquirer: "nb-bus", State: interop.Pending, GreyPos: 1}}}
	if _, err := s.Interop.Import(ctx, dup); !citycard.IsKind(err, citycard.Exists) {
		t.Errorf("another OUT record of the grey sent: %v, want Exists", err)
	}
	_, imp := g.answer(out)
	if imp.Accepted != (interop.Totals{Count: 2, AmountFen: 500}) || imp.Rejected.Count != 0 {
		t.Fatalf("answer imported: %+v, want both accepted", imp)
	}
	if g.balance(receivable) != 500 || g.balance(payable) != -500 {
		t.Fatalf("after the answer: receivable %d, payable %d; want 500 and -500, nothing booked again", g.balance(receivable), g.balance(payable))
	}
	res, net = g.clear(d2)
	want := clearing.InteropTotals{Accepted: clearing.Totals{Count: 2, AmountFen: 500}}
	if res.Interop != want || net["nb-bus"] != 500 || net[interopThem.String()] != -500 || len(net) != 2 {
		t.Fatalf("day 2 settled %+v, positions %v; want %+v, the counterpart paying our operator 500", res.Interop, net, want)
	}
	if res, net := g.clear(d3); res.Interop != (clearing.InteropTotals{}) || len(net) != 0 {
		t.Errorf("day 3 settled %+v again, positions %v", res.Interop, net)
	}
}

// testInteropConfirmedForeignRejected: a grey record of another city's
// card confirmed on its balance and sent in the OUT file, rejected by
// its issuer, is reversed in the ledger once, at the answer's import (a
// second import changes nothing), and paid to no one. The genuine card's
// grey is rejected by the issuer for a reason of its own (late), its
// next record accepted; the counterfeit's grey is unconfirmed (the
// record after it verifies under no key of its issuer), and so is its
// next record (its TAC): both reversed.
func testInteropConfirmedForeignRejected(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	d1, d2 := clearDay, clearDay+1
	g.confirmForeign(d1, g.them.Cards[0], 200, 300)
	g.confirmForeign(d1, g.them.Cards[g.fake], 400, 100)
	receivable := ledger.Account{Type: ledger.InterconnectReceivable, Party: interopThem.String()}
	payable := ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}
	if g.balance(receivable) != 1000 || g.balance(payable) != -1000 {
		t.Fatalf("confirmed: receivable %d, payable %d; want 1000 and -1000", g.balance(receivable), g.balance(payable))
	}
	g.clear(d1)
	_, f := g.export(d1)
	if len(f.Clearing) != 4 || !f.Clearing[1].Grey || !f.Clearing[3].Grey {
		t.Fatalf("the OUT file: %+v; want each card's record, then its grey", f)
	}
	ans := interoptest.AnswerOf(f, interopThem, g.them.Store, nil, func(i int) interop.Reason {
		if i == 1 {
			return interop.ReasonLate
		}
		return interop.ReasonAccepted
	})
	var reasons []string
	for _, a := range ans.Answers {
		reasons = append(reasons, a.Reason.String())
	}
	if strings.Join(reasons, " ") != "accepted late tac unconfirmed" {
		t.Fatalf("the counterpart answered %v; want the genuine record accepted, its grey late, the counterfeit's record forged and its grey unconfirmed", reasons)
	}
	b, err := interop.Encode(ans)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		imp, err := g.x.Import(ctx, "ans.txt", b)
		if err != nil {
			t.Fatal(err)
		}
		if imp.Rejected.AmountFen != 0 && imp.Rejected != (interop.Totals{Count: 3, AmountFen: 700}) {
			t.Fatalf("answer imported: %+v, want 3 of 700 fen rejected", imp)
		}
		if g.balance(receivable) != 300 || g.balance(payable) != -300 {
			t.Fatalf("after the answer (imported again: %v): receivable %d, payable %d; want 300 and -300, the rejected reversed once", imp.Already, g.balance(receivable), g.balance(payable))
		}
	}
	res, net := g.clear(d2)
	want := clearing.InteropTotals{Accepted: clearing.Totals{Count: 1, AmountFen: 300}, Rejected: clearing.Totals{Count: 3, AmountFen: 700}}
	if res.Interop != want || net["nb-bus"] != 300 || net[interopThem.String()] != -300 {
		t.Fatalf("day 2 settled %+v, positions %v; want %+v, the counterpart paying 300", res.Interop, net, want)
	}
}

// testInteropGreyNotSent: a grey record of another city's card that
// never became a debit is never sent. One tore before the card committed,
// and the card's next tap, with the grey's counter, released it; another
// was confirmed on the balance (the retry on another terminal charged
// the same) and then, in the same cycle, reversed by that retry's record.
// The OUT file sends their cards' records alone, the ledger holding
// exactly those against the receivable.
func testInteropGreyNotSent(t *testing.T, s InteropStores) {
	g := newInteropRig(t, s)
	d1 := clearDay
	released, reversed := g.them.Cards[0], g.them.Cards[1]
	released.Tear(card.TearBeforeCommit)
	if r, err := g.ours.Tap(released, 0, g.at(d1, 8), 200); err == nil || r.Status != record.StatusGrey {
		t.Fatalf("torn tap: %+v %v, want a grey record", r, err)
	}
	if _, err := g.ours.Tap(released, 1, g.at(d1, 9), 300); err != nil {
		t.Fatal(err)
	}
	g.upload()
	reversed.Tear(card.TearBeforeCommit)
	if r, err := g.ours.Tap(reversed, 0, g.at(d1, 10), 250); err == nil || r.Status != record.StatusGrey {
		t.Fatalf("torn tap: %+v %v, want a grey record", r, err)
	}
	grey := g.ours.Take()[0]
	if _, err := g.ours.Tap(reversed, 1, g.at(d1, 11), 250); err != nil { // the retry, at the grey's counter
		t.Fatal(err)
	}
	retry := g.ours.Take()[1]
	if _, err := g.ours.Tap(reversed, 1, g.at(d1, 12), 100); err != nil { // the next, at the balance a grey debit would have left
		t.Fatal(err)
	}
	next := g.ours.Take()[1]
	for i, recs := range [][][]byte{grey, next, retry} {
		term := []int{0, 1, 1}[i]
		g.submit(term, recs)
	}
	receivable := ledger.Account{Type: ledger.InterconnectReceivable, Party: interopThem.String()}
	if g.balance(receivable) != 300+250+100 {
		t.Fatalf("receivable %d, want the three records' 650, the greys released and reversed", g.balance(receivable))
	}
	res, _ := g.clear(d1)
	if res.Released.Count != 1 || res.Confirmed.Count != 1 || res.Reversed.Count != 1 || res.GreysPending.AmountFen != 0 {
		t.Fatalf("day 1: released %+v, confirmed %+v, reversed %+v, pending %+v", res.Released, res.Confirmed, res.Reversed, res.GreysPending)
	}
	if _, f := g.export(d1); len(f.Clearing) != 3 || f.Header.AmountFen != 650 {
		t.Fatalf("the OUT file: %+v; want the three records of 650 fen", f)
	} else {
		for _, c := range f.Clearing {
			if c.Grey {
				t.Errorf("a grey record sent: %+v", c)
			}
		}
	}
}

// testInteropConfirmedForeignLate: the grey record arrives a day after
// the card's next record, which was sent and accepted with day 1's OUT
// file; the grey is confirmed at its arrival (the gap below that record
// kept the balance it began at), by its own entry, on day 2. Day 2's OUT
// file sends it alone (a G line), and the counterpart, which kept its
// card's history from its answer to day 1's file, accepts it; day 3
// pays our operator for it.
func testInteropConfirmedForeignLate(t *testing.T, s InteropStores) {
	g := newInteropRig(t, s)
	d1, d2, d3 := clearDay, clearDay+1, clearDay+2
	cd := g.them.Cards[0]
	cd.Tear(card.TearAfterCommit)
	if r, err := g.ours.Tap(cd, 0, g.at(d1, 8), 200); err == nil || r.Status != record.StatusGrey {
		t.Fatalf("torn tap: %+v %v, want a grey record", r, err)
	}
	grey := g.ours.Take()[0]
	if _, err := g.ours.Tap(cd, 1, g.at(d1, 9), 300); err != nil {
		t.Fatal(err)
	}
	g.upload()
	g.clear(d1)
	out, f := g.export(d1)
	if len(f.Clearing) != 1 || f.Clearing[0].Grey {
		t.Fatalf("day 1's OUT file: %+v, want the next record alone", f.Clearing)
	}
	if _, imp := g.answer(out); imp.Accepted.Count != 1 {
		t.Fatalf("day 1's answer: %+v", imp)
	}
	g.at(d2, 10)
	g.submit(0, grey)
	res, net := g.clear(d2)
	if res.GreysPending != (clearing.Totals{Count: 1, AmountFen: 200}) || net["nb-bus"] != 300 {
		t.Fatalf("day 2: greys pending %+v, positions %v; want the grey confirmed pending, our operator paid the next record's 300", res.GreysPending, net)
	}
	out, f = g.export(d2)
	if len(f.Clearing) != 1 || !f.Clearing[0].Grey || f.Clearing[0].AmountFen != 200 {
		t.Fatalf("day 2's OUT file: %+v, want the grey alone", f.Clearing)
	}
	if _, imp := g.answer(out); imp.Accepted != (interop.Totals{Count: 1, AmountFen: 200}) {
		t.Fatalf("day 2's answer: %+v, want the grey accepted from the card's history", imp)
	}
	if res, net := g.clear(d3); res.Interop.Accepted != (clearing.Totals{Count: 1, AmountFen: 200}) || net["nb-bus"] != 200 {
		t.Fatalf("day 3 settled %+v, positions %v; want the grey's 200 paid", res.Interop, net)
	}
}

// export exports day d's OUT file and decodes it.
func (g *interopRig) export(d clearing.Day) ([]byte, *interop.File) {
	g.t.Helper()
	out, err := g.x.Export(context.Background(), d)
	if err != nil {
		g.t.Fatal(err)
	}
	f, err := interop.Decode("out", out)
	if err != nil {
		g.t.Fatal(err)
	}
	return out, f
}

// confirmForeign has the counterpart's card cd tear on our terminal 0 on
// day d after it debited greyFen (a grey record), then pay nextFen on
// our terminal 1, and uploads both: its next record confirms the grey on
// its balance.
func (g *interopRig) confirmForeign(d clearing.Day, cd *card.Card, greyFen, nextFen uint32) {
	g.t.Helper()
	cd.Tear(card.TearAfterCommit)
	if r, err := g.ours.Tap(cd, 0, g.at(d, 8), greyFen); err == nil || r.Status != record.StatusGrey {
		g.t.Fatalf("torn tap: %+v %v, want a grey record", r, err)
	}
	if _, err := g.ours.Tap(cd, 1, g.at(d, 9), nextFen); err != nil {
		g.t.Fatalf("the next tap, on another terminal: %v", err)
	}
	g.upload()
}

// answer has the counterpart answer our OUT file out and imports the
// answer (as ans.txt): the answer and what its import did.
func (g *interopRig) answer(out []byte) ([]byte, *interop.Imported) {
	g.t.Helper()
	ans, err := g.them.Answer(out)
	if err != nil {
		g.t.Fatal(err)
	}
	imp, err := g.x.Import(context.Background(), "ans.txt", ans)
	if err != nil {
		g.t.Fatal(err)
	}
	return ans, imp
}

// answered has the counterpart's cards tap ours on clearDay, clears the
// day, exports its OUT file and has the counterpart answer it: the OUT
// file and the answer, not yet imported.
func (g *interopRig) answered() (out, ans []byte) {
	g.t.Helper()
	g.visit(clearDay, 200, 300, 400, 500)
	g.clear(clearDay)
	out, err := g.x.Export(context.Background(), clearDay)
	if err != nil {
		g.t.Fatal(err)
	}
	if ans, err = g.them.Answer(out); err != nil {
		g.t.Fatal(err)
	}
	return out, ans
}

// testInteropRefusesCorrupt: a truncated or altered file is refused with
// its line and field, and nothing of it is stored: no file, no answer,
// no ledger entry.
func testInteropRefusesCorrupt(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	_, ans := g.answered()
	lines := strings.SplitAfter(string(ans), "\n")
	head, err := s.Ledger.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, body  string
		line        int
		field, kind string
	}{
		{"truncated", strings.Join(lines[:3], ""), 4, "record", "invalid"},
		{"cut mid-line", string(ans[:len(ans)-10]), len(lines) - 1, "record", "invalid"},
		{"an amount changed", strings.Replace(string(ans), "|300\n", "|301\n", 1), 0, "", "invalid"},
		{"a result changed", strings.Replace(string(ans), "|R|01|", "|A|01|", 1), 0, "reason", "invalid"},
		{"refers to no file", string(reencoded(t, ans, func(f *interop.File) { f.Header.Refers = "OUT-NONE" })), 1, "refers", "not found"},
		{"answers another card", string(reencoded(t, ans, func(f *interop.File) { f.Answers[0].ASN[9]++ })), 2, "asn", "invalid"},
		{"answers past the file", string(reencoded(t, ans, func(f *interop.File) { f.Answers[0].RefSeq = 9 })), 2, "ref_seq", "invalid"},
		{"answered by another issuer", string(reencoded(t, ans, func(f *interop.File) { f.Header.Sender[1]++ })), 2, "issuer", "invalid"},
	} {
		_, err := g.x.Import(ctx, c.name, []byte(c.body))
		var fe *interop.FieldError
		if !errors.As(err, &fe) || citycard.KindOf(err).String() != c.kind || c.line != 0 && fe.Line != c.line || c.field != "" && fe.Field != c.field {
			t.Errorf("%s: %v (kind %v), want line %d field %q, kind %s", c.name, err, citycard.KindOf(err), c.line, c.field, c.kind)
		}
	}
	if _, err := s.Interop.File(ctx, "ANS-"+interopThem.String()+"-"+interop.Day(clearDay).String()); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("a refused answer is stored: %v", err)
	}
	if after, err := s.Ledger.Head(ctx); err != nil || after != head {
		t.Errorf("a refused answer moved the ledger: %+v, was %+v (%v)", after, head, err)
	}
	var pending int
	if err := s.Interop.Records(ctx, g.x.OutgoingID(clearDay), func(r *interop.Rec) error {
		if r.State == interop.Pending {
			pending++
		}
		return nil
	}); err != nil || pending != 4 {
		t.Errorf("%d records pending after the refusals (%v), want 4", pending, err)
	}
	// A file naming a party the registry does not know is refused too.
	g.x.Known = func(_ context.Context, party string) error {
		if party == "nb-bus" {
			return citycard.E("registry", citycard.NotFound, "no party %s", party)
		}
		return nil
	}
	if _, err := g.x.Import(ctx, "ans", ans); !citycard.IsKind(err, citycard.NotFound) || !strings.Contains(err.Error(), "nb-bus") {
		t.Errorf("an answer paying an unregistered operator: %v, want NotFound naming it", err)
	}
	g.x.Known = nil
	// Another file under a stored ID is refused too.
	if _, err := g.x.Import(ctx, "ans", ans); err != nil {
		t.Fatal(err)
	}
	other, err := interop.Decode("ans", ans)
	if err != nil {
		t.Fatal(err)
	}
	other.Header.Created = other.Header.Created.Add(time.Second)
	b, err := interop.Encode(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.x.Import(ctx, "other", b); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("another answer under the same ID: %v, want Conflict", err)
	}
}

// reencoded returns file b changed by edit and encoded again, as a
// sender would have written it: a well-formed file that says something
// else.
func reencoded(t *testing.T, b []byte, edit func(f *interop.File)) []byte {
	t.Helper()
	f, err := interop.Decode("b", b)
	if err != nil {
		t.Fatal(err)
	}
	edit(f)
	out, err := interop.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testInteropAnsweredOnce: a record answered by one answer file cannot be
// answered again by another.
func testInteropAnsweredOnce(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	_, ans := g.answered()
	if _, err := g.x.Import(ctx, "ans", ans); err != nil {
		t.Fatal(err)
	}
	f, err := interop.Decode("ans", ans)
	if err != nil {
		t.Fatal(err)
	}
	f.Header.ID += "-2"
	f.Answers = f.Answers[:1]
	again, err := interop.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.x.Import(ctx, "ans2", again); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a second answer to an answered record: %v, want Conflict", err)
	}
}

// testInteropImportAtomic: an import whose last write fails (its ledger
// entry's key taken, with other content, by an entry posted before)
// stores nothing: no file, no answer, the records still pending.
func testInteropImportAtomic(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	_, ans := g.answered()
	f, err := interop.Decode("ans", ans)
	if err != nil {
		t.Fatal(err)
	}
	taken := ledger.NewEntry("interop:"+f.Header.ID+":1", ledger.EntryAdjustment, "test",
		ledger.Transfer(ledger.Account{Type: ledger.Settlement, Party: "x"}, ledger.Account{Type: ledger.Settlement, Party: "y"}, 1)...)
	if _, err := ledger.New(s.Ledger, func() time.Time { return g.now }).Post(ctx, taken); err != nil {
		t.Fatal(err)
	}
	if _, err := g.x.Import(ctx, "ans", ans); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("an import whose ledger entry conflicts: %v, want Conflict", err)
	}
	if _, err := s.Interop.File(ctx, f.Header.ID); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("the answer is stored: %v", err)
	}
	pending := 0
	if err := s.Interop.Records(ctx, f.Header.Refers, func(r *interop.Rec) error {
		if r.State == interop.Pending && r.AnsweredBy == "" {
			pending++
		}
		return nil
	}); err != nil || pending != 4 {
		t.Errorf("%d records pending (%v), want 4", pending, err)
	}
}

// testInteropErrorsAndDisputes: an error record corrects an accepted
// record in the next cycle (the counterpart pays back a record it says
// was cleared twice); a dispute is raised once and answered once.
func testInteropErrorsAndDisputes(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	out, ans := g.answered()
	if _, err := g.x.Import(ctx, "ans", ans); err != nil {
		t.Fatal(err)
	}
	g.clear(clearDay + 1)
	of, err := interop.Decode("out", out)
	if err != nil {
		t.Fatal(err)
	}
	r := of.Clearing[1]
	errFile := &interop.File{Header: interop.Header{Type: interop.FileError, ID: "ERR-" + interopThem.String() + "-1", Sender: interopThem, Receiver: interopOurs,
		Day: interop.Day(clearDay + 1), Created: g.now.Truncate(time.Second)},
		Errors: []interop.Correction{{RefFile: of.Header.ID, RefSeq: 2, AmountFen: 100, Reason: interop.ReasonAmount, Issuer: r.Issuer, ASN: r.ASN, Counter: r.Counter}}}
	b, err := interop.Encode(errFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.x.Import(ctx, "err", b); err != nil {
		t.Fatal(err)
	}
	res, net := g.clear(clearDay + 2)
	if res.Interop.Corrections != (clearing.Totals{Count: 1, AmountFen: -100}) || net["nb-bus"] != -100 || net[interopThem.String()] != 100 {
		t.Errorf("the correction's cycle: %+v, positions %v; want our operator to pay 100 back", res.Interop, net)
	}
	// A correction from a third city, neither the card's issuer nor its
	// acquirer, is refused.
	third := *errFile
	third.Header.ID += "-3RD"
	third.Header.Sender = citycard.IssuerCode{0x10, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	if b, err := interop.Encode(&third); err != nil {
		t.Fatal(err)
	} else if _, err := g.x.Import(ctx, "third", b); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a correction from a third city: %v, want Invalid", err)
	}
	// A correction of the rejected (counterfeit) record is refused.
	bad := *errFile
	bad.Header.ID += "-BAD"
	fk := of.Clearing[3]
	bad.Errors = []interop.Correction{{RefFile: of.Header.ID, RefSeq: 4, AmountFen: 100, Credit: true, Reason: interop.ReasonAmount, Issuer: fk.Issuer, ASN: fk.ASN, Counter: fk.Counter}}
	if b, err := interop.Encode(&bad); err != nil {
		t.Fatal(err)
	} else if _, err := g.x.Import(ctx, "bad", b); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a correction of a rejected record: %v, want Conflict", err)
	}

	dispute := func(id string, st interop.Stage) error {
		f := &interop.File{Header: interop.Header{Type: interop.FileDispute, ID: id, Sender: interopThem, Receiver: interopOurs, Day: interop.Day(clearDay + 2),
			Created: g.now.Truncate(time.Second)},
			Disputes: []interop.Dispute{{RefFile: of.Header.ID, RefSeq: 1, Stage: st, AmountFen: 200, Reason: interop.ReasonCardholder, Issuer: of.Clearing[0].Issuer,
				ASN: of.Clearing[0].ASN, Counter: of.Clearing[0].Counter}}}
		b, err := interop.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = g.x.Import(ctx, id, b)
		return err
	}
	if err := dispute("DSP-1", interop.StageAccept); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a dispute accepted before it was raised: %v, want Conflict", err)
	}
	if err := dispute("DSP-2", interop.StageRaise); err != nil {
		t.Fatal(err)
	}
	if err := dispute("DSP-3", interop.StageRaise); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a dispute raised twice: %v, want Conflict", err)
	}
	if err := dispute("DSP-4", interop.StageDecline); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Interop.Corrections(ctx, "", of.Header.ID, 1)
	if err != nil || len(cs) != 2 || cs[0].Stage != interop.StageRaise || cs[1].Stage != interop.StageDecline {
		t.Errorf("the dispute's records: %+v %v", cs, err)
	}
}

// testInteropCitiesAndBlacklists: the cities list is stored and read
// back in force by day (a city added within 30 days, removed within 7),
// and the other issuers' blacklists with their effective days.
func testInteropCitiesAndBlacklists(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	d := interop.Day(clearDay)
	sh := interop.City{Code: [2]byte{0x20, 0x00}, Institution: interopThem, Action: interop.Add, Announced: d, Effective: d + 30, Name: "上海公共交通卡"}
	cty := &interop.File{Header: interop.Header{Type: interop.FileCities, ID: "CTY-1", Sender: centre, Receiver: interopOurs, Day: d, Created: g.now.Truncate(time.Second)},
		Cities: []interop.City{sh}}
	b, err := interop.Encode(cty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.x.Import(ctx, "cty", b); err != nil {
		t.Fatal(err)
	}
	del := sh
	del.Action, del.Announced, del.Effective = interop.Remove, d+40, d+47
	cty.Header.ID, cty.Cities = "CTY-2", []interop.City{del}
	if b, err = interop.Encode(cty); err != nil {
		t.Fatal(err)
	}
	if _, err := g.x.Import(ctx, "cty2", b); err != nil {
		t.Fatal(err)
	}
	cs, err := g.x.Cities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		day  interop.Day
		want bool
	}{{d + 29, false}, {d + 30, true}, {d + 46, true}, {d + 47, false}} {
		if got := cs.Accepts(interopThem, c.day); got != c.want {
			t.Errorf("on %v terminals accept Shanghai's cards: %v, want %v", c.day, got, c.want)
		}
	}
	if got := cs.InForce(d + 31); len(got) != 1 || got[0].Name != sh.Name {
		t.Errorf("in force: %+v", got)
	}
	// A removal announced with more than 7 days' lead is refused.
	late := del
	late.Effective = d + 48
	cty.Header.ID, cty.Cities = "CTY-3", []interop.City{late}
	if _, err := interop.Encode(cty); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a removal 8 days after its announcement: %v, want Invalid", err)
	}

	asn := citycard.ASN{0, 0, 0x20, 0x00, 0, 0x02, 0, 0, 0, 1}
	blk := &interop.File{Header: interop.Header{Type: interop.FileBlacklist, ID: "BLK-1", Sender: interopThem, Receiver: interopOurs, Day: d, Created: g.now.Truncate(time.Second)},
		Blacklist: []interop.Listing{{Issuer: interopThem, ASN: asn, Action: interop.Add, Reason: "01", Effective: d + 1}, {Issuer: interopThem, ASN: asn, Action: interop.Remove, Reason: "01", Effective: d + 5}}}
	if b, err = interop.Encode(blk); err != nil {
		t.Fatal(err)
	}
	if _, err := g.x.Import(ctx, "blk", b); err != nil {
		t.Fatal(err)
	}
	ls, err := s.Interop.Listings(ctx)
	if err != nil || len(ls) != 2 {
		t.Fatalf("listings %+v %v", ls, err)
	}
	if n := len(interop.Blacklisted(ls, d)); n != 0 {
		t.Errorf("blacklisted before its day: %d", n)
	}
	if got := interop.Blacklisted(ls, d+1); len(got) != 1 || got[0].ASN != asn {
		t.Errorf("blacklisted on its day: %+v", got)
	}
	if n := len(interop.Blacklisted(ls, d+5)); n != 0 {
		t.Errorf("blacklisted after its removal: %d", n)
	}
}

// testInteropAppendOnly: stored files and records are never changed or
// removed but as the stores change them (an answer once, the cycle that
// takes a file once).
func testInteropAppendOnly(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	_, ans := g.answered()
	if _, err := g.x.Import(ctx, "ans", ans); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"UPDATE interop_files SET body = 'x'",
		"DELETE FROM interop_files",
		"UPDATE interop_files SET taken_day = 1 WHERE file_type = 'OUT'",
		"UPDATE interop_records SET amount_fen = 1",
		"UPDATE interop_records SET state = 'pending', answered_by = ''",
		"UPDATE interop_records SET state = 'rejected' WHERE state = 'accepted'",
		"UPDATE interop_records SET grey_pos = 1",
		"DELETE FROM interop_records",
	} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
}

package exchange

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/registry"
)

// The parties of debtorsCleared beside parties: the city's other issuer,
// another city's, and a payer.
const (
	cityIssuer  = "31500002FFFFFFFF" // the city's other issuer, whose cards we verify
	otherIssuer = "51800001FFFFFFFF" // another city's issuer, through the interconnection
)

var debtors = map[string]Party{
	our:         parties[our],
	"nb-bus":    parties["nb-bus"],
	"nb-metro":  parties["nb-metro"],
	"shop":      parties["shop"],
	cityIssuer:  {Name: "Ningbo Tongcheng Card", Account: "CCB Ningbo 3315 0000 0000 0005"},
	otherIssuer: {Name: "Shenzhen Tong", Account: "CMB Shenzhen 7550 0000 0006"},
	"alipay":    payers["alipay"],
}

// debtorsCleared returns the cycle of day, closed under the settlement
// version of now, and its result, with a party of every kind in net
// debit: the city's other issuer for its cards' records on the bus; the
// other city's issuer for its cards' records on the metro (accepted by
// it in the interconnection's answer) less ours taken there; the shop,
// an operator, for an adjustment against it greater than its sales; and
// Alipay for the remote top-up it collected. nb-bus and nb-metro are
// paid; our issuer (the collector) pays for its cards' records and is
// paid in what the others owe.
func debtorsCleared(t *testing.T) (*clearing.Cycle, *clearing.Result) {
	t.Helper()
	cfg := feesConfig()
	cfg.Commissions = []clearing.FeeSchedule{{Party: "alipay", Rules: []clearing.FeeRule{{Name: "alipay", RatePPM: 3000, MinFen: 1}}}}
	c, err := clearing.NewClearer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := &clearing.Input{Day: day}
	for i := range 10 {
		book(in, our, "nb-bus", registry.TerminalBusValidator, int64(100+i*7))
		book(in, our, "nb-metro", registry.TerminalGate, int64(200+i*13))
	}
	for i := range 5 {
		book(in, cityIssuer, "nb-bus", registry.TerminalBusValidator, int64(150+i*11))
	}
	book(in, our, "shop", registry.TerminalPOS, 350)
	in.Interop = []clearing.Settling{{File: "ANS-20261130-5180", Records: []clearing.Settled{
		{Move: clearing.InteropAccepted, Issuer: otherIssuer, Acquirer: "nb-metro", TerminalType: registry.TerminalGate, CardType: 1, AmountFen: 400},
		{Move: clearing.InteropAccepted, Issuer: otherIssuer, Acquirer: "nb-metro", TerminalType: registry.TerminalGate, CardType: 1, AmountFen: 600},
		{Move: clearing.InteropIncoming, Issuer: our, Acquirer: otherIssuer, CardType: 1, AmountFen: 300},
	}}}
	in.Adjustments = []clearing.Adjustment{{Ref: "ADJ-2026-11-30-1", Of: day - 1, Payer: "shop", Payee: "nb-bus", AmountFen: 500, Reason: "double charge of 2026-11-30"}}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	in.LoadClaim = clearing.LoadClaim{Range: clearing.Range{From: 0, To: 1}, Entries: 1}
	in.TopUps = []clearing.TopUpMove{{Seq: 1, At: at, TopUp: "0000000000000001", Payer: "alipay", Issuer: our, AmountFen: 5000}}
	res, err := c.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	return closed(t, cfg.Calendar, res), res
}

// TestDebtorPayIns: a cycle computed under the settlement version of
// now (clearing.SettlementDebtors) expects a pay-in of every party in
// net debit but the collector, whatever it is (the city's other issuer,
// another city's, an operator, a payer), each for minus its net, ranked
// by party ID, and writes them in its incoming CSV; the positions still
// net to zero, and what comes in less what goes out is the collector's
// own net. Golden, and the same bytes on every run.
func TestDebtorPayIns(t *testing.T) {
	c, res := debtorsCleared(t)
	if c.SettlementVersion != clearing.SettlementDebtors {
		t.Fatalf("a cycle computed now: settlement version %d, want %d", c.SettlementVersion, clearing.SettlementDebtors)
	}
	net := map[string]int64{}
	var sum int64
	for _, p := range res.Positions {
		net[p.Party] = p.NetFen
		sum += p.NetFen
	}
	if sum != 0 {
		t.Fatalf("positions net to %d fen", sum)
	}
	for _, p := range []string{cityIssuer, otherIssuer, "shop", "alipay"} {
		if net[p] >= 0 {
			t.Fatalf("%s nets %d fen: the test wants it in net debit (positions %+v)", p, net[p], res.Positions)
		}
	}
	s, err := Settle(c, res, debtors)
	if err != nil {
		t.Fatal(err)
	}
	var want []PayIn
	for i, p := range []string{cityIssuer, otherIssuer, "alipay", "shop"} {
		want = append(want, PayIn{Reference: PayInReference(day, i+1), Party: p, Name: debtors[p].Name, Account: debtors[p].Account, AmountFen: -net[p]})
	}
	if !slices.Equal(s.Incoming, want) {
		t.Errorf("pay-ins\n%+v\nwant\n%+v", s.Incoming, want)
	}
	if s.IncomingFen-s.SumFen != net[our] {
		t.Errorf("%d fen in, %d out: want the difference the collector's net, %d", s.IncomingFen, s.SumFen, net[our])
	}
	if len(s.Instructions) != 2 || s.Instructions[0].Party != "nb-bus" || s.Instructions[1].Party != "nb-metro" {
		t.Errorf("payments %+v: want nb-bus and nb-metro paid", s.Instructions)
	}
	goldenFiles(t, "debtors-", "positions.csv instructions.csv pain001.xml topups.csv incoming.csv", c, res, debtors)
	// A debtor the registry does not name cannot be asked to pay in.
	unnamed := maps.Clone(debtors)
	delete(unnamed, otherIssuer)
	if _, err := Settle(c, res, unnamed); !citycard.IsKind(err, citycard.NotFound) || !strings.Contains(err.Error(), otherIssuer) {
		t.Errorf("a debtor unnamed: %v, want NotFound naming it", err)
	}

	// The same result, had its cycle been computed before versions were
	// kept: only the payer is expected, under the first reference.
	old := *c
	old.SettlementVersion = clearing.SettlementPayers
	s, err = Settle(&old, res, debtors)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Incoming) != 1 || s.Incoming[0].Party != "alipay" || s.Incoming[0].Reference != "CCLR-20261201-R00001" || s.IncomingFen != -net["alipay"] {
		t.Errorf("under version 0: pay-ins %+v", s.Incoming)
	}
}

// TestNoDebtorsIncoming: a cycle of SettlementDebtors writes its
// incoming CSV even when no one owes (its header alone), so that every
// cycle of the version has the same files; one of SettlementPayers
// without remote top-ups writes none.
func TestNoDebtorsIncoming(t *testing.T) {
	cal := clearing.DefaultCalendar()
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: our, Rounding: clearing.RoundHalfEven})
	if err != nil {
		t.Fatal(err)
	}
	in := &clearing.Input{Day: day}
	book(in, our, "nb-bus", registry.TerminalBusValidator, 200)
	book(in, our, "nb-metro", registry.TerminalGate, 300)
	res, err := clr.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	cy := closed(t, cal, res)
	fs, err := Files(cy, res, parties)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 4 || fs[3].Name != "CCLR-20261201-incoming.csv" || string(fs[3].Data) != strings.Join(IncomingHeader, ",")+"\n" {
		t.Errorf("%d files, the last %s:\n%s", len(fs), fs[len(fs)-1].Name, fs[len(fs)-1].Data)
	}
	old := *cy
	old.SettlementVersion = clearing.SettlementPayers
	if fs, err := Files(&old, res, parties); err != nil || len(fs) != 3 {
		t.Errorf("version 0: %d files, %v", len(fs), err)
	}
}

// TestClosedBeforeVersions: the files of cycles computed before
// settlement versions were kept (version 0, as their stores read them)
// are the bytes they closed with. The SHA-256 of each is written here,
// as the files were before pay-ins were expected of every debtor, so
// that no change (nor go test -update rewriting the golden files) can
// alter them unseen. Kept at close, read back from a row without a
// settlement version (a store before migration 0038), they are written
// again as the close kept them; the same cycle under the version of now
// keeps its three first files and adds the shop's pay-in.
func TestClosedBeforeVersions(t *testing.T) {
	sums := map[string]string{
		"CCLR-20261201-positions.csv":    "117acf4ca0745828718eed20187099c5c0a36f904d08e409a644f0905a4b1c33",
		"CCLR-20261201-instructions.csv": "d1bf5a3605bb9e1d5f68b0e6d4b8906963779c0f59259f2f33b6bb5f32646ae9",
		"CCLR-20261201-pain001.xml":      "93ebbabf4cb035de9eaa45b0d291c2de5d84a5a1b651087ae702dddc0dee2cd8",
	}
	topUpSums := map[string]string{
		"CCLR-20261201-positions.csv":    "1905c560db7af3f7acde7b2ca73bbff9d6300c6680e975e133e1f973d4e62f37",
		"CCLR-20261201-instructions.csv": "48166673bd8a0da822068dc09480e046ded3705170b43fb1a203a2f1d27df422",
		"CCLR-20261201-pain001.xml":      "645428e7c58ad6ece3f839d753aea2aee40e387693e01d1ab13e3fa4282c7799",
		"CCLR-20261201-topups.csv":       "7f20ce9af0a6c5374be04264d467f5feac9249b4f896a3b6f9941e9471446d9d",
		"CCLR-20261201-incoming.csv":     "5d65cd8eb013043160ba8e0afe6c6833dc032a2f11199d3de7512f4179186a47",
	}
	for _, tt := range []struct {
		name    string
		cleared func(*testing.T) (*clearing.Cycle, *clearing.Result)
		parties map[string]Party
		sums    map[string]string
	}{
		{"records and an adjustment", cleared, parties, sums},
		{"remote top-ups", topUpsCleared, payers, topUpSums},
	} {
		c, res := tt.cleared(t)
		fs, err := Files(c, res, tt.parties)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != len(tt.sums) {
			t.Errorf("%s: %d files, want %d", tt.name, len(fs), len(tt.sums))
		}
		for _, f := range fs {
			sum := sha256.Sum256(f.Data)
			if got := hex.EncodeToString(sum[:]); got != tt.sums[f.Name] {
				t.Errorf("%s: %s has sha256 %s, want %s: a file of a cycle closed before settlement versions changed:\n%s", tt.name, f.Name, got, tt.sums[f.Name], f.Data)
			}
		}

		// Kept at close, the row read back without a version.
		st := &clearing.Stored{Cycle: *c, Result: res, Files: Kept(fs)}
		row, err := st.Row()
		if err != nil {
			t.Fatal(err)
		}
		row.SettlementVersion = 0 // the column's default for a row kept before migration 0038
		back, err := row.Stored()
		if err != nil {
			t.Fatal(err)
		}
		zone := clearing.DefaultCalendar().Zone // Cycles.Cycle's
		back.Cycle.Cutoff, back.Cycle.ClosedAt = back.Cycle.Cutoff.In(zone), back.Cycle.ClosedAt.In(zone)
		again, err := Files(&back.Cycle, back.Result, tt.parties)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckKept(&back, again); err != nil || len(again) != len(fs) {
			t.Errorf("%s: written again from the store: %d files, %v", tt.name, len(again), err)
		}
	}

	c, res := cleared(t)
	now := *c
	now.SettlementVersion = clearing.SettlementCurrent
	fs, err := Files(&now, res, parties)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 4 || fs[3].Name != "CCLR-20261201-incoming.csv" ||
		string(fs[3].Data) != "reference,party,name,account,amount_fen\nCCLR-20261201-R00001,shop,\"Tianyi Square, \"\"shop\"\" 7\",ABC Ningbo 3901 0000 0000 0004,150\n" {
		t.Fatalf("under the version of now: %d files, the last %s:\n%s", len(fs), fs[len(fs)-1].Name, fs[len(fs)-1].Data)
	}
	for _, f := range fs[:3] {
		sum := sha256.Sum256(f.Data)
		if hex.EncodeToString(sum[:]) != sums[f.Name] {
			t.Errorf("under the version of now, %s differs from version 0's", f.Name)
		}
	}
	// Had it closed under version 0, the files of now are not those kept.
	kept := &clearing.Stored{Cycle: *c, Result: res}
	old, err := Files(c, res, parties)
	if err != nil {
		t.Fatal(err)
	}
	kept.Files = Kept(old)
	if err := CheckKept(kept, fs); !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), "incoming.csv") {
		t.Errorf("version 0's kept files against the files of now: %v, want Conflict naming incoming.csv", err)
	}
}

// TestSettlementVersionUnknown: a cycle of a settlement version this
// binary does not know (a newer one computed it) has no files written
// by guess: Conflict.
func TestSettlementVersionUnknown(t *testing.T) {
	c, res := debtorsCleared(t)
	c.SettlementVersion = clearing.SettlementCurrent + 1
	if _, err := Files(c, res, debtors); !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), "settlement version") {
		t.Errorf("files of settlement version %d: %v, want Conflict", c.SettlementVersion, err)
	}
}

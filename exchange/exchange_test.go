package exchange

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/registry"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const our = "31500001FFFFFFFF"

var day = clearing.DayOf(2026, 12, 1)

var parties = map[string]Party{
	our:        {Name: "Ningbo Citizen Card", Account: "ICBC Ningbo 3901 0000 0000 0001"},
	"nb-bus":   {Name: "Ningbo Bus & Coach <Group>", Account: "ICBC Ningbo 3901 0000 0000 0002"},
	"nb-metro": {Name: "Ningbo Rail Transit", Account: "BOC Ningbo 3580 0000 0003"},
	"shop":     {Name: "Tianyi Square, \"shop\" 7", Account: "ABC Ningbo 3901 0000 0000 0004"},
}

// cleared returns a closed cycle of day and its result: records of our
// cards on three operators, fees, and an adjustment that leaves the shop
// with a negative net. The cycle is of settlement version 0
// (clearing.SettlementPayers), as a cycle computed before versions were
// kept reads from its store: the golden files positions.csv,
// instructions.csv and pain001.xml are its files, and never change
// (TestClosedBeforeVersions).
func cleared(t *testing.T) (*clearing.Cycle, *clearing.Result) {
	t.Helper()
	cfg := feesConfig()
	c, err := clearing.NewClearer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := &clearing.Input{Day: day}
	add := func(op string, tt registry.TerminalType, fen int64) { book(in, our, op, tt, fen) }
	for i := range 40 {
		add("nb-bus", registry.TerminalBusValidator, int64(100+i*7))
		add("nb-metro", registry.TerminalGate, int64(200+i*13))
	}
	add("shop", registry.TerminalPOS, 350)
	in.Adjustments = []clearing.Adjustment{{Ref: "ADJ-2026-11-30-1", Of: day - 1, Payer: "shop", Payee: "nb-bus", AmountFen: 500, Reason: "double charge of 2026-11-30"}}
	res, err := c.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	cy := closed(t, cfg.Calendar, res)
	cy.SettlementVersion = clearing.SettlementPayers
	return cy, res
}

// feesConfig is the clearing of the tests' cycles: our issuer collects,
// the bus and the metro pay fees.
func feesConfig() clearing.Config {
	return clearing.Config{
		Calendar:  clearing.DefaultCalendar(),
		Collector: our,
		Rounding:  clearing.RoundHalfEven,
		Fees: []clearing.FeeSchedule{
			{Party: "nb-bus", Rules: []clearing.FeeRule{{Name: "bus", RatePPM: 5000, MinFen: 1}}},
			{Party: "nb-metro", Rules: []clearing.FeeRule{{Name: "metro", RatePPM: 6000, MaxFen: 10}}},
		},
	}
}

// goldenFiles returns closed cycle c's files (Files), checks that they
// are named (after the day's prefix) as names says, each the golden
// file prefix+name, and that a second run writes the same bytes.
func goldenFiles(t *testing.T, prefix, names string, c *clearing.Cycle, res *clearing.Result, ps map[string]Party) []SettlementFile {
	t.Helper()
	fs, err := Files(c, res, ps)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		n := strings.TrimPrefix(f.Name, MessageID(c.Day)+"-")
		got = append(got, n)
		golden(t, prefix+n, f.Data)
	}
	if strings.Join(got, " ") != names {
		t.Errorf("files %v, want %s", got, names)
	}
	again, err := Files(c, res, ps)
	if err != nil {
		t.Fatal(err)
	}
	for i := range fs {
		if !bytes.Equal(again[i].Data, fs[i].Data) {
			t.Errorf("%s: a second run wrote other bytes", fs[i].Name)
		}
	}
	return fs
}

// book adds to in, and to its claim, a record of a card of issuer that
// we verified, booked at 09:00 on day on a terminal of type tt of
// operator op.
func book(in *clearing.Input, issuer, op string, tt registry.TerminalType, fen int64) {
	in.Claim.To++
	in.Claim.Count++
	in.Claim.AmountFen += fen
	in.Items = append(in.Items, clearing.Item{
		Pos: in.Claim.To, AcceptedAt: time.Date(2026, 12, 1, 9, 0, 0, 0, citycard.ChinaTime),
		Class: acquire.ClassBooked, Outcome: acquire.OutcomeVerified,
		Issuer: issuer, Operator: op, TerminalType: tt, CardType: 1, AmountFen: fen,
	})
}

// closed returns res's cycle computed (under the settlement version of
// now), reviewed, approved and closed, at fixed times after its cut-off.
func closed(t *testing.T, cal clearing.Calendar, res *clearing.Result) *clearing.Cycle {
	t.Helper()
	cy := clearing.Open(cal, res.Day, cal.Start(res.Day))
	after := cal.End(res.Day)
	steps := []func(clearing.Cycle) (clearing.Cycle, error){
		func(x clearing.Cycle) (clearing.Cycle, error) {
			return x.Compute(res.Claim.Range, 0, after.Add(time.Hour))
		},
		func(x clearing.Cycle) (clearing.Cycle, error) { return x.Review("ann", after.Add(2*time.Hour)) },
		func(x clearing.Cycle) (clearing.Cycle, error) { return x.Approve("bob", after.Add(3*time.Hour)) },
		func(x clearing.Cycle) (clearing.Cycle, error) {
			return x.Close(after.Add(9*time.Hour + 30*time.Minute))
		},
	}
	for _, s := range steps {
		var err error
		if cy, err = s(cy); err != nil {
			t.Fatal(err)
		}
	}
	return &cy
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

// The issue: "positions CSV (party, receivable, payable, net, in fen)";
// "re-running a cycle gives byte-identical files (golden-file tests)".
func TestPositionsCSV(t *testing.T) {
	_, res := cleared(t)
	var b bytes.Buffer
	if err := WritePositionsCSV(&b, res); err != nil {
		t.Fatal(err)
	}
	golden(t, "positions.csv", b.Bytes())
	rows, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "party,receivable_fen,payable_fen,net_fen" || len(rows) != 1+len(res.Positions) {
		t.Fatalf("rows %v", rows)
	}
	var net int64
	for _, r := range rows[1:] {
		rec, _ := strconv.ParseInt(r[1], 10, 64)
		pay, _ := strconv.ParseInt(r[2], 10, 64)
		n, _ := strconv.ParseInt(r[3], 10, 64)
		if rec-pay != n {
			t.Errorf("row %v: receivable - payable != net", r)
		}
		net += n
	}
	if net != 0 {
		t.Errorf("nets sum to %d", net)
	}
}

// pain is the part of a pain.001 the test reads back.
type pain struct {
	XMLName xml.Name `xml:"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09 Document"`
	Header  struct {
		MsgID   string `xml:"MsgId"`
		Created string `xml:"CreDtTm"`
		Count   int    `xml:"NbOfTxs"`
		Sum     string `xml:"CtrlSum"`
	} `xml:"CstmrCdtTrfInitn>GrpHdr"`
	Payments []struct {
		Count     int    `xml:"NbOfTxs"`
		Sum       string `xml:"CtrlSum"`
		Debtor    string `xml:"Dbtr>Nm"`
		Transfers []struct {
			EndToEnd string `xml:"PmtId>EndToEndId"`
			Amount   struct {
				Ccy   string `xml:"Ccy,attr"`
				Value string `xml:",chardata"`
			} `xml:"Amt>InstdAmt"`
			Creditor string `xml:"Cdtr>Nm"`
			Account  string `xml:"CdtrAcct>Id>Othr>Id"`
		} `xml:"CdtTrfTxInf"`
	} `xml:"CstmrCdtTrfInitn>PmtInf"`
}

func fenOf(t *testing.T, yuan string) int64 {
	t.Helper()
	whole, frac, ok := strings.Cut(yuan, ".")
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if !ok || len(frac) != 2 || err1 != nil || err2 != nil {
		t.Fatalf("amount %q: want yuan with two decimals", yuan)
	}
	return w*100 + f
}

// The issue: "settlement instructions for the bank as ISO 20022 pain.001
// (credit transfers: group header with NbOfTxs and CtrlSum, an EndToEndId
// per payment)"; "the creation time in a pain.001 group header is the
// cycle's close time, and message ids derive from the cycle".
func TestPain001(t *testing.T) {
	cy, res := cleared(t)
	var b bytes.Buffer
	if err := WritePain001(&b, settle(t, cy, res)); err != nil {
		t.Fatal(err)
	}
	golden(t, "pain001.xml", b.Bytes())

	var p pain
	if err := xml.Unmarshal(b.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	var wantN int
	var wantFen int64
	for _, pos := range res.Positions {
		if pos.NetFen > 0 && pos.Party != our {
			wantN++
			wantFen += pos.NetFen
		}
	}
	if wantN != 2 {
		t.Fatalf("the example pays %d parties, want 2 (nb-bus, nb-metro; the shop pays in)", wantN)
	}
	if p.Header.Count != wantN || fenOf(t, p.Header.Sum) != wantFen || len(p.Payments) != 1 ||
		p.Payments[0].Count != wantN || fenOf(t, p.Payments[0].Sum) != wantFen {
		t.Fatalf("header %+v, payments %+v; want %d transfers of %d fen", p.Header, p.Payments, wantN, wantFen)
	}
	if p.Header.MsgID != "CCLR-20261201" || p.Header.Created != "2026-12-02T09:30:00+08:00" {
		t.Errorf("message ID %q, created %q", p.Header.MsgID, p.Header.Created)
	}
	var sum int64
	seen := map[string]bool{}
	for _, tr := range p.Payments[0].Transfers {
		sum += fenOf(t, tr.Amount.Value)
		if seen[tr.EndToEnd] || len(tr.EndToEnd) > 35 || tr.Amount.Ccy != "CNY" {
			t.Errorf("transfer %+v", tr)
		}
		seen[tr.EndToEnd] = true
	}
	if sum != wantFen {
		t.Errorf("transfers sum to %d fen, CtrlSum says %d", sum, wantFen)
	}
	if tr := p.Payments[0].Transfers[0]; tr.EndToEnd != "CCLR-20261201-00001" || tr.Creditor != parties["nb-bus"].Name || tr.Account != parties["nb-bus"].Account {
		t.Errorf("first transfer %+v", tr)
	}
}

func settle(t *testing.T, cy *clearing.Cycle, res *clearing.Result) *Settlement {
	t.Helper()
	s, err := Settle(cy, res, parties)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The issue: settlement instructions "as ISO 20022 pain.001 ... and as
// CSV": the same payments, the same EndToEndIds.
func TestInstructionsCSV(t *testing.T) {
	cy, res := cleared(t)
	s := settle(t, cy, res)
	var b bytes.Buffer
	if err := WriteInstructionsCSV(&b, s); err != nil {
		t.Fatal(err)
	}
	golden(t, "instructions.csv", b.Bytes())
	rows, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "end_to_end_id,party,name,account,amount_fen" || len(rows) != 3 {
		t.Fatalf("rows %v", rows)
	}
	var sum int64
	for i, r := range rows[1:] {
		fen, _ := strconv.ParseInt(r[4], 10, 64)
		sum += fen
		if r[0] != s.Instructions[i].EndToEndID || r[2] != parties[r[1]].Name {
			t.Errorf("row %v, instruction %+v", r, s.Instructions[i])
		}
	}
	if sum != s.SumFen {
		t.Errorf("rows sum to %d fen, the settlement to %d", sum, s.SumFen)
	}
}

func TestPain001Refuses(t *testing.T) {
	cy, res := cleared(t)
	open := *cy
	open.State = clearing.Approved
	other := *cy
	other.Day++
	long := map[string]Party{}
	for k, v := range parties {
		long[k] = v
	}
	long["nb-metro"] = Party{Name: "x", Account: strings.Repeat("9", AccountLenMax+1)}
	missing := map[string]Party{our: parties[our]}
	for _, c := range []struct {
		name    string
		cy      *clearing.Cycle
		parties map[string]Party
		kind    citycard.Kind
	}{
		{"an approved cycle", &open, parties, citycard.Conflict},
		{"another day's result", &other, parties, citycard.Conflict},
		{"an account too long", cy, long, citycard.Invalid},
		{"a party unknown", cy, missing, citycard.NotFound},
	} {
		if _, err := Settle(c.cy, res, c.parties); !citycard.IsKind(err, c.kind) {
			t.Errorf("%s: %v, want %v", c.name, err, c.kind)
		}
	}
	long["nb-metro"] = Party{Name: strings.Repeat("名", NameLenMax), Account: strings.Repeat("9", AccountLenMax)}
	if _, err := Settle(cy, res, long); err != nil {
		t.Errorf("a name and an account at their limits: %v", err)
	}
}

// The same cycle cleared twice gives byte-identical files.
func TestFilesRepeat(t *testing.T) {
	var files [2][3]bytes.Buffer
	for i := range files {
		cy, res := cleared(t)
		s := settle(t, cy, res)
		if err := WritePositionsCSV(&files[i][0], res); err != nil {
			t.Fatal(err)
		}
		if err := WritePain001(&files[i][1], s); err != nil {
			t.Fatal(err)
		}
		if err := WriteInstructionsCSV(&files[i][2], s); err != nil {
			t.Fatal(err)
		}
	}
	for j := range 3 {
		if !bytes.Equal(files[0][j].Bytes(), files[1][j].Bytes()) {
			t.Errorf("file %d differs between two runs", j)
		}
	}
}

// Files writes the three files of the golden tests, under the day's
// names, the same on every call.
func TestFiles(t *testing.T) {
	cy, res := cleared(t)
	fs, err := Files(cy, res, parties)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Files(cy, res, parties)
	if err != nil {
		t.Fatal(err)
	}
	golds := []string{"positions.csv", "instructions.csv", "pain001.xml"}
	for i, f := range fs {
		if f.Name != FileNames(cy.Day)[i] || !strings.HasPrefix(f.Name, "CCLR-"+cy.Day.Compact()+"-") {
			t.Errorf("file %d named %q", i, f.Name)
		}
		want, err := os.ReadFile(filepath.Join("testdata", golds[i]))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Data, want) || !bytes.Equal(again[i].Data, f.Data) {
			t.Errorf("%s differs from testdata/%s or between calls", f.Name, golds[i])
		}
	}
}

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{0: "0.00", 5: "0.05", 100: "1.00", 12345: "123.45", -5: "-0.05", -12345: "-123.45"} {
		if got := Yuan(fen); got != want {
			t.Errorf("Yuan(%d) = %q, want %q", fen, got, want)
		}
	}
}

// TestConcessionsAndCommissionsFiles: a cycle with compensation claims
// and commissions writes them, after the three files, the same bytes on
// every call; one without writes the three alone.
func TestConcessionsAndCommissionsFiles(t *testing.T) {
	cy, res := cleared(t)
	res.FareVersion = "ningbo-2026"
	res.Concessions = []clearing.ConcessionLine{
		{Funder: "bureau", Operator: "nb-bus", RiderCategory: 1, Kind: "category", Records: 3, DiscountFen: 300, ClaimFen: 300},
		{Funder: "bureau", Operator: "nb-metro", RiderCategory: 0, Kind: "transfer", Records: 1, DiscountFen: 75, ClaimFen: 37, RemainderMicro: 500000},
	}
	res.Commissions = []clearing.CommissionLine{{Channel: "agent-7", Issuer: "31500001FFFFFFFF", Rule: "agent", Loads: 2, LoadedFen: 101000, CommissionFen: 110}}
	fs, err := Files(cy, res, parties)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Files(cy, res, parties)
	if err != nil {
		t.Fatal(err)
	}
	p := "CCLR-" + cy.Day.Compact() + "-"
	want := map[string]string{
		p + "concessions.csv": "funder,operator,rider_category,kind,records,discount_fen,claim_fen,remainder_micro,fare_version\n" +
			"bureau,nb-bus,1,category,3,300,300,0,ningbo-2026\nbureau,nb-metro,0,transfer,1,75,37,500000,ningbo-2026\n",
		p + "commissions.csv": "channel,issuer,rule,loads,loaded_fen,commission_fen,remainder_micro\nagent-7,31500001FFFFFFFF,agent,2,101000,110,0\n",
	}
	if len(fs) != 5 {
		t.Fatalf("%d files, want 5", len(fs))
	}
	for i, f := range fs[3:] {
		if string(f.Data) != want[f.Name] || !bytes.Equal(again[3+i].Data, f.Data) {
			t.Errorf("%s:\n%s\nwant\n%s", f.Name, f.Data, want[f.Name])
		}
	}
}

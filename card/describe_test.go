package card_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestDescribeGolden runs a tap-on, a tap-off, a load, a refusal, a
// block and a tear through Describe and compares the lines with
// testdata/describe.golden (go test -update rewrites it).
func TestDescribeGolden(t *testing.T) {
	f := newFixture(t, card.ProfileCitizen, []keys.Alg{keys.Alg3DES}, withBalance(5000))
	f.tracing = true
	f.must(cmdSelect(card.BankAID()), apdu.SWOK)
	f.must(cmdGetBalance(), apdu.SWINSNotSupported)
	f.selectEPurse()
	f.must([]byte{0x00, 0xB0, 0x95, 0x00, 0x20}, apdu.SWOK)
	f.must(cmdReadTransit(card.RecordJourney), apdu.SWRecordNotFound)
	trip := card.JourneyRecord{Status: card.LegOpen, Network: 1, Line: 3, Station: 12, EntryDate: testDate, EntryTime: testTime,
		Terminal: testTerminal, ProvisionalFen: 400, JourneyDate: testDate, JourneyTime: testTime, JourneyLegs: 1, JourneySpendFen: 400}
	on := f.purchase(citycard.TxCompositePurchase, 1, 400, mustMarshal(t, trip))
	f.must(cmdReadTransit(card.RecordJourney), apdu.SWOK)
	f.must(cmdReadLog(1), apdu.SWOK)
	trip.Status = card.LegClosed
	f.purchase(citycard.TxCompositePurchase, 1, 0, mustMarshal(t, trip),
		mustMarshal(t, card.Spend{Day: testDate, DaySpendFen: 400, DayRides: 1, Month: card.BCDMonth{0x20, 0x25, 0x06}, MonthSpendFen: 400, MonthRides: 1}))
	f.must(cmdProof(citycard.TxCompositePurchase, on.init.counter), apdu.SWMACNotAvailable)
	f.load(1, 2000)
	f.must(cmdInit(0x01, 1, 99999, testTerminal), apdu.SWInsufficientFunds)
	f.must(cmdInit(0x01, 2, 1, testTerminal), apdu.SWKeyIndexUnsupported)
	_, p := f.startPurchase(citycard.TxPurchase, 1, 150)
	pr := f.purchaseProof(1, p)
	f.card.Tear(card.TearAfterCommit)
	resp, err := f.card.Transmit(cmdDebit(p.TerminalSeq, p.Date, p.Time, pr.MAC1))
	if err == nil {
		t.Fatal("no tear")
	}
	f.trace = append(f.trace, card.Describe(cmdDebit(p.TerminalSeq, p.Date, p.Time, pr.MAC1), resp))
	f.selectEPurse()
	f.must(cmdProof(citycard.TxPurchase, p.OfflineCounter), apdu.SWOK)
	ch := f.challenge()
	mac, err := card.BlockMAC(keys.Alg3DES, f.keys[1].damk, ch, 0x84, 0x1E)
	if err != nil {
		t.Fatal(err)
	}
	f.must(cmdBlock(0x1E, mac), apdu.SWOK)
	f.must(cmdSelect(card.ProfileCitizen.AID()), apdu.SWWarnFileInvalidated)
	f.must([]byte{0x90, 0x00, 0x00, 0x00}, apdu.SWCLANotSupported)
	f.must([]byte{0x80, 0x5C, 0x00, 0x02, 0x03, 0x00}, apdu.SWWrongLength)

	got := strings.Join(f.trace, "\n") + "\n"
	golden := filepath.Join("testdata", "describe.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("Describe lines differ from %s:\n%s", golden, got)
	}
}

func TestDescribeLines(t *testing.T) {
	tests := []struct {
		cmd, resp, want string
	}{
		{"80500102 0B 01 000000C8 000000000001 0F", "00001388 0003 000000 01 00 1A2B3C4D 9000",
			"INITIALIZE FOR PURCHASE key v1 amount 200 fen terminal 000000000001 -> balance 5000 fen, offline counter 3, overdraw 0 fen, key v1, alg 3DES, random 1A2B3C4D"},
		{"80500002 0B 02 000003E8 000000000001 10", "FFFFFF6A 0007 02 04 01020304 A1B2C3D4 9000",
			"INITIALIZE FOR LOAD key v2 amount 1000 fen terminal 000000000001 -> balance -150 fen, online counter 7, key v2, alg SM4, random 01020304, MAC1 A1B2C3D4"},
		{"805C0002 04", "9401", "GET BALANCE -> 9401 insufficient balance"},
		{"80540100 0F 00000001 20250601 083000 11223344 08", "", "DEBIT FOR PURCHASE terminal sequence 1, 20250601 083000, MAC1 11223344 -> no response (the card lost power)"},
		{"805A0006 02 0003 08", "AABBCCDD 11223344 9000", "GET TRANSACTION PROOF purchase counter 3 -> MAC2 AABBCCDD, TAC 11223344"},
		{"00A4", "6700", "malformed APDU [00 A4] -> 6700 wrong length"},
		{"80CA9F36 00", "6D00", "unknown command 80 CA 9F 36 -> 6D00 instruction not supported"},
		{"80", "6F", "malformed APDU [80] -> malformed response [6F]"},
		{"80DE0100 21 04 315000000201 00000009 20260901 074530 0009 00 0000000000000000 84E27B2A 04", "9B0B2D5D 9000",
			"STAMP slot 1 action 4 terminal 315000000201 sequence 9, 20260901 074530, uses 9 inside 0 sites 0000000000000000, write MAC 84E27B2A -> stamp MAC 9B0B2D5D"},
		{"00B09A00 00", "01 01 00000003 0007 01 CFF6A611 02 00000007 20260901 20270715 0000 000A 0002 00000000 000000 00 0000000000000000 9000",
			"READ BINARY SFI 1Ah offset 0, to the end -> entitlements v3, key v1, counter 7, grant MAC CFF6A611; library 7 valid 20260901 to 20270715, uses 2 of 10"},
	}
	for _, tt := range tests {
		var resp []byte
		if tt.resp != "" {
			resp = unhex(t, tt.resp)
		}
		if got := card.Describe(unhex(t, tt.cmd), resp); got != tt.want {
			t.Errorf("Describe(%s, %s)\n got %s\nwant %s", tt.cmd, tt.resp, got, tt.want)
		}
	}
}

func TestDescribeTripPreviousLeg(t *testing.T) {
	tr := card.JourneyRecord{Status: card.LegOpen, Network: 2, Line: 1, Station: 7, EntryDate: citycard.BCDDate{0x20, 0x26, 0x11, 0x24}, EntryTime: citycard.BCDTime{0x08, 0x10, 0x00},
		JourneyDate: citycard.BCDDate{0x20, 0x26, 0x11, 0x24}, JourneyTime: citycard.BCDTime{0x07, 0x55, 0x00}, JourneyLegs: 2, JourneySpendFen: 200,
		PrevNetwork: 1, PrevLine: 17, PrevFromStation: 3, PrevToStation: 3, PrevStartDate: citycard.BCDDate{0x20, 0x26, 0x11, 0x24}, PrevStartTime: citycard.BCDTime{0x07, 0x55, 0x00}, PrevEndDate: citycard.BCDDate{0x20, 0x26, 0x11, 0x24}, PrevEndTime: citycard.BCDTime{0x07, 0x55, 0x00}, PrevFen: 200}
	describe := func(tr card.JourneyRecord) string {
		b, err := tr.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		cmd := apdu.Command{CLA: 0x00, INS: 0xB2, P1: card.RecordJourney, P2: card.SFITransit << 3, Le: card.JourneyRecordLen}
		return card.Describe(cmd.Encode(), apdu.Response{Data: b, SW: apdu.SWOK}.Encode())
	}
	want := "; previous leg network 1 line 17 station 3 to 3, product 0, 20261124 075500 to 20261124 075500, paid 200 fen"
	if got := describe(tr); !strings.HasSuffix(got, want) {
		t.Fatalf("%q\nwant it to end %q", got, want)
	}
	tr.PrevNetwork, tr.PrevLine, tr.PrevFromStation, tr.PrevToStation, tr.PrevFen = 0, 0, 0, 0, 0
	tr.PrevEndDate, tr.PrevEndTime = citycard.BCDDate{}, citycard.BCDTime{}
	tr.PrevStartDate, tr.PrevStartTime = citycard.BCDDate{}, citycard.BCDTime{}
	if got := describe(tr); strings.Contains(got, "previous") || !strings.Contains(got, "last leg open") {
		t.Fatalf("a trip with no previous leg: %q", got)
	}
}

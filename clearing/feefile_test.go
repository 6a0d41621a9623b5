package clearing

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

const feeFileGood = FeeHeader + `
# the bus company: 0.5% on buses, at least 1 fen, at most 1 yuan
bus1,2026-12-01,bus,1|2,,bus_validator,5000,0,1,100
bus1,2026-12-01,other,,,,0,2,0,0

metro,2026-11-01,all,,3,gate|kiosk,1000000,100000000,100000000,100000000
`

// TestDecodeFees follows the format of README.md, "Fee schedule files".
func TestDecodeFees(t *testing.T) {
	got, err := DecodeFees("fees.csv", strings.NewReader(feeFileGood))
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := ParseDay("2026-12-01")
	d2, _ := ParseDay("2026-11-01")
	want := []FeeVersion{
		{Effective: d1, Schedule: FeeSchedule{Party: "bus1", Rules: []FeeRule{
			{Name: "bus", Products: []uint16{1, 2}, TerminalTypes: []registry.TerminalType{registry.TerminalBusValidator}, RatePPM: 5000, MinFen: 1, MaxFen: 100},
			{Name: "other", FixedFen: 2},
		}}},
		{Effective: d2, Schedule: FeeSchedule{Party: "metro", Rules: []FeeRule{
			{Name: "all", CardTypes: []uint8{3}, TerminalTypes: []registry.TerminalType{registry.TerminalGate, registry.TerminalKiosk},
				RatePPM: RatePPMMax, FixedFen: FeeFenMax, MinFen: FeeFenMax, MaxFen: FeeFenMax},
		}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// What EncodeFees writes decodes to the same versions.
	var b bytes.Buffer
	if err := EncodeFees(&b, got); err != nil {
		t.Fatal(err)
	}
	again, err := DecodeFees("again.csv", &b)
	if err != nil || !reflect.DeepEqual(again, want) {
		t.Fatalf("round trip: %v\n%+v", err, again)
	}
}

// TestDecodeFeesRefuses: every error names the file, the line and the
// field; each limit is tested at its boundary (the good file holds the
// largest values allowed).
func TestDecodeFeesRefuses(t *testing.T) {
	row := func(fields ...string) string {
		base := []string{"bus1", "2026-12-01", "r", "", "", "", "0", "0", "0", "0"}
		for i := 0; i+1 < len(fields); i += 2 {
			var col int
			fmt.Sscan(fields[i], &col)
			base[col] = fields[i+1]
		}
		return FeeHeader + "\n" + strings.Join(base, ",") + "\n"
	}
	long := strings.Repeat("a", RuleNameMax+1)
	tests := []struct{ name, in, want string }{
		{"empty", "", "f.csv:1: empty"},
		{"bad header", "party,effective\n", "f.csv:1: header"},
		{"CRLF", FeeHeader + "\r\n", "f.csv:1: a carriage return"},
		{"fields", FeeHeader + "\nbus1,2026-12-01\n", "f.csv:2: 2 fields, want 10"},
		{"no rules", FeeHeader + "\n# nothing\n", "f.csv: no rules"},
		{"party", row("0", "bus 1"), "f.csv:2: field party:"},
		{"party empty", row("0", ""), "f.csv:2: field party:"},
		{"day", row("1", "2026-13-01"), "f.csv:2: field effective:"},
		{"rule name", row("2", long), "f.csv:2: field rule:"},
		{"product range", row("3", "65536"), "f.csv:2: field products: \"65536\": want 0 to 65535"},
		{"product twice", row("3", "1|1"), "f.csv:2: field products: \"1\" given twice"},
		{"product empty", row("3", "1|"), "f.csv:2: field products: empty"},
		{"card type", row("4", "256"), "f.csv:2: field card_types:"},
		{"channel", row("5", "ferry"), "f.csv:2: field channels: unknown channel \"ferry\""},
		{"rate", row("6", "1000001"), "f.csv:2: field rate_ppm: \"1000001\": want 0 to 1000000"},
		{"sign", row("6", "+5"), "f.csv:2: field rate_ppm: \"+5\": want digits only"},
		{"negative", row("7", "-1"), "f.csv:2: field fixed_fen:"},
		{"leading zero", row("8", "01"), "f.csv:2: field min_fen: \"01\": a leading zero"},
		{"space", row("8", " 1"), "f.csv:2: field min_fen:"},
		{"fixed", row("7", "100000001"), "f.csv:2: field fixed_fen: \"100000001\": want 0 to 100000000"},
		{"cap below min", row("8", "5", "9", "4"), "f.csv:2: field max_fen: cap 4 below the minimum 5"},
		{"rule twice", FeeHeader + "\nbus1,2026-12-01,r,,,,0,0,0,0\nbus1,2026-12-01,r,,,,0,0,0,0\n", "f.csv:3: field rule: \"r\": taken"},
		{"version split", FeeHeader + "\nbus1,2026-12-01,r,,,,0,0,0,0\nbus2,2026-12-01,r,,,,0,0,0,0\nbus1,2026-12-01,s,,,,0,0,0,0\n", "f.csv:4: field effective: the schedule of bus1 from 2026-12-01 was given earlier"},
		{"not UTF-8", FeeHeader + "\n\xff\n", "f.csv: not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeFees("f.csv", strings.NewReader(tt.in))
			if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want Invalid containing %q", err, tt.want)
			}
		})
	}
}

// TestDecodeFeesRulesMax: a schedule of RulesMax rules is read, one more is not.
func TestDecodeFeesRulesMax(t *testing.T) {
	file := func(n int) string {
		var b strings.Builder
		b.WriteString(FeeHeader + "\n")
		for i := range n {
			fmt.Fprintf(&b, "bus1,2026-12-01,r%d,,,,0,0,0,0\n", i)
		}
		return b.String()
	}
	if _, err := DecodeFees("f.csv", strings.NewReader(file(RulesMax))); err != nil {
		t.Fatalf("%d rules: %v", RulesMax, err)
	}
	_, err := DecodeFees("f.csv", strings.NewReader(file(RulesMax+1)))
	if want := fmt.Sprintf("f.csv:%d: field rule: more than %d rules", RulesMax+2, RulesMax); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%d rules: %v, want %q", RulesMax+1, err, want)
	}
}

// FuzzDecodeFees: whatever the bytes, DecodeFees returns versions or an
// Invalid error naming the file; what it returns is valid, and encodes to
// a file that decodes to the same versions.
func FuzzDecodeFees(f *testing.F) {
	f.Add([]byte(feeFileGood))
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, err := DecodeFees("fuzz.csv", bytes.NewReader(data))
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "fuzz.csv") {
				t.Fatalf("error %v: want Invalid naming the file", err)
			}
			return
		}
		for i := range vs {
			if err := vs[i].Schedule.validate("fuzz"); err != nil {
				t.Fatal(err)
			}
		}
		var b bytes.Buffer
		if err := EncodeFees(&b, vs); err != nil {
			t.Fatal(err)
		}
		again, err := DecodeFees("fuzz.csv", &b)
		if err != nil || !reflect.DeepEqual(again, vs) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestInForce: per party, the version of the latest effective day on or
// before the day (clearing/doc.go, "Fee schedule versions").
func TestInForce(t *testing.T) {
	vs, err := DecodeFees("f.csv", strings.NewReader(FeeHeader+"\nb,2026-12-02,r,,,,2,0,0,0\nb,2026-12-01,r,,,,1,0,0,0\na,2026-12-03,r,,,,3,0,0,0\nc,2026-11-01,r,,,,4,0,0,0\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := DayOf(2026, 12, 1)
	for _, tt := range []struct {
		day  Day
		want string // party:rate of each schedule
	}{
		{d - 31, ""}, {d - 30, "c:4"}, {d, "b:1 c:4"}, {d + 1, "b:2 c:4"}, {d + 2, "a:3 b:2 c:4"},
	} {
		var got []string
		for _, s := range InForce(vs, tt.day) {
			got = append(got, fmt.Sprintf("%s:%d", s.Party, s.Rules[0].RatePPM))
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%v: %v, want %q", tt.day, got, tt.want)
		}
	}
}

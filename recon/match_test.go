package recon

import (
	"bytes"
	"flag"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// settlement is day 2026-12-01's settlement, closed on 2026-12-02: the
// payments the test statements pay (two of them exact.xml's).
func settlement(n int) *exchange.Settlement {
	d := clearing.DayOf(2026, 12, 1)
	zone := time.FixedZone("CST", 8*3600)
	s := &exchange.Settlement{Day: d, MessageID: exchange.MessageID(d), Closed: time.Date(2026, 12, 2, 9, 30, 0, 0, zone), Collector: "31500001FFFFFFFF"}
	for i, p := range []struct {
		party string
		fen   int64
	}{{"nb-bus", 9909}, {"nb-metro", 18031}, {"nb-bike", 5000}, {"nb-taxi", 1200}, {"nb-park", 800}, {"nb-shop", 20000}}[:n] {
		s.Instructions = append(s.Instructions, exchange.Instruction{EndToEndID: exchange.EndToEndID(d, i+1), Party: p.party, Name: p.party, Account: "ACCT " + p.party, AmountFen: p.fen})
		s.SumFen += p.fen
	}
	return s
}

// reconcile matches the statements' movements (IDs from 1, in order)
// against ins, statement after statement, as imports do, and returns
// the findings aged as of today.
func reconcile(t *testing.T, ins []Instruction, today clearing.Day, files ...string) []Finding {
	t.Helper()
	snap := &Snapshot{Instructions: ins}
	for _, f := range files {
		st, err := Parse(Sniff(read(t, f)), f, read(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range st.Movements {
			m.ID = int64(len(snap.Movements) + 1)
			snap.Movements = append(snap.Movements, m)
		}
		var open Open
		for _, in := range snap.Instructions {
			if in.Match == 0 {
				open.Instructions = append(open.Instructions, in)
			}
		}
		for _, m := range snap.Movements {
			if m.Match == 0 {
				open.Movements = append(open.Movements, m)
			}
		}
		for _, m := range matching(open.Instructions, open.Movements, DefaultToleranceDays) {
			m.ID, m.Statement = int64(len(snap.Matches)+1), st.ID
			snap.Matches = append(snap.Matches, m)
			for i := range snap.Instructions {
				if slices.Contains(m.Instructions, snap.Instructions[i].EndToEndID) {
					snap.Instructions[i].Match = m.ID
				}
			}
			for i := range snap.Movements {
				if slices.Contains(m.Movements, snap.Movements[i].ID) {
					snap.Movements[i].Match = m.ID
				}
			}
		}
	}
	return findingsOf(snap, today)
}

func openIDs(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Open() {
			out = append(out, f.ID+" "+f.State.String())
		}
	}
	return out
}

func TestMatchExact(t *testing.T) {
	for _, file := range []string{"exact.xml", "exact.csv"} {
		fs := reconcile(t, InstructionsOf(settlement(2)), clearing.DayOf(2026, 12, 5), file)
		if len(fs) != 2 || openIDs(fs) != nil {
			t.Fatalf("%s: %d findings, open %q", file, len(fs), openIDs(fs))
		}
		for _, f := range fs {
			if f.State != Matched || f.How != ByEndToEnd || f.InstructedFen != f.BankFen || len(f.EndToEndIDs) != 1 || len(f.Movements) != 1 {
				t.Errorf("%s: %+v", file, f)
			}
		}
	}
}

// TestMatchMismatched: a payment 1 fen short, one missing, an extra
// movement, a batch booking of two payments, a payment by reference
// alone, and one paid in two movements: exactly the first three are
// open, in both forms of the statement; the golden files are the
// reports.
func TestMatchMismatched(t *testing.T) {
	today := clearing.DayOf(2026, 12, 5)
	want := []string{"CCLR-20261201-00002 unmatched_instruction", "match-1 mismatched", "bank-6 unmatched_movement"}
	for _, file := range []string{"mismatched.xml", "mismatched.csv"} {
		fs := reconcile(t, InstructionsOf(settlement(6)), today, file)
		if got := openIDs(fs); !slices.Equal(got, want) {
			t.Fatalf("%s: open %q, want %q", file, got, want)
		}
		var csvOut, table bytes.Buffer
		if err := WriteFindingsCSV(&csvOut, fs); err != nil {
			t.Fatal(err)
		}
		if err := WriteFindingsTable(&table, fs); err != nil {
			t.Fatal(err)
		}
		golden(t, "findings.csv", csvOut.Bytes())
		golden(t, "findings.txt", table.Bytes())
	}
	// The missing payment arrives the next day: matched, the rest as
	// they were.
	fs := reconcile(t, InstructionsOf(settlement(6)), today, "mismatched.xml", "late.xml")
	if got := openIDs(fs); !slices.Equal(got, []string{"match-1 mismatched", "bank-6 unmatched_movement"}) {
		t.Fatalf("after late.xml: open %q", got)
	}
}

// TestMatchRules: each rule alone, on movements made in the test.
func TestMatchRules(t *testing.T) {
	ins := InstructionsOf(settlement(6))
	due := ins[0].Due
	mv := func(id int64, fen int64, booked clearing.Day, parts ...Part) Movement {
		return Movement{ID: id, Direction: Debit, AmountFen: fen, Booked: booked, Parts: parts}
	}
	ref := func(i int) Part { return Part{Remittance: ins[i].Remittance} }
	for _, tt := range []struct {
		name string
		mvs  []Movement
		want []string // state how instructions... per match
	}{
		{"reference within the tolerance", []Movement{mv(1, 5000, due+3, ref(2))}, []string{"matched reference [CCLR-20261201-00003]"}},
		{"reference past the tolerance", []Movement{mv(1, 5000, due+4, ref(2))}, nil},
		{"reference before the due day", []Movement{mv(1, 5000, due-3, ref(2))}, []string{"matched reference [CCLR-20261201-00003]"}},
		{"amount and date without a reference", []Movement{mv(1, 5000, due)}, nil},
		{"reference, amount off", []Movement{mv(1, 4999, due, ref(2))}, []string{"mismatched reference [CCLR-20261201-00003]"}},
		{"end-to-end past the tolerance", []Movement{mv(1, 5000, due+30, Part{EndToEndID: ins[2].EndToEndID})}, []string{"matched end_to_end_id [CCLR-20261201-00003]"}},
		{"several movements one instruction by end-to-end", []Movement{mv(1, 3000, due, Part{EndToEndID: ins[2].EndToEndID}), mv(2, 2000, due, Part{EndToEndID: ins[2].EndToEndID})},
			[]string{"matched end_to_end_id [CCLR-20261201-00003]"}},
		{"a batch booking by the cycle's message ID", []Movement{mv(1, 9909+18031+5000+1200+800+20000, due, Part{MessageID: "CCLR-20261201"})},
			[]string{"matched cycle [CCLR-20261201-00001 CCLR-20261201-00002 CCLR-20261201-00003 CCLR-20261201-00004 CCLR-20261201-00005 CCLR-20261201-00006]"}},
		{"one payment named by the cycle alone", []Movement{mv(1, 1200, due, Part{PaymentInfoID: "CCLR-20261201-1"})}, []string{"matched cycle [CCLR-20261201-00004]"}},
		{"a batch booking by the cycle, a fen short", []Movement{mv(1, 9909+18031+5000+1200+800+20000-1, due, Part{MessageID: "CCLR-20261201"})}, nil},
		{"another party's remittance, of which this one's is a prefix", []Movement{mv(1, 5000, due, Part{Remittance: ins[2].Remittance + "-express"})}, nil},
		{"the remittance and more words", []Movement{mv(1, 5000, due, Part{Remittance: "PAYMENT " + ins[2].Remittance + ", THANK YOU"})}, []string{"matched reference [CCLR-20261201-00003]"}},
		{"the remittance after Chinese text", []Movement{mv(1, 5000, due, Part{Remittance: "转账：" + ins[2].Remittance + "。"})}, []string{"matched reference [CCLR-20261201-00003]"}},
		{"a credit naming an instruction", []Movement{{ID: 1, Direction: Credit, AmountFen: 5000, Booked: due, Parts: []Part{{EndToEndID: ins[2].EndToEndID}}}},
			[]string{"mismatched end_to_end_id [CCLR-20261201-00003]"}},
	} {
		var got []string
		for _, m := range matching(ins, tt.mvs, DefaultToleranceDays) {
			got = append(got, m.State.String()+" "+m.How+" "+fmtList(m.Instructions))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func fmtList(s []string) string {
	b := []byte("[")
	for i, v := range s {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, v...)
	}
	return string(append(b, ']'))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./recon -update rewrites it):\n%s", name, got)
	}
}

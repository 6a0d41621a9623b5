package recon

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
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
		{"a credit naming an instruction", []Movement{{ID: 1, Direction: Credit, AmountFen: 5000, Booked: due, Parts: []Part{{EndToEndID: ins[2].EndToEndID}}}}, nil},
		{"a credit with an instruction's remittance", []Movement{{ID: 1, Direction: Credit, AmountFen: 5000, Booked: due, Parts: []Part{ref(2)}}}, nil},
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

// payInSettlements are two cycles' settlements with pay-ins expected:
// 2026-12-01's (closed 2026-12-02) pays nb-bus and expects four payers'
// pay-ins, 2026-12-02's (closed 2026-12-03) two.
func payInSettlements() []*exchange.Settlement {
	zone := time.FixedZone("CST", 8*3600)
	d := clearing.DayOf(2026, 12, 1)
	one := &exchange.Settlement{Day: d, MessageID: exchange.MessageID(d), Closed: time.Date(2026, 12, 2, 9, 30, 0, 0, zone), Collector: "31500001FFFFFFFF",
		Instructions: []exchange.Instruction{{EndToEndID: exchange.EndToEndID(d, 1), Party: "nb-bus", Name: "nb-bus", Account: "ACCT nb-bus", AmountFen: 9909}}, SumFen: 9909}
	two := &exchange.Settlement{Day: d + 1, MessageID: exchange.MessageID(d + 1), Closed: time.Date(2026, 12, 3, 9, 30, 0, 0, zone), Collector: "31500001FFFFFFFF"}
	for _, p := range []struct {
		s     *exchange.Settlement
		party string
		fen   int64
	}{{one, "alipay", 7311}, {one, "wechat-pay", 1500}, {one, "unionpay-qr", 4200}, {one, "jd-pay", 1200}, {two, "alipay", 2689}, {two, "unionpay-qr", 800}} {
		p.s.Incoming = append(p.s.Incoming, exchange.PayIn{Reference: exchange.PayInReference(p.s.Day, len(p.s.Incoming)+1), Party: p.party, Name: p.party, Account: "ACCT " + p.party, AmountFen: p.fen})
		p.s.IncomingFen += p.fen
	}
	return []*exchange.Settlement{one, two}
}

// TestMatchPayIns: the payers' pay-ins on a camt.053 of credits: one by
// its reference as the EndToEndId, one paid in two credits, one credit
// paying a payer's two cycles, one with the amount wrong (mismatched);
// a credit naming a payment and a debit naming a pay-in pay neither;
// the pay-in not made stays open, aged, until it comes in a later
// statement.
func TestMatchPayIns(t *testing.T) {
	var ins []Instruction
	for _, s := range payInSettlements() {
		ins = append(ins, InstructionsOf(s)...)
	}
	today := clearing.DayOf(2026, 12, 5)
	show := func(fs []Finding, open bool) []string {
		var out []string
		for _, f := range fs {
			if f.Open() == open {
				out = append(out, fmt.Sprintf("%s %v %v %d/%d %dd %s", f.ID, f.State, f.Direction, f.InstructedFen, f.BankFen, f.AgeDays, strings.Join(f.EndToEndIDs, "+")))
			}
		}
		return out
	}
	fs := reconcile(t, slices.Clone(ins), today, "payins.xml")
	if got, want := show(fs, false), []string{
		"match-1 matched CRDT -7311/-7311 3d CCLR-20261201-R00001",
		"match-2 matched CRDT -5000/-5000 3d CCLR-20261201-R00003+CCLR-20261202-R00002",
		"match-3 matched CRDT -1500/-1500 3d CCLR-20261201-R00002",
	}; !slices.Equal(got, want) {
		t.Errorf("closed: %q, want %q", got, want)
	}
	want := []string{
		"CCLR-20261201-00001 unmatched_instruction DBIT 9909/0 3d CCLR-20261201-00001",
		"CCLR-20261201-R00004 unmatched_instruction CRDT -1200/0 3d CCLR-20261201-R00004",
		"bank-6 unmatched_movement CRDT 0/-9909 2d ",
		"bank-7 unmatched_movement DBIT 0/1200 2d ",
		"match-4 mismatched CRDT -2689/-2600 2d CCLR-20261202-R00001",
	}
	if got := show(fs, true); !slices.Equal(got, want) {
		t.Errorf("open: %q, want %q", got, want)
	}
	for _, f := range fs {
		if f.ID == "match-2" && !slices.Equal(f.Parties, []string{"unionpay-qr"}) {
			t.Errorf("match-2's parties: %q", f.Parties)
		}
	}
	// jd-pay pays two days late, in the next statement: matched.
	fs = reconcile(t, slices.Clone(ins), today, "payins.xml", "payins-late.xml")
	if got := show(fs, true); !slices.Equal(got, slices.Delete(slices.Clone(want), 1, 2)) {
		t.Errorf("open after payins-late.xml: %q", got)
	}
	if got := show(fs, false); len(got) != 4 || got[3] != "match-5 matched CRDT -1200/-1200 3d CCLR-20261201-R00004" {
		t.Errorf("closed after payins-late.xml: %q", got)
	}
}

// TestMatchPayInRules: the rules on pay-ins alone, on credits made in
// the test.
func TestMatchPayInRules(t *testing.T) {
	ss := payInSettlements()
	ins := append(InstructionsOf(ss[0]), InstructionsOf(ss[1])...)
	due := ins[0].Due
	cr := func(id int64, fen int64, booked clearing.Day, parts ...Part) Movement {
		return Movement{ID: id, Direction: Credit, AmountFen: fen, Booked: booked, Parts: parts}
	}
	ref := func(r string) Part { return Part{Remittance: r} }
	for _, tt := range []struct {
		name string
		mvs  []Movement
		want []string
	}{
		{"reference within the tolerance", []Movement{cr(1, 7311, due+3, ref("CCLR-20261201-R00001"))}, []string{"matched reference [CCLR-20261201-R00001]"}},
		{"reference past the tolerance", []Movement{cr(1, 7311, due+4, ref("CCLR-20261201-R00001"))}, nil},
		{"end-to-end past the tolerance", []Movement{cr(1, 7311, due+30, Part{EndToEndID: "CCLR-20261201-R00001"})}, []string{"matched end_to_end_id [CCLR-20261201-R00001]"}},
		{"end-to-end, amount off", []Movement{cr(1, 7310, due, Part{EndToEndID: "CCLR-20261201-R00001"})}, []string{"mismatched end_to_end_id [CCLR-20261201-R00001]"}},
		{"amount and date without a reference", []Movement{cr(1, 7311, due)}, nil},
		{"one credit, a cycle's pay-ins by its message ID", []Movement{cr(1, 2689+800, due+1, ref("CCLR-20261202"))},
			[]string{"matched cycle [CCLR-20261202-R00001 CCLR-20261202-R00002]"}},
		{"one pay-in named by the cycle and its amount", []Movement{cr(1, 1500, due, ref("CCLR-20261201"))}, []string{"matched cycle [CCLR-20261201-R00002]"}},
		{"the pain.001's payment information ID names no pay-in", []Movement{cr(1, 1500, due, Part{PaymentInfoID: "CCLR-20261201-1"})}, nil},
		{"a debit naming a pay-in", []Movement{{ID: 1, Direction: Debit, AmountFen: 7311, Booked: due, Parts: []Part{{EndToEndID: "CCLR-20261201-R00001"}}}}, nil},
		{"a debit of a cycle's payment beside its pay-ins", []Movement{{ID: 1, Direction: Debit, AmountFen: 9909, Booked: due, Parts: []Part{{MessageID: "CCLR-20261201"}}}},
			[]string{"matched cycle [CCLR-20261201-00001]"}},
		{"a payer's two cycles in one credit by end-to-end", []Movement{cr(1, 7311+2689, due+1, Part{EndToEndID: "CCLR-20261201-R00001", AmountFen: 7311}, Part{EndToEndID: "CCLR-20261202-R00001", AmountFen: 2689})},
			[]string{"matched end_to_end_id [CCLR-20261201-R00001 CCLR-20261202-R00001]"}},
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

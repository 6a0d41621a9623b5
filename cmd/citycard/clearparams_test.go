package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
)

// commitDiscounted journals n student records of clearTestDay on the
// terminal of db's first journaled record, each charged 50 fen less
// than its full fare (a transfer discount), and returns that terminal's
// operator.
func commitDiscounted(t *testing.T, db string, n int) string {
	t.Helper()
	ctx := context.Background()
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	var first acquire.Journaled
	var last int64
	if err := st.journal.Replay(ctx, 0, func(e *acquire.Journaled) error {
		if last == 0 {
			first = *e
		}
		last = e.Pos
		return nil
	}); err != nil || last == 0 {
		t.Fatalf("the bench's journal: %v", err)
	}
	r0, err := record.DecodeBinary(first.Raw[:])
	if err != nil {
		t.Fatal(err)
	}
	term, err := st.registry.Terminal(ctx, first.Terminal)
	if err != nil {
		t.Fatal(err)
	}
	at := clearing.DefaultCalendar().Start(clearTestDay).Add(20 * time.Hour)
	c := &acquire.Commit{At: at, Batches: []acquire.StoredBatch{{Terminal: first.Terminal, ID: "discounted", Answer: []byte("{}"), At: at}}, Movements: [][]acquire.Movement{nil}}
	for i := range n {
		r := r0
		r.Counter, r.TerminalSeq = 60000+uint16(i), 4_000_000+uint32(i)
		r.RiderCategory, r.Product, r.Amount, r.FareFull = 1, 0, 150, 200
		e := acquire.Journaled{Pos: last + 1 + int64(i), Terminal: first.Terminal, BatchID: "discounted", Outcome: acquire.OutcomeVerified, Class: acquire.ClassBooked}
		copy(e.Raw[:], r.AppendBinary(nil))
		c.Entries = append(c.Entries, e)
	}
	if err := st.journal.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	return term.Operator
}

// TestClearConcessionsCommissionsCaps sets a funder's concession shares,
// an agent's commission schedule and a net debit cap from files, as
// `clear fees` sets fee schedules (README.md), and runs a day's cycle
// under them: the bureau owes the operator the transfer discounts of the
// students' records, the agent owes the loads that came in through it
// less its commission, and a party past its cap blocks the review. A bad
// file is refused naming its line and field, and stores nothing.
func TestClearConcessionsCommissionsCaps(t *testing.T) {
	db := clearDB(t, 300)
	operator := commitDiscounted(t, db, 10)
	day := clearTestDay.String()
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The bureau is a registered funder: concessions name real parties.
	if _, _, err := runCLI(t, "registry", "add-funder", "--id", "bureau", "--code", "3150FB0000000001", "--name", "Transport bureau", "--account", "PBOC 1", "--db", db); err != nil {
		t.Fatal(err)
	}
	conc := clearing.ConcessionHeader + "\nbureau," + day + ",category,1,*,1000000\nbureau," + day + ",transfer,*,*,1000000\n"
	comm := clearing.FeeHeader + "\nagent-7," + day + ",agent,,,,10000,0,5,0\n"
	caps := clearing.CapHeader + "\nagent-7," + day + ",1000\n"
	for _, tc := range []struct{ kind, file, body, what string }{
		{"concessions", "conc.csv", conc, "1 concession versions"},
		{"commissions", "comm.csv", comm, "1 commission schedule versions"},
		{"caps", "caps.csv", caps, "1 net debit cap versions"},
	} {
		f := write(tc.file, tc.body)
		if _, _, err := runCLI(t, "clear", tc.kind, "set", f, "--db", db); !errors.Is(err, errUsage) {
			t.Errorf("%s set without --by: %v, want a usage error", tc.kind, err)
		}
		for range 2 {
			if out, _, err := runCLI(t, "clear", tc.kind, "set", f, "--db", db, "--by", "ann"); err != nil || !strings.Contains(out, tc.what) {
				t.Fatalf("%s set: %v\n%s", tc.kind, err, out)
			}
		}
		if out, _, err := runCLI(t, "clear", tc.kind, "show", "--db", db); err != nil || out != tc.body {
			t.Errorf("%s show: %v\n%s\nwant\n%s", tc.kind, err, out, tc.body)
		}
		if out, _, err := runCLI(t, "clear", tc.kind, "show", "--db", db, "--date", (clearTestDay - 1).String(), "--json"); err != nil || strings.TrimSpace(out) != "[]" {
			t.Errorf("%s show the day before: %v\n%s", tc.kind, err, out)
		}
	}
	if out, _, err := runCLI(t, "clear", "concessions", "show", "--db", db, "--json"); err != nil || !strings.Contains(out, `"funder": "bureau"`) || !strings.Contains(out, `"rider_category": "*"`) {
		t.Errorf("concessions show --json: %v\n%s", err, out)
	}
	for _, tc := range []struct{ kind, body, want string }{
		{"concessions", clearing.ConcessionHeader + "\nprovince," + day + ",category,1,*,1\nprovince," + day + ",fare,1,*,1\n", "bad.csv:3: field kind"},
		{"commissions", clearing.FeeHeader + "\nbank," + day + ",all,1,,,100,0,0,0\n", "lists products"},
		{"caps", clearing.CapHeader + "\nbank," + day + ",-5\n", "bad.csv:2: field cap_fen"},
		{"concessions", clearing.ConcessionHeader + "\nbureau," + day + ",category,1,*,5\n", "set otherwise"},
	} {
		if _, _, err := runCLI(t, "clear", tc.kind, "set", write("bad.csv", tc.body), "--db", db, "--by", "ann"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s set of a bad file: %v, want %q", tc.kind, err, tc.want)
		}
		if out, _, _ := runCLI(t, "clear", tc.kind, "show", "--db", db); strings.Contains(out, "province") || strings.Contains(out, "bank") || strings.Contains(out, ",5\n") {
			t.Errorf("a refused %s file stored a version:\n%s", tc.kind, out)
		}
	}

	// Two loads through the agent, booked as card management books them.
	ctx := context.Background()
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	own, err := ownIssuer(ctx, st.registry)
	if err != nil {
		t.Fatal(err)
	}
	at := clearing.DefaultCalendar().Start(clearTestDay).Add(9 * time.Hour)
	for i, fen := range []int64{10_000, 300} {
		e := ledger.NewEntry("cms:load-"+string(rune('a'+i))+"/load", ledger.EntryLoad, "card:test",
			ledger.Transfer(ledger.Account{Type: ledger.Settlement, Party: "agent-7"}, ledger.Account{Type: ledger.CardFloat, Party: own.String()}, fen)...)
		if _, err := st.ledger.Append(ctx, at, []ledger.Entry{e}); err != nil {
			t.Fatal(err)
		}
	}
	st.close()

	if _, _, err := runCLI(t, "clear", "run", "--date", day, "--db", db, "--by", "carl", "--fares", "../../fare/testdata/ningbo"); err != nil {
		t.Fatal(err)
	}
	jc := showJSON(t, db, clearTestDay)
	net := map[string]int64{}
	for _, p := range jc.Positions {
		net[p.Party] = p.NetFen
	}
	// The bureau: 10 records of 50 fen off. The agent: 103.00 loaded,
	// 1% of it, at least 0.05 a load: 1.00 + 0.05.
	if net["bureau"] != -500 || len(jc.Concessions) != 1 || jc.Concessions[0] != (jsonConcession{"bureau", operator, 1, "transfer", 10, 500, 500, 0}) {
		t.Errorf("the bureau nets %d, claims %+v; want -500, 10 transfer discounts of 50 fen to %s", net["bureau"], jc.Concessions, operator)
	}
	if net["agent-7"] != -10_300+105 || len(jc.Commissions) != 1 || jc.Commissions[0].CommissionFen != 105 {
		t.Errorf("the agent nets %d, commissions %+v; want -10195", net["agent-7"], jc.Commissions)
	}
	if jc.FareVersion == "" || len(jc.Breaches) != 1 || jc.Breaches[0].Party != "agent-7" {
		t.Errorf("fare version %q, breaches %+v: want the table named, the agent past its cap", jc.FareVersion, jc.Breaches)
	}
	out, _, _ := runCLI(t, "clear", "show", "--date", day, "--db", db)
	if !strings.Contains(out, "BREACH: agent-7") || !strings.Contains(out, "concession: bureau owes "+operator+" 5.00 CNY") {
		t.Errorf("show:\n%s", out)
	}
	if _, _, err := runCLI(t, "clear", "approve", "--date", day, "--db", db, "--by", "ann"); !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), "agent-7 nets -101.95 CNY, past its net debit cap of 10.00 CNY") {
		t.Errorf("review past the cap: %v", err)
	}
}

// TestSimConcessionsPriced: the simulated city's cycles price the
// category discounts of its concession riders' records (students,
// seniors, the disabled) with the city's fare table, as terminals priced
// them: every one re-prices as it states (none unpriced), and the
// cycles, cleared again by the simulator's checks, give the same results.
func TestSimConcessionsPriced(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "citycard.db")
	if _, _, err := runCLI(t, "sim", "--seed", "5", "--cards", "120", "--days", "1", "--db", db); err != nil {
		t.Fatal(err)
	}
	jc := showJSON(t, db, clearing.DayOf(2026, 6, 1))
	if jc.FareVersion == "" || jc.Totals["unpriced"].Count != 0 || jc.Totals["cleared"].Count == 0 {
		t.Errorf("fare version %q, totals %+v: want the city's table, no record unpriced", jc.FareVersion, jc.Totals)
	}
}

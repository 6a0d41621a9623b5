package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/recon"
)

// closedDB is clearDB's day run, approved and closed, with the
// settlement instructions it closed with and the pay-ins it expects
// (their CSVs' rows) and the collector's account.
func closedDB(t *testing.T) (db string, instructions, incoming [][]string, account string) {
	t.Helper()
	db = clearDB(t, 3000) // enough records for several operators paid
	day := clearTestDay.String()
	for _, step := range [][]string{{"run", "carl"}, {"approve", "ann"}, {"approve", "bob"}, {"close", "dora"}} {
		if _, _, err := runCLI(t, "clear", step[0], "--date", day, "--db", db, "--by", step[1]); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if _, _, err := runCLI(t, "settle", "files", "--date", day, "--db", db, "--out", dir); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(dir, "CCLR-20250115-instructions.csv"))
	if len(rows) < 4 {
		t.Fatalf("instructions: %d rows", len(rows))
	}
	in := readCSV(t, filepath.Join(dir, "CCLR-20250115-incoming.csv"))
	ctx := context.Background()
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	own, err := ownIssuer(ctx, st.registry)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.registry.Party(ctx, own.String())
	if err != nil {
		t.Fatal(err)
	}
	return db, rows[1:], in[1:], p.SettlementAccount
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// TestReconCLI imports a bank statement paying a closed cycle's
// instructions through the CLI (the issue: "citycard recon import
// FILE"): one payment 1 fen short, one missing; and the pay-ins the
// cycle expects of the city's two other issuers (in net debit for their
// cards' records on our operators), one paid by a credit quoting its
// reference, the other not; lists what is open, resolves it, and
// refuses a truncated camt.053 and bad flags with nothing changed.
func TestReconCLI(t *testing.T) {
	db, ins, payIns, account := closedDB(t)
	if len(payIns) != 2 || payIns[0][1] != "31500002FFFFFFFF" || payIns[1][1] != "31500003FFFFFFFF" {
		t.Fatalf("pay-ins expected: %q, want the city's two other issuers'", payIns)
	}
	today := time.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	var b strings.Builder
	b.WriteString(strings.Join(recon.CSVHeader, ",") + "\n")
	for i, in := range ins[1:] { // the first is missing
		fen := in[4]
		if i == 0 {
			fen = fmt.Sprint(mustAtoi(t, fen) - 1)
		}
		fmt.Fprintf(&b, "STMT-1,%s,B%d,%s,,DBIT,%s,CNY,%s,\n", account, i+1, today, yuanOf(mustAtoi(t, fen)), in[0])
	}
	// The first issuer pays in, quoting its reference; the second not.
	fmt.Fprintf(&b, "STMT-1,%s,C1,%s,,CRDT,%s,CNY,,ISSUER 2 SETTLEMENT %s\n", account, today, yuanOf(mustAtoi(t, payIns[0][4])), payIns[0][0])
	bank := filepath.Join(t.TempDir(), "bank.csv")
	if err := os.WriteFile(bank, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "recon", "import", bank, "--db", db, "--by", "ann")
	want := fmt.Sprintf("statement STMT-1: %d movements, %d matched, 1 mismatched; 3 findings open", len(ins), len(ins)-1)
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("import: %v\n%s\nwant %s", err, out, want)
	}
	if out, _, err := runCLI(t, "recon", "import", bank, "--db", db, "--format", "csv"); err != nil || !strings.Contains(out, "was imported before: nothing changed; 3 findings open") {
		t.Fatalf("import again: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "recon", "list", "--open", "--format", "json", "--db", db)
	var list struct{ Findings []recon.FindingView }
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Findings) != 3 {
		t.Fatalf("list --open --format json: %v\n%s", err, out)
	}
	missing, unpaid, short := list.Findings[0], list.Findings[1], list.Findings[2]
	if missing.State != "unmatched_instruction" || missing.Direction != "DBIT" || missing.ID != ins[0][0] || missing.InstructedFen != mustAtoi(t, ins[0][4]) || missing.BankFen != 0 {
		t.Errorf("the missing payment: %+v", missing)
	}
	if unpaid.State != "unmatched_instruction" || unpaid.Direction != "CRDT" || unpaid.ID != payIns[1][0] || unpaid.InstructedFen != -mustAtoi(t, payIns[1][4]) ||
		unpaid.Since != today || unpaid.AgeDays != 0 || len(unpaid.Parties) != 1 || unpaid.Parties[0] != payIns[1][1] {
		t.Errorf("the pay-in not made: %+v", unpaid)
	}
	if short.State != "mismatched" || short.ID != "match-1" || short.DifferenceFen != -1 || short.EndToEndIDs[0] != ins[1][0] {
		t.Errorf("the short payment: %+v", short)
	}
	out, _, err = runCLI(t, "recon", "list", "--db", db, "--format", "csv")
	if err != nil || strings.Count(out, "\n") != len(ins)+3 {
		t.Errorf("list --format csv: %v\n%s", err, out)
	}
	if paid := findingOf(out, payIns[0][0]); !strings.HasPrefix(paid, "match-") || !strings.Contains(paid, ",matched,CRDT,false,") {
		t.Errorf("the pay-in made: %q, want matched", paid)
	}
	out, _, err = runCLI(t, "recon", "resolve", payIns[1][0], "--by", "sue", "--point", "nb-hq", "--decision", "written_off", "--note", "issuer 3 in liquidation", "--db", db)
	if err != nil || !strings.Contains(out, payIns[1][0]+" (unmatched_instruction): written_off by sue at nb-hq: issuer 3 in liquidation") {
		t.Fatalf("resolve the pay-in not made: %v\n%s", err, out)
	}

	// Refused: nothing changes.
	x, err := os.ReadFile("../../recon/testdata/exact.xml")
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(t.TempDir(), "cut.xml")
	os.WriteFile(trunc, x[:len(x)/2], 0o644)
	if _, _, err := runCLI(t, "recon", "import", trunc, "--db", db); !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "cut.xml: line 28: Document/BkToCstmrStmt/Stmt[1]/Ntry[1]") {
		t.Errorf("a truncated camt.053: %v", err)
	}
	for _, args := range [][]string{
		{"recon", "resolve", "match-1", "--by", "sue", "--decision", "corrected"},               // no note
		{"recon", "resolve", "match-1", "--by", "sue", "--decision", "forgiven", "--note", "x"}, // no such decision
		{"recon", "list", "--format", "xml"},                                                    // no such format
		{"recon", "import", bank, "--format", "mt940"},                                          // no such format
		{"recon", "frobnicate"},                                                                 // no such subcommand
	} {
		if _, _, err := runCLI(t, append(args, "--db", db)...); err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
	if _, _, err := runCLI(t, "recon", "resolve", "match-2", "--by", "sue", "--decision", "accepted", "--note", "x", "--db", db); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("resolving a matched finding: %v", err)
	}

	out, _, err = runCLI(t, "recon", "resolve", "match-1", "--by", "sue", "--point", "nb-hq", "--decision", "corrected", "--note", "1 fen short: an adjustment", "--db", db)
	if err != nil || !strings.Contains(out, "match-1 (mismatched): corrected by sue at nb-hq: 1 fen short: an adjustment") {
		t.Fatalf("resolve: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "recon", "resolve", "match-1", "--by", "tom", "--decision", "accepted", "--note", "again", "--db", db); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("resolving twice: %v", err)
	}
	out, _, err = runCLI(t, "recon", "list", "--open", "--db", db)
	if err != nil || !strings.Contains(out, "1 findings, 1 open") || !strings.Contains(out, ins[0][0]) || !strings.Contains(out, "  DIR  ") || !strings.Contains(out, "  DBIT  ") {
		t.Errorf("list --open after the resolution: %v\n%s", err, out)
	}
	if out, _, err := runCLI(t, "audit", "verify", "--db", db); err != nil {
		t.Errorf("audit verify: %v\n%s", err, out)
	}
}

// findingOf returns the row of a findings CSV that names id apart from
// its first column ("" for none).
func findingOf(csv, id string) string {
	for _, l := range strings.Split(csv, "\n") {
		if i := strings.IndexByte(l, ','); i >= 0 && strings.Contains(l[i:], id) {
			return l
		}
	}
	return ""
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func yuanOf(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/sqlite"
)

// ledgerDB makes a SQLite database holding a small ledger: a load, two
// purchase batches and a fee.
func ledgerDB(t *testing.T) (path string, db *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "citycard.db")
	db, err := sqlite.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	l := ledger.New(db.Ledger(), func() time.Time { at = at.Add(time.Second); return at })
	float := ledger.Account{Type: ledger.CardFloat, Party: "3150000000000001"}
	bus := ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}
	bank := ledger.Account{Type: ledger.Settlement, Party: "3150000000000001"}
	fees := ledger.Account{Type: ledger.FeeIncome}
	_, err = l.PostBatch(ctx, []ledger.Entry{
		ledger.NewEntry("load-1", ledger.EntryLoad, "host:1", ledger.Transfer(bank, float, 123456789)...),
		ledger.NewEntry("batch-1", ledger.EntryPurchase, "upload:1", ledger.Transfer(float, bus, 2000)...),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Post(ctx, ledger.NewEntry("batch-2", ledger.EntryPurchase, "upload:2", ledger.Transfer(float, bus, 300)...)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Post(ctx, ledger.NewEntry("fee-1", ledger.EntryFee, "cycle:1", ledger.Transfer(bus, fees, 23)...)); err != nil {
		t.Fatal(err)
	}
	return path, db
}

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestLedgerVerify(t *testing.T) {
	path, db := ledgerDB(t)
	out, _, err := runCLI(t, "ledger", "verify", "--db", "sqlite:"+path)
	if err != nil || !strings.Contains(out, "sound: 4 entries, 8 postings, 4 account balances") {
		t.Fatalf("verify a sound ledger: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "ledger", "--json", "verify", "--db", "sqlite:"+path)
	var rep jsonReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || !rep.Sound || rep.Entries != 4 || rep.Head.Seq != 4 || len(rep.Head.Hash) != 64 {
		t.Fatalf("verify --json: %v\n%s", err, out)
	}

	// Someone with write access to the file changes an amount, after
	// dropping the trigger that would refuse it.
	ctx := context.Background()
	if err := db.Exec(ctx, "DROP TRIGGER postings_no_update"); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "UPDATE postings SET amount_fen = amount_fen * 10 WHERE entry_seq = 3"); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "ledger", "verify", "--db", "sqlite:"+path)
	if !citycard.IsKind(err, citycard.Crypto) || !strings.Contains(err.Error(), "entry 3:") {
		t.Errorf("verify a tampered ledger: error %v, want kind Crypto naming entry 3", err)
	}
	if !strings.Contains(out, "BROKEN at entry 3: content altered") || !strings.Contains(out, "sound up to entry 2") {
		t.Errorf("verify a tampered ledger printed:\n%s", out)
	}
	out, _, err = runCLI(t, "ledger", "verify", "--json", "--db", "sqlite:"+path)
	rep = jsonReport{}
	if err == nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Sound || rep.Broken == nil || rep.Broken.Seq != 3 || rep.Head.Seq != 2 {
		t.Errorf("verify --json a tampered ledger: %v\n%s", err, out)
	}
}

func TestLedgerBalances(t *testing.T) {
	path, _ := ledgerDB(t)
	out, _, err := runCLI(t, "ledger", "balances", "--db", "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ACCOUNT", "card_float:3150000000000001", "1,234,544.89  Cr",
		"operator_payable:nb-bus", "22.77  Cr", "settlement:3150000000000001", "1,234,567.89  Dr",
		"fee_income", "0.23  Cr", "total",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("balances: no %q in\n%s", want, out)
		}
	}
	out, _, err = runCLI(t, "ledger", "balances", "--json", "--db", "sqlite:"+path)
	var bs []jsonBalance
	if err != nil || json.Unmarshal([]byte(out), &bs) != nil || len(bs) != 4 {
		t.Fatalf("balances --json: %v\n%s", err, out)
	}
	want := jsonBalance{Account: "operator_payable:nb-bus", Type: "operator_payable", Party: "nb-bus",
		DebitsFen: 23, CreditsFen: 2300, NetFen: -2277, Postings: 3, LastSeq: 4}
	if bs[2] != want {
		t.Errorf("balances --json [2] = %+v, want %+v", bs[2], want)
	}
}

func TestLedgerUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing.db")
	_, _, err := runCLI(t, "ledger", "verify", "--db", "sqlite:"+missing)
	if !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("verify a missing database: %v, want kind NotFound", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("verify created %s", missing)
	}
	for _, args := range [][]string{{"ledger"}, {"ledger", "rewrite"}, {"ledger", "verify", "balances"}, {"ledger", "--nope"}} {
		if _, _, err := runCLI(t, args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want the usage", args, err)
		}
	}
	if _, _, err := runCLI(t, "ledger", "verify", "--db", "mysql://x"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("verify --db mysql://x: %v, want kind Invalid", err)
	}
}

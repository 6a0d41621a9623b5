package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim"
)

// world is a back office on disk: a key store file under a KEK file, a
// SQLite database whose registry holds our issuer and the simulated
// city's operators, and the city's day of records.
type world struct {
	dir, db, store, kekFile string
	ks                      *keys.FileStore
	city                    *sim.City
	ups                     []sim.Upload
}

func newWorld(t *testing.T, terminals, records int) *world {
	t.Helper()
	b := newBackOfficeFiles(t, "")
	w := &world{dir: b.dir, db: b.db, store: b.store, kekFile: filepath.Join(b.dir, "kek.hex"), ks: b.ks}
	if err := os.WriteFile(w.kekFile, []byte(hex.EncodeToString(b.kek)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var nks []keys.NewKey
	add := func(issuer citycard.IssuerCode, typ keys.KeyType) {
		k := make([]byte, keys.KeyLen)
		crand.Read(k)
		nks = append(nks, keys.NewKey{Issuer: issuer, Type: typ, Alg: keys.Alg3DES, Key: k, Origin: "test", Audit: keys.Audit{By: "test"}})
	}
	for _, typ := range keys.CardKeyTypes {
		add(sim.Issuer, typ)
	}
	add(sim.OperatorCode(0), keys.KeyRecord)
	add(sim.OperatorCode(1), keys.KeyRecord)
	if _, err := w.ks.Add(nks...); err != nil {
		t.Fatal(err)
	}
	var err error
	if w.city, err = sim.NewCity(sim.Config{Seed: 4, Alg: keys.Alg3DES, Terminals: terminals, Cards: 50, Keys: w.ks}); err != nil {
		t.Fatal(err)
	}
	w.ups = w.city.Day(records, nil)
	ctx := context.Background()
	st, err := openStores(ctx, w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	reg := registry.New(st.registry, time.Now)
	for i, op := range w.city.Operators {
		if _, err := reg.AddParty(ctx, registry.Party{ID: op, Type: registry.PartyOperator, Code: w.city.OperatorCodes[i], Sector: registry.Sector(1), Name: op, SettlementAccount: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// register adds the city's terminals to the registry.
func (w *world) register(t *testing.T, tms ...*sim.Terminal) {
	t.Helper()
	ctx := context.Background()
	st, err := openStores(ctx, w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	reg := registry.New(st.registry, time.Now)
	for _, tm := range tms {
		if _, err := reg.AddTerminal(ctx, registry.Terminal{ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, Type: registry.TerminalType(1)}); err != nil {
			t.Fatal(err)
		}
	}
}

// upload submits every upload of the day as it is, in one batch a
// terminal, to an acquirer wired as serve wires it.
func (w *world) upload(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	st, err := openStores(ctx, w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	bo, err := openAcquisition(ctx, st, w.ks, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer bo.acq.Close()
	for i := range w.ups {
		u := &w.ups[i]
		b := acquire.Batch{Terminal: u.Terminal.ID, ID: fmt.Sprintf("day-%d", i), Count: len(u.Records)}
		for _, r := range u.Records {
			b.Body = append(b.Body, r...)
			fen, _ := record.AmountOf(r)
			b.AmountFen += int64(fen)
		}
		if _, err := bo.acq.Submit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *world) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return out.String(), errb.String(), err
}

func (w *world) listRejections(t *testing.T, args ...string) []rejectionRow {
	t.Helper()
	out, errs, err := w.run(t, append([]string{"rejections", "list", "--db", w.db, "--format", "json", "--limit", "1000"}, args...)...)
	if err != nil {
		t.Fatalf("rejections list: %v\n%s", err, errs)
	}
	var rows []rejectionRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("rejections list --format json: %v\n%s", err, out)
	}
	return rows
}

// TestRejectionsResubmit: a terminal uploads before it is registered and
// every record of it is rejected; once registered, `citycard rejections
// resubmit` books them, once, with who asked; the list says so, and a
// second resubmission books nothing more.
func TestRejectionsResubmit(t *testing.T) {
	w := newWorld(t, 3, 600)
	w.register(t, w.ups[1].Terminal, w.ups[2].Terminal) // the first terminal is registered late
	w.upload(t)
	late := w.ups[0]

	rows := w.listRejections(t)
	if len(rows) != len(late.Records) {
		t.Fatalf("%d rejections listed, want the %d records of the unregistered terminal", len(rows), len(late.Records))
	}
	for _, r := range rows {
		if r.Reason != acquire.RejectUnknownTerminal || r.Terminal != late.Terminal.ID.String() || r.Resubmitted {
			t.Fatalf("rejection %+v", r)
		}
	}
	// CSV and the table say the same.
	csvOut, _, err := w.run(t, "rejections", "list", "--db", w.db, "--format", "csv", "--limit", "1000")
	if err != nil || strings.Count(csvOut, "\n") != len(rows)+1 || !strings.HasPrefix(csvOut, "pos,terminal,batch_id") {
		t.Fatalf("csv: %v\n%s", err, csvOut)
	}
	table, _, err := w.run(t, "rejections", "list", "--db", w.db, "--limit", "1000")
	if err != nil || !strings.Contains(table, fmt.Sprintf("%d rejections", len(rows))) || !strings.Contains(table, "unknown_terminal") {
		t.Fatalf("table: %v\n%s", err, table)
	}

	resubmit := []string{"rejections", "resubmit", "--db", w.db, "--store", w.store, "--kek-file", w.kekFile, "--reason", "unknown_terminal", "--limit", "1000"}
	// Who asks is required: the journal keeps it.
	if _, errs, err := w.run(t, resubmit...); err == nil || !strings.Contains(err.Error()+errs, "--by is required") {
		t.Fatalf("no --by: %v %s", err, errs)
	}
	w.register(t, late.Terminal)
	out, errs, err := w.run(t, append(resubmit, "--by", "ann")...)
	if err != nil {
		t.Fatalf("resubmit: %v\n%s", err, errs)
	}
	want := fmt.Sprintf("%d resubmitted: ", len(rows))
	if !strings.Contains(out, want) || strings.Contains(out, "rejected again") && !strings.Contains(out, "0 rejected again") {
		t.Fatalf("resubmit said:\n%s", out)
	}
	after := w.listRejections(t)
	for _, r := range after {
		if !r.Resubmitted || r.By != "ann" || (r.Verdict != "accepted" && r.Verdict != "flagged") {
			t.Fatalf("after resubmitting: %+v", r)
		}
	}
	if open := w.listRejections(t, "--open"); len(open) != 0 {
		t.Fatalf("%d rejections still open", len(open))
	}
	// Again: answered from the first; nothing booked twice.
	out2, errs, err := w.run(t, append(resubmit, "--by", "bob")...)
	if err != nil || !strings.Contains(out2, "resubmitted before by ann") {
		t.Fatalf("resubmit again: %v\n%s%s", err, out2, errs)
	}
	ctx := context.Background()
	st, err := openStores(ctx, w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	var genuineFen int64
	for _, u := range w.ups {
		genuineFen += u.GenuineFen
	}
	bal, err := st.ledger.Balance(ctx, ledger.Account{Type: ledger.CardFloat, Party: sim.Issuer.String()})
	if err != nil || bal.NetFen() != genuineFen {
		t.Fatalf("float moved %d, the cards spent %d (%v)", bal.NetFen(), genuineFen, err)
	}
}

// TestRejectionsUsage: bad flags are usage errors that say what is wrong.
func TestRejectionsUsage(t *testing.T) {
	w := newWorld(t, 1, 10)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"rejections"}, "want list or resubmit"},
		{[]string{"rejections", "list", "--limit", "0"}, "page of 0 rejections"},
		{[]string{"rejections", "list", "--limit", "1001"}, "want 1 to 1000"},
		{[]string{"rejections", "list", "--format", "xml", "--db", w.db}, "--format"},
		{[]string{"rejections", "list", "--terminal", "XYZ"}, "--terminal"},
		{[]string{"rejections", "resubmit", "--by", "ann"}, "say which"},
		{[]string{"rejections", "resubmit", "--by", "ann", "--pos", "0"}, "--pos"},
		{[]string{"rejections", "resubmit", "--by", "ann", "--pos", strings.Repeat("1,", maxResubmitPositions) + "1"}, "at most 1000 at once"},
		{[]string{"rejections", "resubmit", "--by", "ann", "--db", w.db, "--store", w.store, "--kek-file", w.kekFile,
			"--pos", strings.Repeat("1,", maxResubmitPositions-1) + "1"}, "no rejection 1"}, // at the bound: taken, and looked up
		{[]string{"rejections", "list", "--db", "sqlite:" + filepath.Join(w.dir, "nope.db")}, "no database"},
	} {
		_, errs, err := w.run(t, c.args...)
		if err == nil || !strings.Contains(err.Error()+errs, c.says) {
			t.Errorf("%v: %v %q, want it to say %q", c.args, err, errs, c.says)
		}
	}
}

// TestServeRefusesStaffEnv: CITYCARD_STAFF is gone; serve refuses to
// start while it is set, rather than ignore the tokens someone meant to
// use, and says what replaced it.
func TestServeRefusesStaffEnv(t *testing.T) {
	b := newBackOfficeFiles(t, "")
	_, _, err := tryCLI(append(b.env(), "CITYCARD_STAFF=ann:auditor:s3cret-token-0123456789"), "serve", "--db", b.db, "--store", b.store, "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "staff add") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("serve with CITYCARD_STAFF: %v", err)
	}
}

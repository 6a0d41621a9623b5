package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/recon"
)

// ReconStores is what one reconciliation test gets: the store, card
// management's (whose audit log resolutions chain into) and Exec, over
// one fresh database.
type ReconStores struct {
	Recon recon.Store
	CMS   cms.Store
	Exec  func(ctx context.Context, stmts ...string) error
}

// RunRecon runs reconciliation's part of the suite.
func RunRecon(t *testing.T, open func(t *testing.T) ReconStores) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, s ReconStores)
	}{
		{"Exact", testReconExact},
		{"Mismatched", testReconMismatched},
		{"Refused", testReconRefused},
		{"AppendOnly", testReconAppendOnly},
		{"Limits", testReconLimits},
		{"PayIns", testReconPayIns},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// reconDay is the cycle the tests reconcile: 2026-12-01, closed on
// 2026-12-02 at 09:30 in Shanghai.
var reconDay = clearing.DayOf(2026, 12, 1)

// reconSettlement is reconDay's settlement: six payments.
func reconSettlement() *exchange.Settlement {
	zone := time.FixedZone("CST", 8*3600)
	s := &exchange.Settlement{Day: reconDay, MessageID: exchange.MessageID(reconDay), Closed: time.Date(2026, 12, 2, 9, 30, 0, 0, zone), Collector: "31500001FFFFFFFF"}
	for i, p := range []struct {
		party string
		fen   int64
	}{{"nb-bus", 9909}, {"nb-metro", 18031}, {"nb-bike", 5000}, {"nb-taxi", 1200}, {"nb-park", 800}, {"nb-shop", 20000}} {
		s.Instructions = append(s.Instructions, exchange.Instruction{EndToEndID: exchange.EndToEndID(reconDay, i+1), Party: p.party, Name: p.party, Account: "ACCT " + p.party, AmountFen: p.fen})
		s.SumFen += p.fen
	}
	return s
}

// oneCycle is the closed cycles of the tests: reconDay's alone.
type oneCycle struct{ asked *[2]clearing.Day }

func (o oneCycle) Settlements(_ context.Context, from, to clearing.Day) ([]*exchange.Settlement, error) {
	if o.asked != nil {
		*o.asked = [2]clearing.Day{from, to}
	}
	if due := reconDay + 1; from <= due && due <= to {
		return []*exchange.Settlement{reconSettlement()}, nil
	}
	return nil, nil
}

func newReconciler(t *testing.T, s ReconStores, now time.Time) *recon.Reconciler {
	t.Helper()
	r, err := recon.New(recon.Config{Account: "ACCT collector"}, s.Recon, oneCycle{}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// bankCSV is a statement in the CSV form, one row per line of rows:
// entry, booking day, direction, amount, end-to-end ID, remittance.
func bankCSV(t *testing.T, id string, rows ...string) *recon.BankStatement {
	t.Helper()
	var b strings.Builder
	b.WriteString(strings.Join(recon.CSVHeader, ",") + "\n")
	for _, r := range rows {
		f := strings.Split(r, "|")
		fmt.Fprintf(&b, "%s,ACCT collector,%s,%s,,%s,%s,CNY,%s,%s\n", id, f[0], f[1], f[2], f[3], f[4], f[5])
	}
	st, err := recon.ParseCSV(id+".csv", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func openOf(t *testing.T, r *recon.Reconciler) []string {
	t.Helper()
	fs, err := r.Findings(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %v %d/%d %dd", f.ID, f.State, f.InstructedFen, f.BankFen, f.AgeDays))
	}
	return out
}

var reconNow = time.Date(2026, 12, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func exactStatement(t *testing.T) *recon.BankStatement {
	var rows []string
	for _, in := range reconSettlement().Instructions {
		rows = append(rows, fmt.Sprintf("B-%s|2026-12-02|DBIT|%s|%s|%s", in.Party, exchange.Yuan(in.AmountFen), in.EndToEndID, exchange.Remittance(reconDay, in.Party)))
	}
	return bankCSV(t, "STMT-EXACT", rows...)
}

// testReconExact: a bank file paying every instruction exactly leaves
// nothing open; the same file again changes nothing.
func testReconExact(t *testing.T, s ReconStores) {
	ctx := context.Background()
	r := newReconciler(t, s, reconNow)
	st := exactStatement(t)
	got, err := r.Import(ctx, st, "ann", "nb-hq")
	if err != nil {
		t.Fatal(err)
	}
	if got.Replayed || got.Movements != 6 || len(got.Matches) != 6 {
		t.Fatalf("import: %+v", got)
	}
	for _, m := range got.Matches {
		if m.State != recon.Matched || m.How != recon.ByEndToEnd || m.ID == 0 {
			t.Errorf("match %+v", m)
		}
	}
	if open := openOf(t, r); open != nil {
		t.Fatalf("open after an exact file: %q", open)
	}
	all, err := r.Findings(ctx, false)
	if err != nil || len(all) != 6 {
		t.Fatalf("findings: %d, %v", len(all), err)
	}
	n, err := cms.VerifyAudit(ctx, s.CMS)
	if err != nil || n != 1 {
		t.Fatalf("audit log: %d records, %v", n, err)
	}
	var rec *cms.AuditRecord
	if err := s.CMS.AuditLog(ctx, 0, func(a *cms.AuditRecord) error { rec = a; return nil }); err != nil {
		t.Fatal(err)
	}
	if rec.Actor != "ann" || rec.ServicePoint != "nb-hq" || rec.Subject != "recon:statement:STMT-EXACT" || rec.Action != "recon.import" ||
		!strings.Contains(rec.After, `"matched":6`) || !strings.Contains(rec.After, `"sha256":"`+st.SHA256+`"`) {
		t.Errorf("the import's audit record: %+v", rec)
	}
	again, err := r.Import(ctx, exactStatement(t), "bob", "nb-hq")
	if err != nil || !again.Replayed || len(again.Matches) != 0 {
		t.Fatalf("the same file again: %+v, %v", again, err)
	}
	if n, err := cms.VerifyAudit(ctx, s.CMS); err != nil || n != 1 {
		t.Fatalf("audit log after the replay: %d records, %v", n, err)
	}
	if all2, _ := r.Findings(ctx, false); len(all2) != 6 {
		t.Fatalf("findings after the replay: %d", len(all2))
	}
}

// testReconMismatched: an amount 1 fen short, a payment missing, an
// extra movement, a batch booking, a payment by reference alone and one
// in two movements leave exactly three findings open, aged; the missing
// payment arriving later is matched; each resolution is audited, once.
func testReconMismatched(t *testing.T, s ReconStores) {
	ctx := context.Background()
	var asked [2]clearing.Day
	r, err := recon.New(recon.Config{Account: "ACCT collector"}, s.Recon, oneCycle{&asked}, func() time.Time { return reconNow })
	if err != nil {
		t.Fatal(err)
	}
	const d = "2026-12-03"
	st := bankCSV(t, "STMT-1203",
		"B1|"+d+"|DBIT|99.08|CCLR-20261201-00001|",
		"B2|"+d+"|DBIT|50.00||citycard clearing 2026-12-01 nb-bike",
		"B3|"+d+"|DBIT|12.00|CCLR-20261201-00004|",
		"B3|"+d+"|DBIT|8.00|CCLR-20261201-00005|",
		"B4|"+d+"|DBIT|120.00||citycard clearing 2026-12-01 nb-shop 1/2",
		"B5|"+d+"|DBIT|80.00||citycard clearing 2026-12-01 nb-shop 2/2",
		"B6|"+d+"|CRDT|3.00||INTEREST",
	)
	if _, err := r.Import(ctx, st, "ann", "nb-hq"); err != nil {
		t.Fatal(err)
	}
	if want := [2]clearing.Day{clearing.DayOf(2026, 12, 3) - recon.DefaultLookbackDays - recon.DefaultToleranceDays, clearing.DayOf(2026, 12, 3)}; asked != want {
		t.Errorf("asked the cycles of %v, want %v", asked, want)
	}
	want := []string{"CCLR-20261201-00002 unmatched_instruction 18031/0 3d", "match-1 mismatched 9909/9908 3d", "bank-6 unmatched_movement 0/-300 2d"}
	if got := openOf(t, r); !slices.Equal(got, want) {
		t.Fatalf("open: %q, want %q", got, want)
	}
	all, err := r.Findings(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	var matched []string
	for _, f := range all {
		if f.State == recon.Matched {
			matched = append(matched, f.ID+" "+f.How+" "+strings.Join(f.EndToEndIDs, "+"))
		}
	}
	if w := []string{"match-2 end_to_end_id CCLR-20261201-00004+CCLR-20261201-00005", "match-3 reference CCLR-20261201-00003", "match-4 reference CCLR-20261201-00006"}; !slices.Equal(matched, w) {
		t.Errorf("matched: %q, want %q", matched, w)
	}

	// The missing payment, booked the next day.
	late := bankCSV(t, "STMT-1204", "B7|2026-12-04|DBIT|180.31|CCLR-20261201-00002|")
	got, err := r.Import(ctx, late, "ann", "nb-hq")
	if err != nil || len(got.Matches) != 1 || got.Matches[0].ID != 5 || got.Matches[0].State != recon.Matched {
		t.Fatalf("late payment: %+v, %v", got, err)
	}
	if got := openOf(t, r); !slices.Equal(got, want[1:]) {
		t.Fatalf("open after the late payment: %q", got)
	}

	// Resolutions: refused ones change nothing.
	for _, bad := range []struct {
		id   string
		d    recon.Decision
		kind citycard.Kind
	}{
		{"match-2", recon.Accepted, citycard.Conflict},  // matched
		{"match-1", recon.NotOurs, citycard.Invalid},    // not_ours is a movement's
		{"match-99", recon.Accepted, citycard.NotFound}, // none
		{"bank-x", recon.Accepted, citycard.NotFound},   // not an ID: no such finding
	} {
		if _, err := r.Resolve(ctx, bad.id, bad.d, "because", "sue", "nb-hq"); citycard.KindOf(err) != bad.kind {
			t.Errorf("resolve %s %v: %v, want %v", bad.id, bad.d, err, bad.kind)
		}
	}
	if _, err := r.Resolve(ctx, "match-1", recon.Accepted, "", "sue", "nb-hq"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a resolution without a note: %v", err)
	}
	if n, err := cms.VerifyAudit(ctx, s.CMS); err != nil || n != 2 {
		t.Fatalf("audit log before resolutions: %d, %v", n, err)
	}
	f, err := r.Resolve(ctx, "match-1", recon.Corrected, "1 fen short: adjustment adj-20261205-1 in the next cycle", "sue", "nb-hq")
	if err != nil || f.Open() || f.Resolution.By != "sue" || f.Resolution.Point != "nb-hq" {
		t.Fatalf("resolve match-1: %+v, %v", f, err)
	}
	if _, err := r.Resolve(ctx, "bank-6", recon.NotOurs, "interest on the account", "sue", "nb-hq"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(ctx, "match-1", recon.Accepted, "again", "tom", "nb-hq"); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("resolving twice: %v", err)
	}
	if got := openOf(t, r); got != nil {
		t.Fatalf("open after the resolutions: %q", got)
	}
	last := lastAudit(t, s, 4)
	if last.Actor != "sue" || last.ServicePoint != "nb-hq" || last.Subject != "recon:bank-6" || last.Action != "recon.resolve" ||
		!strings.Contains(last.Before, `"open":true`) || !strings.Contains(last.After, `"decision":"not_ours"`) || !strings.Contains(last.After, `"note":"interest on the account"`) {
		t.Errorf("audit record %+v", last)
	}
	// A resolved movement is not matched by a later statement.
	if _, err := r.Import(ctx, bankCSV(t, "STMT-1205", "B8|2026-12-05|DBIT|99.09|CCLR-20261201-00001|"), "ann", "nb-hq"); err != nil {
		t.Fatal(err)
	}
	if got := openOf(t, r); !slices.Equal(got, []string{"bank-8 unmatched_movement 0/9909 0d"}) {
		t.Errorf("a payment of a resolved instruction: open %q", got)
	}
}

// payInCycle is reconDay's cycle with its payers' pay-ins expected:
// one payment (nb-bus's) and four pay-ins.
type payInCycle struct{}

func (payInCycle) Settlements(_ context.Context, from, to clearing.Day) ([]*exchange.Settlement, error) {
	s := reconSettlement()
	s.Instructions, s.SumFen = s.Instructions[:1], s.Instructions[0].AmountFen
	for i, p := range []struct {
		party string
		fen   int64
	}{{"alipay", 7311}, {"wechat-pay", 1500}, {"unionpay-qr", 4200}, {"jd-pay", 1200}} {
		s.Incoming = append(s.Incoming, exchange.PayIn{Reference: exchange.PayInReference(reconDay, i+1), Party: p.party, Name: p.party, Account: "ACCT " + p.party, AmountFen: p.fen})
		s.IncomingFen += p.fen
	}
	if due := reconDay + 1; from <= due && due <= to {
		return []*exchange.Settlement{s}, nil
	}
	return nil, nil
}

// testReconPayIns: the payers' pay-ins are kept with the instructions
// and matched by credits: one by reference, one short (mismatched); a
// debit naming a pay-in and a credit naming a payment pay neither; the
// pay-ins not made stay open, aged, one until a later statement brings
// it, one until staff write it off, audited; a pay-in's row is never
// changed.
func testReconPayIns(t *testing.T, s ReconStores) {
	ctx := context.Background()
	r, err := recon.New(recon.Config{Account: "ACCT collector"}, s.Recon, payInCycle{}, func() time.Time { return reconNow })
	if err != nil {
		t.Fatal(err)
	}
	open := func() []string {
		t.Helper()
		fs, err := r.Findings(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%s %v %v %d/%d %dd", f.ID, f.State, f.Direction, f.InstructedFen, f.BankFen, f.AgeDays))
		}
		return out
	}
	const d = "2026-12-03"
	st := bankCSV(t, "STMT-IN-1203",
		"P1|"+d+"|CRDT|73.11||ALIPAY CCLR-20261201-R00001",
		"P2|"+d+"|CRDT|14.00|CCLR-20261201-R00002|",
		"P3|"+d+"|DBIT|42.00||CCLR-20261201-R00003",
		"P4|"+d+"|CRDT|99.09|CCLR-20261201-00001|",
	)
	got, err := r.Import(ctx, st, "ann", "nb-hq")
	if err != nil || len(got.Matches) != 2 {
		t.Fatalf("import: %+v, %v", got, err)
	}
	want := []string{
		"CCLR-20261201-00001 unmatched_instruction DBIT 9909/0 3d",
		"CCLR-20261201-R00003 unmatched_instruction CRDT -4200/0 3d",
		"CCLR-20261201-R00004 unmatched_instruction CRDT -1200/0 3d",
		"match-1 mismatched CRDT -1500/-1400 3d",
		"bank-3 unmatched_movement DBIT 0/4200 2d",
		"bank-4 unmatched_movement CRDT 0/-9909 2d",
	}
	if got := open(); !slices.Equal(got, want) {
		t.Fatalf("open: %q, want %q", got, want)
	}
	if f, err := r.Finding(ctx, "match-2"); err != nil || f.State != recon.Matched || f.Direction != recon.Credit || f.How != recon.ByReference ||
		!slices.Equal(f.Parties, []string{"alipay"}) || f.BankFen != -7311 {
		t.Errorf("alipay's pay-in: %+v, %v", f, err)
	}

	// jd-pay pays in two days late.
	late := bankCSV(t, "STMT-IN-1205", "P5|2026-12-05|CRDT|12.00||JD PAY CCLR-20261201-R00004")
	if got, err := r.Import(ctx, late, "ann", "nb-hq"); err != nil || len(got.Matches) != 1 || got.Matches[0].State != recon.Matched || got.Matches[0].InstructedFen != -1200 {
		t.Fatalf("the late pay-in: %+v, %v", got, err)
	}
	want = slices.Delete(want, 2, 3)
	if got := open(); !slices.Equal(got, want) {
		t.Fatalf("open after the late pay-in: %q, want %q", got, want)
	}

	// Staff resolve the short pay-in and the one never made.
	if _, err := r.Resolve(ctx, "CCLR-20261201-R00003", recon.NotOurs, "not a movement", "sue", "nb-hq"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("not_ours of a pay-in expected: %v", err)
	}
	if _, err := r.Resolve(ctx, "match-1", recon.Accepted, "wechat-pay's bank took a 1 CNY charge", "sue", "nb-hq"); err != nil {
		t.Fatal(err)
	}
	f, err := r.Resolve(ctx, "CCLR-20261201-R00003", recon.WrittenOff, "unionpay-qr in liquidation", "sue", "nb-hq")
	if err != nil || f.Open() || f.Direction != recon.Credit {
		t.Fatalf("write off the pay-in: %+v, %v", f, err)
	}
	if got := open(); !slices.Equal(got, []string{want[0], want[3], want[4]}) {
		t.Errorf("open after the resolutions: %q", got)
	}
	last := lastAudit(t, s, 4)
	if last.Subject != "recon:CCLR-20261201-R00003" || last.Action != "recon.resolve" || !strings.Contains(last.Before, `"direction":"CRDT"`) ||
		!strings.Contains(last.Before, `"instructed_fen":-4200`) || !strings.Contains(last.After, `"decision":"written_off"`) {
		t.Errorf("the write-off's audit record: %+v", last)
	}

	// A pay-in's row is set once, like an instruction's: its direction
	// among what never changes, matched or not.
	for _, stmt := range []string{
		`UPDATE recon_instructions SET direction = 'DBIT' WHERE end_to_end_id = 'CCLR-20261201-R00003'`,
		`UPDATE recon_instructions SET direction = 'DBIT' WHERE end_to_end_id = 'CCLR-20261201-R00004'`,
		`UPDATE recon_instructions SET direction = 'CRDT' WHERE end_to_end_id = 'CCLR-20261201-00001'`,
		`UPDATE recon_instructions SET direction = 'OUT' WHERE end_to_end_id = 'CCLR-20261201-00001'`,
	} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
	if got := snapshotSize(t, s); got != [4]int{5, 5, 3, 2} {
		t.Errorf("kept: %v", got)
	}
}

// lastAudit checks that the audit log verifies and holds n records,
// and returns the last.
func lastAudit(t *testing.T, s ReconStores, n int64) *cms.AuditRecord {
	t.Helper()
	ctx := context.Background()
	if got, err := cms.VerifyAudit(ctx, s.CMS); err != nil || got != n {
		t.Fatalf("audit log: %d records, %v; want %d", got, err, n)
	}
	var last *cms.AuditRecord
	if err := s.CMS.AuditLog(ctx, n-1, func(a *cms.AuditRecord) error { last = a; return nil }); err != nil {
		t.Fatal(err)
	}
	return last
}

// snapshotSize counts what the store keeps.
func snapshotSize(t *testing.T, s ReconStores) [4]int {
	t.Helper()
	snap, err := s.Recon.Snapshot(context.Background(), recon.SnapshotMax)
	if err != nil {
		t.Fatal(err)
	}
	return [4]int{len(snap.Instructions), len(snap.Movements), len(snap.Matches), len(snap.Resolutions)}
}

// testReconRefused: a statement of another account, another file of a
// statement imported, and a match decide cannot make import nothing.
func testReconRefused(t *testing.T, s ReconStores) {
	ctx := context.Background()
	r := newReconciler(t, s, reconNow)
	if _, err := r.Import(ctx, exactStatement(t), "ann", "nb-hq"); err != nil {
		t.Fatal(err)
	}
	before := snapshotSize(t, s)
	other := bankCSV(t, "STMT-EXACT", "X|2026-12-02|DBIT|1.00||")
	if _, err := r.Import(ctx, other, "ann", "nb-hq"); !citycard.IsKind(err, citycard.Exists) {
		t.Errorf("another file of statement STMT-EXACT: %v", err)
	}
	foreign := bankCSV(t, "STMT-OTHER", "X|2026-12-02|DBIT|1.00||")
	foreign.Account = "ACCT someone else"
	if _, err := r.Import(ctx, foreign, "ann", "nb-hq"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a statement of another account: %v", err)
	}
	// A match of a movement taken already rolls the whole import back.
	st := bankCSV(t, "STMT-ROLLBACK", "Y|2026-12-02|DBIT|1.00||")
	_, err := s.Recon.Import(ctx, &recon.Import{Statement: st, By: "ann", At: reconNow}, func(o *recon.Open) ([]recon.Match, *cms.AuditRecord, error) {
		return []recon.Match{{State: recon.Matched, How: recon.ByReference, Statement: st.ID, Movements: []int64{1}}}, &cms.AuditRecord{At: reconNow, Actor: "ann", Subject: "recon:statement:x", Action: "recon.import"}, nil
	})
	if !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a match of a movement matched already: %v", err)
	}
	if after := snapshotSize(t, s); after != before {
		t.Errorf("refused imports changed the store: %v, was %v", after, before)
	}
	if n, err := cms.VerifyAudit(ctx, s.CMS); err != nil || n != 1 {
		t.Errorf("audit log: %d, %v", n, err)
	}
}

// testReconAppendOnly: the store refuses to change or remove what it
// keeps, even to someone editing the database.
func testReconAppendOnly(t *testing.T, s ReconStores) {
	ctx := context.Background()
	r := newReconciler(t, s, reconNow)
	if _, err := r.Import(ctx, exactStatement(t), "ann", "nb-hq"); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE recon_matches SET bank_fen = bank_fen + 1`,
		`DELETE FROM recon_matches`,
		`UPDATE recon_instructions SET amount_fen = 1`,
		`UPDATE recon_instructions SET match_id = NULL`,
		`DELETE FROM recon_instructions`,
		`UPDATE recon_movements SET amount_fen = 1`,
		`UPDATE recon_movements SET match_id = NULL`,
		`DELETE FROM recon_movements`,
		`UPDATE recon_statements SET account = 'x'`,
		`DELETE FROM recon_statements`,
	} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
	if got := snapshotSize(t, s); got != [4]int{6, 6, 6, 0} {
		t.Errorf("after the refused edits: %v", got)
	}
}

// testReconLimits: an import reads at most its OpenMax open instructions
// (and movements), a listing at most its max of each: at the bound they
// are read, one past it is Conflict and the import changes nothing.
func testReconLimits(t *testing.T, s ReconStores) {
	ctx := context.Background()
	ins := recon.InstructionsOf(reconSettlement()) // six
	audit := &cms.AuditRecord{At: reconNow, Actor: "ann", ServicePoint: "nb-hq", Subject: "recon:statement:x", Action: "recon.import"}
	var open *recon.Open
	decide := func(o *recon.Open) ([]recon.Match, *cms.AuditRecord, error) { open = o; return nil, audit, nil }
	one := bankCSV(t, "STMT-A", "A|2026-12-02|CRDT|1.00||")
	if _, err := s.Recon.Import(ctx, &recon.Import{Statement: one, By: "ann", At: reconNow, Instructions: ins, OpenMax: 5}, decide); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("six open instructions, at most five: %v", err)
	}
	if got := snapshotSize(t, s); got != [4]int{} {
		t.Fatalf("the refused import kept %v", got)
	}
	if _, err := s.Recon.Import(ctx, &recon.Import{Statement: one, By: "ann", At: reconNow, Instructions: ins, OpenMax: 6}, decide); err != nil {
		t.Fatalf("six open instructions, at most six: %v", err)
	}
	if len(open.Instructions) != 6 || len(open.Movements) != 1 || open.Movements[0].ID != 1 {
		t.Fatalf("open: %d instructions, %d movements", len(open.Instructions), len(open.Movements))
	}
	two := bankCSV(t, "STMT-B", "B|2026-12-02|CRDT|1.00||")
	if _, err := s.Recon.Import(ctx, &recon.Import{Statement: two, By: "ann", At: reconNow, OpenMax: 6}, decide); err != nil || len(open.Movements) != 2 {
		t.Fatalf("two open movements: %v", err)
	}
	if snap, err := s.Recon.Snapshot(ctx, 6); err != nil || len(snap.Instructions) != 6 || len(snap.Movements) != 2 {
		t.Fatalf("a snapshot of at most 6: %v", err)
	}
	if _, err := s.Recon.Snapshot(ctx, 5); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("six instructions, a snapshot of at most 5: %v", err)
	}
}

// bigCycle is a cycle of n payments, closed on 2026-12-02.
type bigCycle struct{ n int }

func (c bigCycle) Settlements(_ context.Context, from, to clearing.Day) ([]*exchange.Settlement, error) {
	s := reconSettlement()
	s.Instructions, s.SumFen = nil, 0
	for i := 0; i < c.n; i++ {
		s.Instructions = append(s.Instructions, exchange.Instruction{EndToEndID: exchange.EndToEndID(reconDay, i+1), Party: fmt.Sprintf("op-%05d", i), Name: "x", Account: "a", AmountFen: int64(1000 + i)})
	}
	return []*exchange.Settlement{s}, nil
}

// BenchReconImport imports a statement of 10,000 payments of as many
// instructions, matched by reference alone, and lists the findings, on
// the store open returns (fresh for each run). Each store's
// BenchmarkReconImport calls it.
func BenchReconImport(b *testing.B, open func(b *testing.B) recon.Store) {
	const n = 10000
	var sb strings.Builder
	sb.WriteString(strings.Join(recon.CSVHeader, ",") + "\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "S,ACCT,E%d,2026-12-02,,DBIT,%s,CNY,,%s\n", i, exchange.Yuan(int64(1000+i)), exchange.Remittance(reconDay, fmt.Sprintf("op-%05d", i)))
	}
	data := []byte(sb.String())
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		r, err := recon.New(recon.Config{}, open(b), bigCycle{n}, func() time.Time { return reconNow })
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := recon.ParseCSV("s.csv", data)
		if err != nil {
			b.Fatal(err)
		}
		if got, err := r.Import(ctx, st, "ann", "nb-hq"); err != nil || len(got.Matches) != n {
			b.Fatalf("import: %v", err)
		}
		if fs, err := r.Findings(ctx, false); err != nil || len(fs) != n {
			b.Fatalf("findings: %v", err)
		}
	}
}

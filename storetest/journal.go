package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
)

// JournalStores is what one acquisition-journal test gets: a journal and
// the ledger it books into, over one fresh database.
type JournalStores struct {
	Journal   acquire.Journal
	Ledger    ledger.Store
	Blacklist blacklist.Store
	// Exec as in Stores.
	Exec func(ctx context.Context, stmts ...string) error
}

// RunJournal runs the acquisition journal's suite.
func RunJournal(t *testing.T, open func(t *testing.T) JournalStores) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s JournalStores)
	}{
		{"IngestExactlyOnce", testIngestExactlyOnce},
		{"CommitAtomic", testCommitAtomic},
		{"JournalAppendOnly", testJournalAppendOnly},
		{"Checkpoint", testCheckpoint},
		{"Blacklist", testBlacklist},
		{"Resubmit", testResubmit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// ingestCity makes a small city and its day.
func ingestCity(t *testing.T) (*sim.City, []sim.Upload, acquire.TerminalMap) {
	t.Helper()
	city, err := sim.NewCity(sim.Config{Seed: 5, Alg: keys.AlgSM4, Terminals: 5, Cards: 60})
	if err != nil {
		t.Fatal(err)
	}
	ups := city.Day(900, nil)
	ts := acquire.TerminalMap{}
	for _, tm := range city.Terminals {
		ts[tm.ID] = acquire.TerminalInfo{ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, OperatorCode: tm.OperatorCode, Active: true}
	}
	return city, ups, ts
}

func openAcquirer(t *testing.T, s JournalStores, city *sim.City, ts acquire.TerminalMap) *acquire.Acquirer {
	t.Helper()
	a, err := acquire.Open(context.Background(), acquire.Config{Journal: s.Journal, Terminals: ts, Verifier: record.NewVerifier(city.Store, sim.Issuer), Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func batch(u *sim.Upload, id string, recs [][]byte) acquire.Batch {
	b := acquire.Batch{Terminal: u.Terminal.ID, ID: id, Count: len(recs)}
	for _, r := range recs {
		b.Body = append(b.Body, r...)
		fen, _ := record.AmountOf(r)
		b.AmountFen += int64(fen)
	}
	return b
}

func testIngestExactlyOnce(t *testing.T, s JournalStores) {
	ctx := context.Background()
	city, ups, ts := ingestCity(t)
	sim.Spoil(ups, 0.1, 0.05, 4)
	a := openAcquirer(t, s, city, ts)
	var genuineFen int64
	genuine := 0
	for i := range ups {
		u := &ups[i]
		genuineFen += u.GenuineFen
		genuine += u.Genuine
		// Later records first, then the earlier ones, then all again.
		half := len(u.Records) / 2
		for k, part := range [][][]byte{u.Records[half:], u.Records[:half], u.Records} {
			if _, err := a.Submit(ctx, batch(u, fmt.Sprintf("b%d", k), part)); err != nil {
				t.Fatal(err)
			}
		}
		// A repeated batch: the stored answer.
		ans, err := a.Submit(ctx, batch(u, "b0", u.Records[half:]))
		if err != nil || !ans.Repeat {
			t.Fatalf("repeat: %v %v", ans.Repeat, err)
		}
	}
	st := a.Stats()
	if int(st.Accepted+st.Flagged) != genuine {
		t.Fatalf("%d booked, %d genuine", st.Accepted+st.Flagged, genuine)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	bal, err := s.Ledger.Balance(ctx, ledger.Account{Type: ledger.CardFloat, Party: sim.Issuer.String()})
	if err != nil || bal.NetFen() != genuineFen {
		t.Fatalf("float moved %d, genuine %d (%v)", bal.NetFen(), genuineFen, err)
	}
	rep, err := ledger.Verify(ctx, s.Ledger)
	if err != nil || rep.Broken != nil {
		t.Fatalf("ledger: %v %v", err, rep.Broken)
	}
	rej, err := s.Journal.QueryRejections(ctx, acquire.RejectionFilter{Limit: 1000})
	if err != nil || int64(len(rej)) != st.Rejected || len(rej) == 0 {
		t.Fatalf("%d rejections queried, %d rejected (%v)", len(rej), st.Rejected, err)
	}
	for _, r := range rej {
		if r.Reason != acquire.RejectRecordMAC || len(r.Raw) != record.Size {
			t.Fatalf("rejection %+v", r)
		}
	}
	page, err := s.Journal.QueryRejections(ctx, acquire.RejectionFilter{Terminal: rej[0].Terminal, After: rej[0].Pos, Limit: 2})
	if err != nil || len(page) > 2 || (len(page) > 0 && (page[0].Pos <= rej[0].Pos || page[0].Terminal != rej[0].Terminal)) {
		t.Fatalf("page: %v %v", page, err)
	}
	// The drill-down from a batch to its journaled records, in order.
	u0 := &ups[0]
	half0 := len(u0.Records) / 2
	var got [][]byte
	err = s.Journal.BatchRecords(ctx, u0.Terminal.ID, "b0", func(e *acquire.Journaled) error {
		got = append(got, append([]byte(nil), e.Raw[:]...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every journaled entry is an uploaded record, in upload order (the
	// forged ones are missing: rejected), and every genuine one is there.
	k, genuineSeen := 0, 0
	for i, raw := range u0.Records[half0:] {
		if k < len(got) && string(got[k]) == string(raw) {
			k++
			if half0+i < u0.Genuine {
				genuineSeen++
			}
		}
	}
	if k != len(got) || genuineSeen != max(0, u0.Genuine-half0) {
		t.Fatalf("batch b0: %d of %d entries match the upload in order, %d genuine of %d", k, len(got), genuineSeen, u0.Genuine-half0)
	}
	n := 0
	if err := s.Journal.BatchRecords(ctx, u0.Terminal.ID, "no such batch", func(*acquire.Journaled) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("unknown batch: %d entries (%v)", n, err)
	}
	// The state rebuilt from the journal alone decides as before: every
	// record again is a duplicate.
	a2 := openAcquirer(t, s, city, ts)
	defer a2.Close()
	ans, err := a2.Submit(ctx, batch(&ups[0], "again", ups[0].Records[:ups[0].Genuine]))
	if err != nil || ans.Duplicates != ups[0].Genuine {
		t.Fatalf("after restart: %d duplicates of %d (%v)", ans.Duplicates, ups[0].Genuine, err)
	}
	if last, err := s.Journal.LastPos(ctx); err != nil || last != st.Records-st.Rejected+int64(ups[0].Genuine) {
		t.Fatalf("last position %d, want %d (%v)", last, st.Records-st.Rejected+int64(ups[0].Genuine), err)
	}
}

func testCommitAtomic(t *testing.T, s JournalStores) {
	ctx := context.Background()
	city, ups, ts := ingestCity(t)
	u := &ups[0]
	// Someone booked the key this batch's ledger entry will take, with
	// other content: the commit must fail whole.
	src := fmt.Sprintf("acquire:%v/%s/%s/%d", u.Terminal.ID, "x", ledger.EntryPurchase, 0)
	l := ledger.New(s.Ledger, time.Now)
	if _, err := l.Post(ctx, ledger.NewEntry(src, ledger.EntryAdjustment, "test",
		ledger.Transfer(ledger.Account{Type: ledger.CardFloat, Party: "X"}, ledger.Account{Type: ledger.OperatorPayable, Party: "Y"}, 1)...)); err != nil {
		t.Fatal(err)
	}
	a := openAcquirer(t, s, city, ts)
	defer a.Close()
	if _, err := a.Submit(ctx, batch(u, "x", u.Records)); !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("commit over a taken ledger key: %v, want IO", err)
	}
	if last, _ := s.Journal.LastPos(ctx); last != 0 {
		t.Fatalf("a failed commit left the journal at %d", last)
	}
	if _, ok, _ := s.Journal.Batch(ctx, u.Terminal.ID, "x"); ok {
		t.Fatal("a failed commit left its batch")
	}
	// Under another ID it books, once.
	ans, err := a.Submit(ctx, batch(u, "y", u.Records))
	if err != nil || ans.Accepted+ans.Flagged != u.Genuine {
		t.Fatalf("retry: %+v %v", ans, err)
	}
}

func testJournalAppendOnly(t *testing.T, s JournalStores) {
	ctx := context.Background()
	city, ups, ts := ingestCity(t)
	a := openAcquirer(t, s, city, ts)
	if _, err := a.Submit(ctx, batch(&ups[0], "z", ups[0].Records)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	for _, stmt := range []string{
		"UPDATE acquire_journal SET n = n",
		"DELETE FROM acquire_journal",
		"DELETE FROM acquire_batches",
		"UPDATE acquire_batches SET answer = answer",
	} {
		if err := s.Exec(ctx, stmt); err == nil {
			t.Fatalf("%s: allowed", stmt)
		}
	}
}

func testCheckpoint(t *testing.T, s JournalStores) {
	ctx := context.Background()
	if cps, err := s.Journal.LoadCheckpoints(ctx); len(cps) != 0 || err != nil {
		t.Fatalf("empty: %v %v", cps, err)
	}
	for _, cp := range []acquire.Checkpoint{{Part: 1, Pos: 5, Data: []byte("one")}, {Part: 0, Pos: 7, Data: []byte("zero")}, {Part: 1, Pos: 9, Data: []byte("two")}} {
		if err := s.Journal.SaveCheckpoint(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	cps, err := s.Journal.LoadCheckpoints(ctx)
	if err != nil || len(cps) != 2 || cps[0].Part != 0 || cps[0].Pos != 7 || string(cps[0].Data) != "zero" ||
		cps[1].Part != 1 || cps[1].Pos != 9 || string(cps[1].Data) != "two" {
		t.Fatalf("checkpoints %+v (%v): want part 0 at 7 and part 1 replaced at 9", cps, err)
	}
}

func testBlacklist(t *testing.T, s JournalStores) {
	ctx := context.Background()
	l := blacklist.New(s.Blacklist, time.Now)
	short := blacklist.Card{Issuer: sim.Issuer, ASN: citycard.ASN{2: 0x31, 9: 1}}
	long := blacklist.Card{Issuer: sim.Issuer, ASN: citycard.ASN{0: 0x31, 9: 2}}
	for _, step := range []struct {
		c     blacklist.Card
		added bool
	}{{short, true}, {long, true}, {short, false}, {long, true}} {
		if _, err := l.Set(ctx, step.c, step.added, "reported lost", "ann"); err != nil {
			t.Fatal(err)
		}
	}
	l2, err := blacklist.Load(ctx, s.Blacklist, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Version() != 3 || l2.Contains(short.Issuer, short.ASN) || !l2.Contains(long.Issuer, long.ASN) {
		t.Fatalf("reloaded list at version %d", l2.Version())
	}
	d, err := l2.Since(1)
	if err != nil || len(d.Changes) != 2 || d.Changes[0].Reason != "reported lost" || d.Changes[0].By != "ann" || d.Changes[0].Card != long {
		t.Fatalf("delta since 1: %+v %v", d, err)
	}
	if err := s.Exec(ctx, "DELETE FROM blacklist_changes"); err == nil {
		t.Fatal("the blacklist log let a change be deleted")
	}
}

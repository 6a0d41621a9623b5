package storetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
)

var (
	floatOwn   = ledger.Account{Type: ledger.CardFloat, Party: "3150000000000001"}
	floatOther = ledger.Account{Type: ledger.CardFloat, Party: "2900000000000002"}
	payBus     = ledger.Account{Type: ledger.OperatorPayable, Party: "nb-bus"}
	payMetro   = ledger.Account{Type: ledger.OperatorPayable, Party: "nb-metro"}
	fees       = ledger.Account{Type: ledger.FeeIncome}
	settleBank = ledger.Account{Type: ledger.Settlement, Party: "3150000000000001"}
)

// purchase is the entry of an upload batch's purchases of one issuer's
// cards on one operator's terminals for one product.
func purchase(key string, issuer, operator ledger.Account, fen int64, records int64) ledger.Entry {
	e := ledger.NewEntry(key, ledger.EntryPurchase, "batch:"+key, ledger.Transfer(issuer, operator, fen)...)
	e.Product = 1
	e.Count = records
	return e
}

func testPostAndRead(t *testing.T, s Stores) {
	ctx := context.Background()
	now := clock()
	l := ledger.New(s.Ledger, now)

	if h, err := s.Ledger.Head(ctx); err != nil || h != (ledger.Link{}) {
		t.Fatalf("Head of an empty ledger = %+v, %v", h, err)
	}
	load := ledger.NewEntry("load-1", ledger.EntryLoad, "host:load-1", ledger.Transfer(settleBank, floatOwn, 100000)...)
	load.Memo = "counter top-ups, 圈存"
	entries := []ledger.Entry{
		load,
		purchase("b1-own-bus", floatOwn, payBus, 12345, 61),
		purchase("b1-other-bus", floatOther, payBus, 400, 2),
		{Key: "b1-fee", Type: ledger.EntryFee, Source: "batch:b1", Postings: []ledger.Posting{
			ledger.Debit(payBus, 127), ledger.Credit(fees, 120), ledger.Credit(payMetro, 7)}},
	}
	res, err := l.PostBatch(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	var link ledger.Link
	for i, r := range res {
		if r.Replayed || r.Seq != int64(i+1) {
			t.Fatalf("result %d = %+v, want seq %d, not replayed", i, r, i+1)
		}
		p, err := s.Ledger.Entry(ctx, r.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Entry, entries[i]) {
			t.Errorf("Entry(%d) = %+v, want %+v", r.Seq, p.Entry, entries[i])
		}
		if p.InputHash != entries[i].InputHash() {
			t.Errorf("entry %d: stored input hash is not the entry's", r.Seq)
		}
		// One timestamp per batch; the chain follows Link.Next.
		if i > 0 {
			prev, _ := s.Ledger.Entry(ctx, r.Seq-1)
			if !p.Time.Equal(prev.Time) {
				t.Errorf("entry %d booked at %v, entry %d at %v: want one time per batch", r.Seq, p.Time, r.Seq-1, prev.Time)
			}
		}
		link = link.Next(p.Time, p.InputHash)
		if link.Hash != r.Hash || p.Hash != r.Hash {
			t.Errorf("entry %d: hash %x, result %x, want %x", r.Seq, p.Hash, r.Hash, link.Hash)
		}
		byKey, err := s.Ledger.EntryByKey(ctx, entries[i].Key)
		if err != nil || !reflect.DeepEqual(byKey, p) {
			t.Errorf("EntryByKey(%q) = %+v, %v; want %+v", entries[i].Key, byKey, err, p)
		}
	}
	if p, _ := s.Ledger.Entry(ctx, 1); p.Time.Nanosecond()%1000 == 0 {
		t.Errorf("booking time %v lost its nanoseconds", p.Time)
	}
	if h, err := s.Ledger.Head(ctx); err != nil || h != link {
		t.Errorf("Head = %+v, %v; want %+v", h, err, link)
	}

	want := map[ledger.Account]ledger.Balance{
		settleBank: {Account: settleBank, DebitsFen: 100000, Postings: 1, LastSeq: 1},
		floatOwn:   {Account: floatOwn, DebitsFen: 12345, CreditsFen: 100000, Postings: 2, LastSeq: 2},
		floatOther: {Account: floatOther, DebitsFen: 400, Postings: 1, LastSeq: 3},
		payBus:     {Account: payBus, DebitsFen: 127, CreditsFen: 12745, Postings: 3, LastSeq: 4},
		fees:       {Account: fees, CreditsFen: 120, Postings: 1, LastSeq: 4},
		payMetro:   {Account: payMetro, CreditsFen: 7, Postings: 1, LastSeq: 4},
	}
	bs, err := s.Ledger.Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != len(want) {
		t.Errorf("Balances: %d accounts, want %d: %+v", len(bs), len(want), bs)
	}
	var sum int64
	for i, b := range bs {
		if b != want[b.Account] {
			t.Errorf("balance %+v, want %+v", b, want[b.Account])
		}
		if i > 0 && bs[i-1].Account.String() >= b.Account.String() {
			t.Errorf("Balances not ordered by name: %v before %v", bs[i-1].Account, b.Account)
		}
		sum += b.NetFen()
	}
	if sum != 0 {
		t.Errorf("the balances sum to %d fen, want 0", sum)
	}
	if b, err := s.Ledger.Balance(ctx, payBus); err != nil || b != want[payBus] {
		t.Errorf("Balance(%v) = %+v, %v", payBus, b, err)
	}
	never := ledger.Account{Type: ledger.Suspense, Party: "3150000000000001"}
	if b, err := s.Ledger.Balance(ctx, never); err != nil || b != (ledger.Balance{Account: never}) {
		t.Errorf("Balance(never posted) = %+v, %v", b, err)
	}

	// Drill-down by source.
	got, err := s.Ledger.EntriesBySource(ctx, "batch:b1", 10)
	if err != nil || len(got) != 1 || got[0].Seq != 4 || len(got[0].Postings) != 3 {
		t.Errorf("EntriesBySource(batch:b1) = %+v, %v", got, err)
	}
	_, err = s.Ledger.Entry(ctx, 99)
	wantKind(t, "Entry(99)", err, citycard.NotFound)
	_, err = s.Ledger.EntryByKey(ctx, "nope")
	wantKind(t, "EntryByKey(nope)", err, citycard.NotFound)

	if rep, err := ledger.Verify(ctx, s.Ledger); err != nil || rep.Entries != 4 || rep.Postings != 9 || rep.Accounts != 6 || rep.Head != link {
		t.Errorf("Verify = %+v, %v", rep, err)
	}

	// Invalid entries are refused before anything is written.
	for _, bad := range []ledger.Entry{
		{Key: "", Type: ledger.EntryAdjustment, Postings: ledger.Transfer(floatOwn, payBus, 1)},
		{Key: "k", Type: "Bad Kind", Postings: ledger.Transfer(floatOwn, payBus, 1)},
		{Key: "k", Type: ledger.EntryAdjustment, Postings: ledger.Transfer(ledger.Account{Type: ledger.CardFloat}, payBus, 1)},
		{Key: "k", Type: ledger.EntryAdjustment, Postings: ledger.Transfer(floatOwn, payBus, ledger.AmountFenMax+1)},
		{Key: "k", Type: ledger.EntryAdjustment, Postings: []ledger.Posting{ledger.Debit(floatOwn, 0)}},
		{Key: "k", Type: ledger.EntryAdjustment, ReversalOf: 1, Postings: ledger.Transfer(floatOwn, payBus, 1)},
		{Key: strings.Repeat("k", ledger.KeyLenMax+1), Type: ledger.EntryAdjustment, Postings: ledger.Transfer(floatOwn, payBus, 1)},
	} {
		_, err := l.Post(ctx, bad)
		wantKind(t, fmt.Sprintf("Post(%+v)", bad), err, citycard.Invalid)
		_, err = s.Ledger.Append(ctx, now(), []ledger.Entry{bad})
		wantKind(t, fmt.Sprintf("Append(%+v)", bad), err, citycard.Invalid)
	}
	if h, _ := s.Ledger.Head(ctx); h != link {
		t.Errorf("invalid entries moved the head to %+v", h)
	}
}

func testIdempotency(t *testing.T, s Stores) {
	ctx := context.Background()
	l := ledger.New(s.Ledger, clock())
	e := purchase("b7", floatOwn, payBus, 500, 3)
	first, err := l.Post(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.Post(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Seq != first.Seq || again.Hash != first.Hash {
		t.Errorf("replay = %+v, want %+v replayed", again, first)
	}
	changed := e
	changed.Postings = ledger.Transfer(floatOwn, payBus, 501)
	_, err = l.Post(ctx, changed)
	wantKind(t, "same key, other amount", err, citycard.Conflict)
	changed = e
	changed.Memo = "other"
	_, err = l.Post(ctx, changed)
	wantKind(t, "same key, other memo", err, citycard.Conflict)

	// Within one batch: a repeat answers the first, new entries go on.
	res, err := l.PostBatch(ctx, []ledger.Entry{purchase("b8", floatOwn, payBus, 10, 1), e, purchase("b8", floatOwn, payBus, 10, 1), purchase("b9", floatOwn, payBus, 20, 1)})
	if err != nil {
		t.Fatal(err)
	}
	wantRes := []struct {
		seq      int64
		replayed bool
	}{{2, false}, {1, true}, {2, true}, {3, false}}
	for i, w := range wantRes {
		if res[i].Seq != w.seq || res[i].Replayed != w.replayed {
			t.Errorf("result %d = %+v, want seq %d replayed %v", i, res[i], w.seq, w.replayed)
		}
	}
	if res[2].Hash != res[0].Hash {
		t.Errorf("in-batch replay hash %x, want %x", res[2].Hash, res[0].Hash)
	}
	_, err = l.PostBatch(ctx, []ledger.Entry{purchase("b10", floatOwn, payBus, 10, 1), purchase("b10", floatOwn, payBus, 11, 1)})
	wantKind(t, "same key twice in a batch, other amounts", err, citycard.Conflict)
	if b, _ := s.Ledger.Balance(ctx, payBus); b.CreditsFen != 530 || b.Postings != 3 {
		t.Errorf("payable after replays: %+v, want credits 530 in 3 postings", b)
	}
	if _, err := ledger.Verify(ctx, s.Ledger); err != nil {
		t.Error(err)
	}
}

func testBatchAtomic(t *testing.T, s Stores) {
	ctx := context.Background()
	l := ledger.New(s.Ledger, clock())
	if _, err := l.Post(ctx, purchase("a1", floatOwn, payBus, 100, 1)); err != nil {
		t.Fatal(err)
	}
	head, _ := s.Ledger.Head(ctx)
	before, _ := s.Ledger.Balances(ctx)
	// The conflict is last: nothing of the batch may stay.
	_, err := l.PostBatch(ctx, []ledger.Entry{
		purchase("a2", floatOwn, payBus, 200, 1),
		purchase("a3", floatOther, payMetro, 300, 1),
		purchase("a1", floatOwn, payBus, 999, 1),
	})
	wantKind(t, "batch with a conflict", err, citycard.Conflict)
	if h, _ := s.Ledger.Head(ctx); h != head {
		t.Errorf("head moved to %+v after a failed batch", h)
	}
	after, _ := s.Ledger.Balances(ctx)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("balances changed by a failed batch: %+v, want %+v", after, before)
	}
	if _, err := s.Ledger.EntryByKey(ctx, "a2"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("entry a2 of a failed batch: %v, want NotFound", err)
	}
	// A reversal of nothing fails the batch too.
	rev := purchase("a5", floatOwn, payBus, 1, 1)
	rev.Type, rev.ReversalOf = ledger.EntryReversal, 42
	_, err = l.PostBatch(ctx, []ledger.Entry{purchase("a4", floatOwn, payBus, 1, 1), rev})
	wantKind(t, "reversal of no entry", err, citycard.NotFound)
	if h, _ := s.Ledger.Head(ctx); h != head {
		t.Errorf("head moved to %+v after a failed batch", h)
	}
	// Too big a batch.
	big := make([]ledger.Entry, ledger.BatchMax+1)
	for i := range big {
		big[i] = purchase(fmt.Sprint("big", i), floatOwn, payBus, 1, 1)
	}
	_, err = l.PostBatch(ctx, big)
	wantKind(t, "PostBatch over BatchMax", err, citycard.Invalid)
}

func testReverse(t *testing.T, s Stores) {
	ctx := context.Background()
	l := ledger.New(s.Ledger, clock())
	orig, err := l.Post(ctx, purchase("p1", floatOwn, payBus, 700, 4))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := l.Reverse(ctx, orig.Seq, "p1-reversal", "terminal uploaded a test batch")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Ledger.Entry(ctx, rev.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != ledger.EntryReversal || p.ReversalOf != orig.Seq || p.Source != "batch:p1" || p.Count != 4 ||
		!reflect.DeepEqual(p.Postings, []ledger.Posting{ledger.Credit(floatOwn, 700), ledger.Debit(payBus, 700)}) {
		t.Errorf("reversal = %+v", p)
	}
	for _, a := range []ledger.Account{floatOwn, payBus} {
		if b, _ := s.Ledger.Balance(ctx, a); b.NetFen() != 0 || b.DebitsFen != 700 || b.CreditsFen != 700 {
			t.Errorf("after reversal %v = %+v, want 700 each way, net 0", a, b)
		}
	}
	// The same reversal again is a replay; another reversal a conflict.
	again, err := l.Reverse(ctx, orig.Seq, "p1-reversal", "terminal uploaded a test batch")
	if err != nil || !again.Replayed || again.Seq != rev.Seq {
		t.Errorf("Reverse again = %+v, %v; want a replay of %d", again, err, rev.Seq)
	}
	_, err = l.Reverse(ctx, orig.Seq, "p1-reversal-2", "")
	wantKind(t, "second reversal", err, citycard.Conflict)
	_, err = l.Reverse(ctx, rev.Seq, "rev-of-rev", "")
	wantKind(t, "reversal of a reversal", err, citycard.Conflict)
	_, err = l.Reverse(ctx, 99, "rev-99", "")
	wantKind(t, "reversal of nothing", err, citycard.NotFound)
	if _, err := ledger.Verify(ctx, s.Ledger); err != nil {
		t.Error(err)
	}
}

func testUnbalanced(t *testing.T, s Stores) {
	ctx := context.Background()
	l := ledger.New(s.Ledger, clock())
	wantPanic := func(what string, fn func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", what)
			}
		}()
		fn()
	}
	wantPanic("NewEntry", func() {
		ledger.NewEntry("u1", ledger.EntryAdjustment, "", ledger.Debit(floatOwn, 100), ledger.Credit(payBus, 99))
	})
	unbalanced := ledger.Entry{Key: "u2", Type: ledger.EntryAdjustment, Postings: []ledger.Posting{ledger.Debit(floatOwn, 100), ledger.Credit(payBus, 99)}}
	wantPanic("PostBatch", func() { l.PostBatch(ctx, []ledger.Entry{unbalanced}) })
	overflow := ledger.Entry{Key: "u3", Type: ledger.EntryAdjustment, Postings: []ledger.Posting{
		ledger.Debit(floatOwn, 1<<62), ledger.Debit(floatOwn, 1<<62), ledger.Credit(payBus, 1<<62), ledger.Credit(payBus, 1<<62)}}
	wantPanic("PostBatch overflow", func() { l.PostBatch(ctx, []ledger.Entry{overflow}) })

	// The store refuses one too, without panicking.
	_, err := s.Ledger.Append(ctx, time.Now(), []ledger.Entry{unbalanced})
	wantKind(t, "Append(unbalanced)", err, citycard.Invalid)

	// And so does the schema, for whoever writes rows by hand.
	if _, err := l.Post(ctx, purchase("ok", floatOwn, payBus, 5, 1)); err != nil {
		t.Fatal(err)
	}
	zero := strings.Repeat("0", 64)
	entryRow := func(seq int, key string) string {
		return fmt.Sprintf(`INSERT INTO entries (seq, key, kind, source, product, count, memo, reversal_of, at_ns, input_hash, hash)
			VALUES (%d, '%s', 'adjustment', '', 0, 0, '', NULL, 0, '%s', '%s')`, seq, key, zero, zero)
	}
	err = s.Exec(ctx,
		`INSERT INTO postings (entry_seq, idx, account, amount_fen) VALUES (2, 0, 'card_float:3150000000000001', 100)`,
		`INSERT INTO postings (entry_seq, idx, account, amount_fen) VALUES (2, 1, 'operator_payable:nb-bus', -99)`,
		entryRow(2, "raw-unbalanced"))
	if err == nil || !strings.Contains(err.Error(), "unbalanced") {
		t.Errorf("raw unbalanced entry: %v, want the trigger's refusal", err)
	}
	err = s.Exec(ctx,
		`INSERT INTO postings (entry_seq, idx, account, amount_fen) VALUES (2, 0, 'card_float:3150000000000001', 100)`,
		entryRow(2, "raw-one-posting"))
	if err == nil || !strings.Contains(err.Error(), "unbalanced") {
		t.Errorf("raw entry of one posting: %v, want the trigger's refusal", err)
	}
	// Postings cannot be added to a booked entry.
	err = s.Exec(ctx, `INSERT INTO postings (entry_seq, idx, account, amount_fen) VALUES (1, 5, 'card_float:3150000000000001', 100)`)
	if err == nil {
		t.Error("a posting added to a booked entry was accepted")
	}
	// Postings without an entry do not commit.
	err = s.Exec(ctx, `INSERT INTO postings (entry_seq, idx, account, amount_fen) VALUES (7, 0, 'card_float:3150000000000001', 100)`)
	if err == nil {
		t.Error("a posting of no entry was accepted")
	}
	if rep, err := ledger.Verify(ctx, s.Ledger); err != nil || rep.Entries != 1 {
		t.Errorf("Verify after refused raw writes = %+v, %v", rep, err)
	}
}

func testAppendOnly(t *testing.T, s Stores) {
	ctx := context.Background()
	l := ledger.New(s.Ledger, clock())
	if _, err := l.Post(ctx, purchase("x", floatOwn, payBus, 5, 1)); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE entries SET memo = 'edited' WHERE seq = 1`,
		`DELETE FROM entries WHERE seq = 1`,
		`UPDATE postings SET amount_fen = 6 WHERE entry_seq = 1 AND idx = 0`,
		`DELETE FROM postings WHERE entry_seq = 1`,
	} {
		if err := s.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only refusal", stmt, err)
		}
	}
}

func testVerifyTamper(t *testing.T, s Stores) {
	ctx := context.Background()
	l := ledger.New(s.Ledger, clock())
	for i := range 6 {
		if _, err := l.Post(ctx, purchase(fmt.Sprint("t", i), floatOwn, payBus, int64(100+i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ledger.Verify(ctx, s.Ledger); err != nil {
		t.Fatal(err)
	}
	if err := s.Unguard(ctx); err != nil {
		t.Fatal(err)
	}
	// Each tampering is undone by the next step's statements where it
	// can be, so that each finds its own first broken entry.
	steps := []struct {
		do, undo []string
		seq      int64
		account  string
		reason   string
	}{
		{
			do:   []string{`UPDATE postings SET amount_fen = amount_fen + 1 WHERE entry_seq = 3 AND idx = 0`, `UPDATE postings SET amount_fen = amount_fen - 1 WHERE entry_seq = 3 AND idx = 1`},
			undo: []string{`UPDATE postings SET amount_fen = amount_fen - 1 WHERE entry_seq = 3 AND idx = 0`, `UPDATE postings SET amount_fen = amount_fen + 1 WHERE entry_seq = 3 AND idx = 1`},
			seq:  3, reason: "content altered",
		},
		{
			do:   []string{`UPDATE entries SET memo = 'nothing to see' WHERE seq = 2`},
			undo: []string{`UPDATE entries SET memo = '' WHERE seq = 2`},
			seq:  2, reason: "content altered",
		},
		{
			do:   []string{`UPDATE postings SET amount_fen = 1 WHERE entry_seq = 5 AND idx = 0`},
			undo: []string{`UPDATE postings SET amount_fen = 104 WHERE entry_seq = 5 AND idx = 0`},
			seq:  5, reason: "unbalanced",
		},
		{
			do:   []string{`UPDATE entries SET at_ns = at_ns + 1 WHERE seq = 4`},
			undo: []string{`UPDATE entries SET at_ns = at_ns - 1 WHERE seq = 4`},
			seq:  4, reason: "does not follow",
		},
		{
			do:      []string{`UPDATE accounts SET credits_fen = credits_fen - 100 WHERE name = 'operator_payable:nb-bus'`},
			undo:    []string{`UPDATE accounts SET credits_fen = credits_fen + 100 WHERE name = 'operator_payable:nb-bus'`},
			account: "operator_payable:nb-bus", reason: "balance",
		},
		{
			// Deleting an entry in the middle (and its postings, and
			// fixing the balances) still breaks the chain.
			do: []string{`DELETE FROM postings WHERE entry_seq = 4`, `DELETE FROM entries WHERE seq = 4`,
				`UPDATE accounts SET debits_fen = debits_fen - 103, postings = postings - 1 WHERE name = 'card_float:3150000000000001'`,
				`UPDATE accounts SET credits_fen = credits_fen - 103, postings = postings - 1 WHERE name = 'operator_payable:nb-bus'`},
			seq: 4, reason: "missing",
		},
	}
	for i, st := range steps {
		if err := s.Exec(ctx, st.do...); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		rep, err := ledger.Verify(ctx, s.Ledger)
		wantKind(t, fmt.Sprintf("step %d: Verify", i), err, citycard.Crypto)
		if rep.Broken == nil || rep.Broken.Seq != st.seq || rep.Broken.Account != st.account || !strings.Contains(rep.Broken.Reason, st.reason) {
			t.Errorf("step %d: Broken = %+v, want entry %d account %q reason %q", i, rep.Broken, st.seq, st.account, st.reason)
		}
		if err != nil && st.seq > 0 && !strings.Contains(err.Error(), fmt.Sprintf("entry %d:", st.seq)) {
			t.Errorf("step %d: error %q does not name entry %d", i, err, st.seq)
		}
		if st.seq > 0 && rep.Head.Seq != st.seq-1 {
			t.Errorf("step %d: report head %d, want the last sound entry %d", i, rep.Head.Seq, st.seq-1)
		}
		if len(st.undo) > 0 {
			if err := s.Exec(ctx, st.undo...); err != nil {
				t.Fatalf("step %d undo: %v", i, err)
			}
			if _, err := ledger.Verify(ctx, s.Ledger); err != nil {
				t.Fatalf("step %d undone: %v", i, err)
			}
		}
	}
}

func testScan(t *testing.T, s Stores) {
	ctx := context.Background()
	l := ledger.New(s.Ledger, clock())
	const n = 1300 // more than one page of every store
	batch := make([]ledger.Entry, 0, 650)
	for i := range n {
		batch = append(batch, purchase(fmt.Sprint("s", i), floatOwn, payMetro, int64(i+1), 1))
		if len(batch) == cap(batch) {
			if _, err := l.PostBatch(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	var seqs []int64
	err := s.Ledger.Scan(ctx, 1000, func(p *ledger.Posted) error {
		if len(p.Postings) != 2 || p.Postings[0].AmountFen != p.Seq {
			return fmt.Errorf("entry %d: postings %+v", p.Seq, p.Postings)
		}
		seqs = append(seqs, p.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != n-1000 || seqs[0] != 1001 || seqs[len(seqs)-1] != n {
		t.Errorf("Scan(after 1000): %d entries, %v..%v", len(seqs), seqs[0], seqs[len(seqs)-1])
	}
	stop := fmt.Errorf("stop")
	count := 0
	err = s.Ledger.Scan(ctx, 0, func(p *ledger.Posted) error {
		count++
		if count == 3 {
			return stop
		}
		return nil
	})
	if count != 3 || err == nil {
		t.Errorf("Scan stopped after %d entries with %v, want 3 and the callback's error", count, err)
	}
	if rep, err := ledger.Verify(ctx, s.Ledger); err != nil || rep.Entries != n {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
	if b, _ := s.Ledger.Balance(ctx, payMetro); b.CreditsFen != n*(n+1)/2 || b.LastSeq != n {
		t.Errorf("payable = %+v, want credits %d", b, n*(n+1)/2)
	}
}

func testConcurrent(t *testing.T, s Stores) {
	ctx := context.Background()
	l := ledger.New(s.Ledger, clock())
	const workers, batches, perBatch = 6, 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				es := make([]ledger.Entry, perBatch)
				for i := range es {
					es[i] = purchase(fmt.Sprintf("w%d-b%d-%d", w, b, i), floatOwn, payBus, 10, 1)
				}
				// Every worker also replays one shared key.
				es = append(es, purchase("shared", floatOther, payMetro, 1, 1))
				if _, err := l.PostBatch(ctx, es); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep, err := ledger.Verify(ctx, s.Ledger)
	if want := int64(workers*batches*perBatch + 1); err != nil || rep.Entries != want {
		t.Errorf("Verify = %+v, %v; want %d entries", rep, err, want)
	}
	if b, _ := s.Ledger.Balance(ctx, payMetro); b.CreditsFen != 1 {
		t.Errorf("the shared key was booked %d times", b.CreditsFen)
	}
}

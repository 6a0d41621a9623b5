package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/citycard/citycard/ledger"
)

// TestRowBufChunks: rowsMax rows go in one statement, one more in a
// second; a statement's owner is its rows' if they have one, else
// mixedOwner, chunk by chunk; queue empties the buffer.
func TestRowBufChunks(t *testing.T) {
	ins := newRowInsert("t", "a, b", "text", "bigint")
	if want := "INSERT INTO t (a, b) SELECT a, b FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS r (a, b, ord) ORDER BY ord"; ins.sql != want {
		t.Errorf("sql %q, want %q", ins.sql, want)
	}
	if want := "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"; ins.values[1] != want {
		t.Errorf("two rows by %q, want %q", ins.values[1], want)
	}
	type stmt struct {
		owner, rows int
		first, last any
	}
	run := func(owners []int) []stmt {
		buf := newRowBuf(&ins)
		for i, o := range owners {
			buf.add(o, fmt.Sprint(i), int64(i))
		}
		var out []stmt
		q := func(owner int, sql string, args ...any) {
			a, _ := args[0].([]any)
			b, _ := args[1].([]any)
			if n := len(args) / 2; len(args)%2 == 0 && n <= valuesMax && sql == ins.values[n-1] { // rows by VALUES
				a, b = nil, nil
				for i := 0; i < len(args); i += 2 {
					a, b = append(a, args[i]), append(b, args[i+1])
				}
			} else if sql != ins.sql || len(args) != 2 || len(a) != len(b) || len(a) <= valuesMax {
				t.Fatalf("queued %q with %d arguments", sql, len(args))
			}
			out = append(out, stmt{owner, len(a), b[0], b[len(b)-1]})
		}
		buf.queue(q)
		buf.queue(q) // empty: nothing more
		return out
	}
	same := func(n, owner int) []int {
		o := make([]int, n)
		for i := range o {
			o[i] = owner
		}
		return o
	}
	check := func(name string, got, want []stmt) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	check("no rows", run(nil), nil)
	check("one row", run([]int{5}), []stmt{{5, 1, int64(0), int64(0)}})
	check("valuesMax rows", run(same(valuesMax, 5)), []stmt{{5, valuesMax, int64(0), int64(valuesMax - 1)}})
	check("valuesMax+1 rows", run(same(valuesMax+1, 5)), []stmt{{5, valuesMax + 1, int64(0), int64(valuesMax)}})
	check("rowsMax rows", run(same(rowsMax, 3)), []stmt{{3, rowsMax, int64(0), int64(rowsMax - 1)}})
	check("rowsMax+1 rows", run(same(rowsMax+1, 3)), []stmt{{3, rowsMax, int64(0), int64(rowsMax - 1)}, {3, 1, int64(rowsMax), int64(rowsMax)}})
	mixed := append(same(rowsMax, 1), 2)
	mixed[0] = 0
	check("owners by chunk", run(mixed), []stmt{{mixedOwner, rowsMax, int64(0), int64(rowsMax - 1)}, {2, 1, int64(rowsMax), int64(rowsMax)}})
}

// TestLedgerAppendChunks appends, in one call each, rowsMax entries and
// then rowsMax+1, each to an account of its own: the entries, their
// postings and the balances go in statements of rowsMax rows and one
// more, and the ledger verifies whole after, every balance its postings.
func TestLedgerAppendChunks(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	l := db.Ledger()
	at := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	float := ledger.Account{Type: ledger.CardFloat, Party: "chunks"}
	seq := int64(0)
	for _, n := range []int{rowsMax, rowsMax + 1} {
		entries := make([]ledger.Entry, n)
		for i := range entries {
			from := ledger.Account{Type: ledger.Settlement, Party: fmt.Sprintf("p%d-%d", n, i)}
			entries[i] = ledger.NewEntry(fmt.Sprintf("chunk-%d-%d", n, i), ledger.EntryLoad, "chunks", ledger.Transfer(from, float, int64(i+1))...)
		}
		res, err := l.Append(ctx, at, entries)
		if err != nil || len(res) != n {
			t.Fatalf("Append of %d entries: %d results, %v", n, len(res), err)
		}
		for i, r := range res {
			if seq++; r.Seq != seq || r.Replayed {
				t.Fatalf("Append of %d entries: entry %d is %+v, want seq %d", n, i, r, seq)
			}
		}
		// The last entry in, with its postings.
		p, err := l.EntryByKey(ctx, fmt.Sprintf("chunk-%d-%d", n, n-1))
		if err != nil || p.Seq != seq || len(p.Postings) != 2 || p.Postings[0].AmountFen != int64(n) {
			t.Fatalf("the last of %d entries: %+v %v", n, p, err)
		}
	}
	rep, err := ledger.Verify(ctx, l)
	if err != nil || rep.Entries != seq || rep.Postings != 2*seq {
		t.Fatalf("Verify: %+v %v", rep, err)
	}
	bs, err := l.Balances(ctx)
	if err != nil || len(bs) != 2*rowsMax+2 {
		t.Fatalf("Balances: %d accounts, %v", len(bs), err)
	}
	b, _ := l.Balance(ctx, float)
	if want := int64(rowsMax*(rowsMax+1)/2 + (rowsMax+1)*(rowsMax+2)/2); b.CreditsFen != want || b.Postings != seq {
		t.Errorf("the float: %+v, want credits %d over %d postings", b, want, seq)
	}
	// Replayed whole: nothing written twice.
	entries := make([]ledger.Entry, rowsMax+1)
	for i := range entries {
		from := ledger.Account{Type: ledger.Settlement, Party: fmt.Sprintf("p%d-%d", rowsMax+1, i)}
		entries[i] = ledger.NewEntry(fmt.Sprintf("chunk-%d-%d", rowsMax+1, i), ledger.EntryLoad, "chunks", ledger.Transfer(from, float, int64(i+1))...)
	}
	res, err := l.Append(ctx, at, entries)
	if err != nil || !res[rowsMax].Replayed {
		t.Fatalf("the batch again: %v", err)
	}
	if h, _ := l.Head(ctx); h.Seq != seq {
		t.Errorf("head %d after a replay, want %d", h.Seq, seq)
	}
}

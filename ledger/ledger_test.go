package ledger

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

var update = flag.Bool("update", false, "rewrite testdata/chain.golden")

func TestAccount(t *testing.T) {
	tests := []struct {
		name string
		a    Account
		ok   bool
	}{
		{"card_float:3150000000000001", Account{CardFloat, "3150000000000001"}, true},
		{"operator_payable:nb-bus", Account{OperatorPayable, "nb-bus"}, true},
		{"suspense", Account{Suspense, ""}, true},
		{"suspense:3150000000000001", Account{Suspense, "3150000000000001"}, true},
		{"interconnect_receivable:2900000000000002", Account{InterconnectReceivable, "2900000000000002"}, true},
		{"fee_income", Account{FeeIncome, ""}, true},
		{"settlement:nb.metro_2", Account{Settlement, "nb.metro_2"}, true},
		{"card_float", Account{}, false},
		{"card_float:", Account{}, false},
		{"operator_payable:nb bus", Account{}, false},
		{"operator_payable:" + strings.Repeat("x", PartyLenMax+1), Account{}, false},
		{"cash:x", Account{}, false},
		{"", Account{}, false},
	}
	for _, tt := range tests {
		got, err := ParseAccount(tt.name)
		if tt.ok != (err == nil) || got != tt.a {
			t.Errorf("ParseAccount(%q) = %+v, %v; want %+v ok %v", tt.name, got, err, tt.a, tt.ok)
			continue
		}
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Errorf("ParseAccount(%q): kind %v, want Invalid", tt.name, citycard.KindOf(err))
			}
			continue
		}
		if s := got.String(); s != tt.name {
			t.Errorf("%+v.String() = %q, want %q", got, s, tt.name)
		}
	}
	if err := (Account{Type: 99, Party: "x"}).Validate(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("Validate(kind 99) = %v", err)
	}
	if !Settlement.DebitNormal() || CardFloat.DebitNormal() || !IssuerLoss.DebitNormal() || CardDeposit.DebitNormal() {
		t.Error("DebitNormal: settlement is an asset, issuer loss an expense, card float and deposits liabilities")
	}
	for _, name := range []string{"card_deposit:31500001FFFFFFFF", "issuer_loss:31500001FFFFFFFF"} {
		if a, err := ParseAccount(name); err != nil || a.String() != name {
			t.Errorf("ParseAccount(%q) = %v, %v", name, a, err)
		}
	}
	for _, name := range []string{"card_deposit", "issuer_loss"} {
		if _, err := ParseAccount(name); err == nil {
			t.Errorf("%s without a party parsed", name)
		}
	}
}

var (
	float = Account{Type: CardFloat, Party: "3150000000000001"}
	bus   = Account{Type: OperatorPayable, Party: "nb-bus"}
)

func TestEntryValidate(t *testing.T) {
	ok := func() Entry { return NewEntry("k", EntryPurchase, "upload:1", Transfer(float, bus, 100)...) }
	tests := []struct {
		name   string
		change func(e *Entry)
		ok     bool
	}{
		{"valid", func(e *Entry) {}, true},
		{"three postings", func(e *Entry) {
			e.Postings = []Posting{Debit(float, 100), Credit(bus, 90), Credit(Account{Type: FeeIncome}, 10)}
		}, true},
		{"zero amounts", func(e *Entry) { e.Postings = Transfer(float, bus, 0) }, true},
		{"no key", func(e *Entry) { e.Key = "" }, false},
		{"long key", func(e *Entry) { e.Key = strings.Repeat("k", KeyLenMax+1) }, false},
		{"bad UTF-8 key", func(e *Entry) { e.Key = "\xff" }, false},
		{"no kind", func(e *Entry) { e.Type = "" }, false},
		{"upper-case kind", func(e *Entry) { e.Type = "Purchase" }, false},
		{"long source", func(e *Entry) { e.Source = strings.Repeat("s", SourceLenMax+1) }, false},
		{"long memo", func(e *Entry) { e.Memo = strings.Repeat("m", MemoLenMax+1) }, false},
		{"negative count", func(e *Entry) { e.Count = -1 }, false},
		{"reversal without target", func(e *Entry) { e.Type = EntryReversal }, false},
		{"target without reversal", func(e *Entry) { e.ReversalOf = 3 }, false},
		{"reversal", func(e *Entry) { e.Type, e.ReversalOf = EntryReversal, 3 }, true},
		{"one posting", func(e *Entry) { e.Postings = e.Postings[:1] }, false},
		{"too many postings", func(e *Entry) {
			e.Postings = nil
			for range PostingsMax/2 + 1 {
				e.Postings = append(e.Postings, Transfer(float, bus, 1)...)
			}
		}, false},
		{"bad account", func(e *Entry) { e.Postings = Transfer(Account{Type: CardFloat}, bus, 1) }, false},
		{"amount too large", func(e *Entry) { e.Postings = Transfer(float, bus, AmountFenMax+1) }, false},
		{"unbalanced", func(e *Entry) { e.Postings[0].AmountFen++ }, false},
	}
	for _, tt := range tests {
		e := ok()
		tt.change(&e)
		err := e.Validate()
		if tt.ok != (err == nil) {
			t.Errorf("%s: Validate = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: kind %v, want Invalid", tt.name, citycard.KindOf(err))
		}
	}
}

func TestBalanced(t *testing.T) {
	tests := []struct {
		ps   []Posting
		want bool
	}{
		{Transfer(float, bus, 5), true},
		{[]Posting{Debit(float, 5), Credit(bus, 4)}, false},
		{[]Posting{Debit(float, math.MaxInt64), Debit(float, 1), Credit(bus, math.MaxInt64), Credit(bus, 1)}, false},
		{[]Posting{Credit(float, math.MaxInt64), Credit(float, 2), Debit(bus, math.MaxInt64), Debit(bus, 2)}, false},
		{[]Posting{Debit(float, math.MaxInt64), Credit(bus, math.MaxInt64)}, true},
		{nil, true},
	}
	for i, tt := range tests {
		e := Entry{Postings: tt.ps}
		if got := e.Balanced(); got != tt.want {
			t.Errorf("%d: Balanced(%v) = %v, want %v", i, tt.ps, got, tt.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewEntry of unbalanced postings did not panic")
		}
	}()
	NewEntry("k", EntryAdjustment, "", Debit(float, 1))
}

// TestInputHashCoversEveryField changes one field at a time: each must
// change the input hash, or a tampered field would go unnoticed.
func TestInputHashCoversEveryField(t *testing.T) {
	base := NewEntry("k", EntryPurchase, "upload:1", Transfer(float, bus, 100)...)
	base.Product, base.Count, base.Memo = 3, 10, "m"
	changes := map[string]func(e *Entry){
		"key":         func(e *Entry) { e.Key = "k2" },
		"kind":        func(e *Entry) { e.Type = EntryFee },
		"source":      func(e *Entry) { e.Source = "upload:2" },
		"product":     func(e *Entry) { e.Product = 4 },
		"count":       func(e *Entry) { e.Count = 11 },
		"memo":        func(e *Entry) { e.Memo = "n" },
		"reversal of": func(e *Entry) { e.ReversalOf = 1 },
		"amount":      func(e *Entry) { e.Postings = Transfer(float, bus, 101) },
		"account":     func(e *Entry) { e.Postings = Transfer(float, Account{Type: OperatorPayable, Party: "nb-bu"}, 100) },
		"kind of account": func(e *Entry) {
			e.Postings = Transfer(float, Account{Type: Settlement, Party: "nb-bus"}, 100)
		},
		"order": func(e *Entry) { e.Postings = []Posting{e.Postings[1], e.Postings[0]} },
		// Length prefixes: moving a byte between fields changes the hash.
		"boundary": func(e *Entry) { e.Key, e.Type = "kp", "urchase" },
	}
	h := base.InputHash()
	for name, change := range changes {
		e := base
		e.Postings = append([]Posting(nil), base.Postings...)
		change(&e)
		if e.InputHash() == h {
			t.Errorf("changing the %s leaves the input hash as it was", name)
		}
	}
}

// TestChainGolden pins the input hash and chain encodings: stored chains
// depend on them, so they must never change. -update rewrites the file;
// testdata/chain1.py recomputes its first line without the Go code.
func TestChainGolden(t *testing.T) {
	at := time.Date(2025, 3, 1, 8, 30, 0, 123456789, time.UTC)
	entries := []Entry{
		NewEntry("load-1", EntryLoad, "host:1", Transfer(Account{Type: Settlement, Party: "3150000000000001"}, float, 100000)...),
		{Key: "upload:0000000000A1:42:3150000000000001:nb-bus:1", Type: EntryPurchase, Source: "upload:0000000000A1:42",
			Product: 1, Count: 997, Memo: "圈存", Postings: Transfer(float, bus, 199400)},
		{Key: "rev", Type: EntryReversal, Source: "upload:0000000000A1:42", Product: 1, Count: 997, ReversalOf: 2,
			Postings: []Posting{Credit(float, 199400), Debit(bus, 199400)}},
	}
	var b strings.Builder
	var l Link
	for i, e := range entries {
		in := e.InputHash()
		l = l.Next(at.Add(time.Duration(i)*time.Second), in)
		fmt.Fprintf(&b, "%d input %s chain %s\n", l.Seq, hex.EncodeToString(in[:]), hex.EncodeToString(l.Hash[:]))
	}
	path := filepath.Join("testdata", "chain.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("the chain encoding changed:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestTotals(t *testing.T) {
	var tot Totals
	e1 := NewEntry("a", EntryPurchase, "", Transfer(float, bus, 100)...)
	e2 := NewEntry("b", EntryFee, "", Transfer(bus, Account{Type: FeeIncome}, 3)...)
	tot.Add(1, &e1)
	tot.Add(2, &e2)
	want := []Balance{
		{Account: float, DebitsFen: 100, Postings: 1, LastSeq: 1},
		{Account: bus, DebitsFen: 3, CreditsFen: 100, Postings: 2, LastSeq: 2},
		{Account: Account{Type: FeeIncome}, CreditsFen: 3, Postings: 1, LastSeq: 2},
	}
	got := tot.List()
	if len(got) != len(want) {
		t.Fatalf("Totals = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Totals[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got[1].NetFen() != -97 {
		t.Errorf("NetFen = %d, want -97", got[1].NetFen())
	}
}

// TestPostBatchEmpty: no entries give no results, as an empty slice and
// not (nil, nil), and never reach the store (there is none here).
func TestPostBatchEmpty(t *testing.T) {
	for _, entries := range [][]Entry{nil, {}} {
		r, err := New(nil, time.Now).PostBatch(context.Background(), entries)
		if err != nil || r == nil || len(r) != 0 {
			t.Errorf("PostBatch(%#v) = %#v, %v; want an empty slice and no error", entries, r, err)
		}
	}
}

// TestLinker chains the entries of several appends of one transaction:
// fresh ones after the head in order, a key linked before or booked
// before with the same input replayed (not chained), with another input
// a Conflict; the totals are the fresh entries' only.
func TestLinker(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a := Account{Type: Settlement, Party: "3150000000000001"}
	f := Account{Type: CardFloat, Party: "3150000000000001"}
	e1 := NewEntry("k1", EntryLoad, "t", Transfer(a, f, 100)...)
	e2 := NewEntry("k2", EntryLoad, "t", Transfer(a, f, 200)...)
	old := NewEntry("old", EntryLoad, "t", Transfer(a, f, 300)...)
	head := Link{Seq: 7, Hash: [32]byte{7}}
	booked := func(key string) (Result, [32]byte, bool, error) {
		if key == "old" {
			return Result{Seq: 3, Hash: [32]byte{3}, Replayed: true}, old.InputHash(), true, nil
		}
		return Result{}, [32]byte{}, false, nil
	}
	l := Linker{Head: head}
	r1, err := l.Link(at, []Entry{e1, old}, 1, booked)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.Link(at.Add(time.Second), []Entry{e2, e1}, 2, booked)
	if err != nil {
		t.Fatal(err)
	}
	l1 := head.Next(at, e1.InputHash())
	l2 := l1.Next(at.Add(time.Second), e2.InputHash())
	want1 := []Result{{Seq: 8, Hash: l1.Hash}, {Seq: 3, Hash: [32]byte{3}, Replayed: true}}
	want2 := []Result{{Seq: 9, Hash: l2.Hash}, {Seq: 8, Hash: l1.Hash, Replayed: true}}
	if !reflect.DeepEqual(r1, want1) || !reflect.DeepEqual(r2, want2) {
		t.Errorf("Link: %+v %+v, want %+v %+v", r1, r2, want1, want2)
	}
	if len(l.Fresh) != 2 || l.Fresh[0].Tag != 1 || l.Fresh[1].Tag != 2 || l.Fresh[1].Seq != 9 || l.Head != l2 {
		t.Errorf("fresh %+v, head %+v", l.Fresh, l.Head)
	}
	if tot := l.Totals.List(); len(tot) != 2 || tot[0].DebitsFen+tot[1].DebitsFen != 300 {
		t.Errorf("totals %+v", tot)
	}
	for _, e := range []Entry{NewEntry("k1", EntryLoad, "t", Transfer(a, f, 101)...), NewEntry("old", EntryLoad, "t", Transfer(a, f, 301)...)} {
		if _, err := l.Link(at, []Entry{e}, 3, booked); !citycard.IsKind(err, citycard.Conflict) {
			t.Errorf("%s with other content: %v", e.Key, err)
		}
	}
}

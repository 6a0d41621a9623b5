package ledger

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/citycard/citycard"
)

// Store is the persistence the ledger needs; sqlite and postgres implement
// it.
type Store interface {
	// Append books entries in one transaction, all or none, stamped at
	// (the caller's clock). For each entry, in order: if its key was
	// booked before (or earlier in the same call) with the same
	// InputHash, its Result is that booking's, Replayed; with another
	// InputHash, Append fails with kind Conflict. Otherwise the entry
	// gets the next Seq and Link.Next's Hash, its postings are written
	// and its accounts' balances moved (ledger.Totals), in the same
	// transaction. Kind Conflict also when a reversal names an entry
	// already reversed; kind NotFound when it names no entry. The
	// entries must be valid (Entry.Validate): Append refuses an
	// unbalanced one (kind Invalid) and so does the schema.
	Append(ctx context.Context, at time.Time, entries []Entry) ([]Result, error)
	// Entry returns the entry of seq. Kind NotFound.
	Entry(ctx context.Context, seq int64) (Posted, error)
	// EntryByKey returns the entry booked under idempotency key key.
	// Kind NotFound.
	EntryByKey(ctx context.Context, key string) (Posted, error)
	// EntriesBySource returns the entries whose Source is source, in Seq
	// order, at most limit of them: the drill-down from an upload batch
	// or a cycle.
	EntriesBySource(ctx context.Context, source string, limit int) ([]Posted, error)
	// Scan calls fn for every entry after seq after, in Seq order, until
	// fn returns an error, which Scan returns. fn's *Posted is valid only
	// during the call.
	Scan(ctx context.Context, after int64, fn func(p *Posted) error) error
	// Audit reads the ledger in one consistent snapshot: it calls fn for
	// every entry in Seq order (as Scan) and then returns the balances
	// (as Balances) of that same snapshot, so that Verify can check one
	// against the other while entries are being posted.
	Audit(ctx context.Context, fn func(p *Posted) error) ([]Balance, error)
	// Head returns the last entry's link; the zero Link if the ledger is
	// empty.
	Head(ctx context.Context) (Link, error)
	// Balance returns one account's running balance; an account never
	// posted to has a zero Balance (and no error).
	Balance(ctx context.Context, a Account) (Balance, error)
	// Balances returns the running balance of every account posted to,
	// ordered by account name.
	Balances(ctx context.Context) ([]Balance, error)
}

// Ledger posts entries to a Store under the ledger's rules. Its methods
// are safe for concurrent use if the Store's are.
type Ledger struct {
	store Store
	now   func() time.Time
}

// New returns a Ledger over store, stamping bookings with now().
func New(store Store, now func() time.Time) *Ledger {
	return &Ledger{store: store, now: now}
}

// Store returns the Store the ledger posts to, for reads.
func (l *Ledger) Store() Store { return l.store }

// Post books one entry; see PostBatch.
func (l *Ledger) Post(ctx context.Context, e Entry) (Result, error) {
	r, err := l.PostBatch(ctx, []Entry{e})
	if err != nil {
		return Result{}, err
	}
	return r[0], nil
}

// PostBatch books entries in one transaction, all or none, stamped with
// one time, and returns one Result per entry, in order (see Store.Append
// for idempotency). No entries book nothing: an empty, non-nil slice,
// without a call to the store. An unbalanced entry is a programmer error:
// PostBatch panics. Kinds: Invalid (an entry breaks a rule of Entry.Validate, or
// more than BatchMax entries), Conflict (a key booked with other content,
// an entry reversed twice), NotFound (a reversal of no entry), IO.
func (l *Ledger) PostBatch(ctx context.Context, entries []Entry) ([]Result, error) {
	const op = "ledger.PostBatch"
	if len(entries) == 0 {
		return []Result{}, nil
	}
	if len(entries) > BatchMax {
		return nil, citycard.E(op, citycard.Invalid, "%d entries: at most %d in one batch", len(entries), BatchMax)
	}
	for i := range entries {
		entries[i].mustBalance(op)
		if err := entries[i].Validate(); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
	}
	r, err := l.store.Append(ctx, l.now().UTC(), entries)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return r, nil
}

// Reverse books the reversal of entry seq under idempotency key key: an
// entry of kind KindReversal with the same source, product and count and
// every posting negated. Kinds: NotFound (no entry seq), Conflict (seq is
// itself a reversal, or was reversed already under another key),
// Invalid, IO.
func (l *Ledger) Reverse(ctx context.Context, seq int64, key, memo string) (Result, error) {
	const op = "ledger.Reverse"
	orig, err := l.store.Entry(ctx, seq)
	if err != nil {
		return Result{}, citycard.Wrap(op, citycard.Other, err)
	}
	if orig.Type == EntryReversal {
		return Result{}, citycard.E(op, citycard.Conflict, "entry %d is a reversal: post a new entry instead", seq)
	}
	r := Entry{
		Key: key, Type: EntryReversal, Source: orig.Source, Product: orig.Product,
		Count: orig.Count, Memo: memo, ReversalOf: seq,
		Postings: make([]Posting, len(orig.Postings)),
	}
	for i, p := range orig.Postings {
		r.Postings[i] = Posting{Account: p.Account, AmountFen: -p.AmountFen}
	}
	res, err := l.Post(ctx, r)
	return res, citycard.Wrap(op, citycard.Other, err)
}

// Report is what Verify found.
type Report struct {
	Entries  int64 // entries checked
	Postings int64 // postings checked
	Accounts int   // accounts whose balance was checked
	Head     Link  // the last sound entry's link
	// Broken is the first fault found, nil if the ledger is sound.
	Broken *Break
}

// Break is a fault Verify found: an entry (Seq > 0) that does not follow
// from its predecessor, or an account (Seq == 0) whose running balance is
// not the sum of its postings.
type Break struct {
	Seq     int64
	Account string
	Reason  string
}

// String says where the ledger broke and why: "entry 7: ..." or
// "account NAME: ...".
func (b *Break) String() string {
	if b.Seq > 0 {
		return fmt.Sprintf("entry %d: %s", b.Seq, b.Reason)
	}
	return fmt.Sprintf("account %s: %s", b.Account, b.Reason)
}

// Verify walks the whole chain from the first entry: each entry must be
// the next Seq, valid and balanced, its content must hash to its stored
// input hash, and its stored hash must follow from its predecessor's
// (Link.Next). Then every running balance must equal the sum of its
// postings. It stops at the first fault: the Report names it, and the
// error (kind Crypto) says which entry or account it is. Other kinds
// (IO) when the store fails.
//
// The chain detects any change, insertion or deletion before the head;
// removing entries at the end leaves a shorter sound chain, which only a
// head recorded elsewhere (Report.Head, printed by `citycard ledger
// verify`) reveals.
func Verify(ctx context.Context, s Store) (Report, error) {
	const op = "ledger.Verify"
	var (
		rep    Report
		totals Totals
	)
	errBroken := fmt.Errorf("broken")
	stored, err := s.Audit(ctx, func(p *Posted) error {
		brk := func(format string, args ...any) error {
			rep.Broken = &Break{Seq: p.Seq, Reason: fmt.Sprintf(format, args...)}
			return errBroken
		}
		if p.Seq != rep.Head.Seq+1 {
			rep.Broken = &Break{Seq: rep.Head.Seq + 1, Reason: fmt.Sprintf("missing: the entry after %d is %d", rep.Head.Seq, p.Seq)}
			return errBroken
		}
		if !p.Balanced() {
			return brk("unbalanced postings %v", p.Postings)
		}
		if err := p.Validate(); err != nil {
			return brk("invalid: %v", err)
		}
		if p.Entry.InputHash() != p.InputHash {
			return brk("content altered: it does not hash to its stored input hash %s", short(p.InputHash))
		}
		next := rep.Head.Next(p.Time, p.InputHash)
		if next.Hash != p.Hash {
			return brk("hash %s does not follow from entry %d's %s (want %s)", short(p.Hash), rep.Head.Seq, short(rep.Head.Hash), short(next.Hash))
		}
		rep.Head = next
		rep.Entries++
		rep.Postings += int64(len(p.Postings))
		totals.Add(p.Seq, &p.Entry)
		return nil
	})
	if rep.Broken != nil {
		return rep, citycard.E(op, citycard.Crypto, "ledger broken at %v", rep.Broken)
	}
	if err != nil {
		return rep, citycard.Wrap(op, citycard.IO, err)
	}
	want := append([]Balance(nil), totals.List()...)
	sort.Slice(want, func(i, j int) bool { return want[i].Account.String() < want[j].Account.String() })
	for i := 0; i < len(want) || i < len(stored); i++ {
		switch {
		case i >= len(stored):
			rep.Broken = &Break{Account: want[i].Account.String(), Reason: "posted to but has no balance"}
		case i >= len(want) || stored[i].Account != want[i].Account:
			rep.Broken = &Break{Account: stored[i].Account.String(), Reason: "has a balance but no postings (or a different set of accounts)"}
		case stored[i] != want[i]:
			rep.Broken = &Break{Account: want[i].Account.String(), Reason: fmt.Sprintf("balance debits %d credits %d postings %d last entry %d; its postings sum to debits %d credits %d postings %d last entry %d",
				stored[i].DebitsFen, stored[i].CreditsFen, stored[i].Postings, stored[i].LastSeq,
				want[i].DebitsFen, want[i].CreditsFen, want[i].Postings, want[i].LastSeq)}
		}
		if rep.Broken != nil {
			return rep, citycard.E(op, citycard.Crypto, "ledger broken at %v", rep.Broken)
		}
		rep.Accounts++
	}
	return rep, nil
}

// short returns the first 8 bytes of a hash in hex, for messages.
func short(h [32]byte) string { return hex.EncodeToString(h[:8]) }

package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/citycard/citycard"
)

// Limits on entries: every batch, string and amount has a bound.
const (
	KeyLenMax      = 128            // bytes of an idempotency key
	TypeLenMax     = 32             // bytes of an entry type
	SourceLenMax   = 128            // bytes of a source reference
	MemoLenMax     = 256            // bytes of a memo
	PostingsMax    = 256            // postings in one entry
	BatchMax       = 4096           // entries in one PostBatch
	AmountFenMax   = int64(1) << 50 // |amount| of one posting: about 11 trillion yuan
	CountMax       = int64(1) << 40 // records behind one entry
	postingsMinLen = 2
)

// Posting is a signed amount on one account: a debit when positive, a
// credit when negative.
type Posting struct {
	Account   Account
	AmountFen int64
}

// Debit returns a posting debiting a by fen (fen >= 0).
func Debit(a Account, fen int64) Posting { return Posting{Account: a, AmountFen: fen} }

// Credit returns a posting crediting a by fen (fen >= 0).
func Credit(a Account, fen int64) Posting { return Posting{Account: a, AmountFen: -fen} }

// Transfer returns the two postings that debit debit and credit credit by
// fen: for a purchase, Transfer(card float, operator payable, fen).
func Transfer(debit, credit Account, fen int64) []Posting {
	return []Posting{Debit(debit, fen), Credit(credit, fen)}
}

// EntryKind says what an entry records. Kinds are lower-case words with
// underscores; the constants name the ones the platform books, and other
// packages may add their own.
type EntryType string

// The entry types the platform books.
const (
	EntryPurchase   EntryType = "purchase"     // card float to operator payable
	EntryLoad       EntryType = "load"         // money in: settlement to card float
	EntrySuspense   EntryType = "suspense"     // a grey record: card float to suspense, or back
	EntryFee        EntryType = "fee"          // to fee income: an operator's fee from its payable, a card fee paid in
	EntrySettlement EntryType = "settlement"   // a position paid or received
	EntryReversal   EntryType = "reversal"     // undoes an earlier entry (Entry.ReversalOf)
	EntryAdjustment EntryType = "adjustment"   // a correction decided by staff
	EntryDeposit    EntryType = "deposit"      // a card's deposit paid in: settlement to card deposit
	EntryRefund     EntryType = "refund"       // a card returned: its balance and deposit out, the fee kept
	EntryMove       EntryType = "balance_move" // a lost or damaged card's balance onto its replacement
	EntryLoss       EntryType = "loss"         // the issuer bears a lost card's use after the report: issuer loss to card float
)

// Entry is one ledger entry as its poster states it: everything here is
// covered by the idempotency hash (InputHash).
type Entry struct {
	// Key is the idempotency key: posting the same key again answers the
	// first booking; with different content it is a Conflict.
	Key  string
	Type EntryType
	// Source is the drill-down reference: the upload batch, cycle or
	// request whose records the entry aggregates.
	Source  string
	Product uint16 // the fare product the entry aggregates; 0 for none or stored value
	Count   int64  // how many records the entry aggregates
	Memo    string
	// ReversalOf is the Seq of the entry this one reverses, or 0.
	ReversalOf int64
	Postings   []Posting
}

// NewEntry returns an entry of kind with idempotency key key, source
// reference source and postings. Unbalanced postings are a programmer
// error: NewEntry panics. The other rules are checked by Validate, when
// the entry is posted.
func NewEntry(key string, kind EntryType, source string, postings ...Posting) Entry {
	e := Entry{Key: key, Type: kind, Source: source, Postings: postings}
	e.mustBalance("ledger.NewEntry")
	return e
}

// Balanced reports whether e's postings sum to zero, the sum computed
// without overflow (a sum that would overflow is not balanced).
func (e *Entry) Balanced() bool {
	var sum int64
	for _, p := range e.Postings {
		a := p.AmountFen
		if a > 0 && sum > math.MaxInt64-a || a < 0 && sum < math.MinInt64-a {
			return false
		}
		sum += a
	}
	return sum == 0
}

func (e *Entry) mustBalance(op string) {
	if !e.Balanced() {
		panic(fmt.Sprintf("%s: unbalanced entry %q: %v", op, e.Key, e.Postings))
	}
}

// Validate checks every rule of an entry: a key, a type, bounded text,
// between 2 and PostingsMax postings on valid accounts, amounts within
// AmountFenMax, and balance. Kind Invalid.
func (e *Entry) Validate() error {
	const op = "ledger.Entry.Validate"
	if e.Key == "" || len(e.Key) > KeyLenMax || !utf8.ValidString(e.Key) {
		return citycard.E(op, citycard.Invalid, "key %q: want 1 to %d bytes of UTF-8", e.Key, KeyLenMax)
	}
	if err := checkKind(e.Type); err != nil {
		return citycard.E(op, citycard.Invalid, "entry %q: %w", e.Key, err)
	}
	if len(e.Source) > SourceLenMax || !utf8.ValidString(e.Source) {
		return citycard.E(op, citycard.Invalid, "entry %q: source of %d bytes: want at most %d of UTF-8", e.Key, len(e.Source), SourceLenMax)
	}
	if len(e.Memo) > MemoLenMax || !utf8.ValidString(e.Memo) {
		return citycard.E(op, citycard.Invalid, "entry %q: memo of %d bytes: want at most %d of UTF-8", e.Key, len(e.Memo), MemoLenMax)
	}
	if e.Count < 0 || e.Count > CountMax {
		return citycard.E(op, citycard.Invalid, "entry %q: count %d", e.Key, e.Count)
	}
	if e.ReversalOf < 0 {
		return citycard.E(op, citycard.Invalid, "entry %q: reversal of %d", e.Key, e.ReversalOf)
	}
	if (e.ReversalOf != 0) != (e.Type == EntryReversal) {
		return citycard.E(op, citycard.Invalid, "entry %q: kind %q with reversal of %d: a reversal, and only a reversal, names the entry it reverses", e.Key, e.Type, e.ReversalOf)
	}
	if n := len(e.Postings); n < postingsMinLen || n > PostingsMax {
		return citycard.E(op, citycard.Invalid, "entry %q: %d postings: want %d to %d", e.Key, n, postingsMinLen, PostingsMax)
	}
	for i, p := range e.Postings {
		if err := p.Account.Validate(); err != nil {
			return citycard.E(op, citycard.Invalid, "entry %q: posting %d: %w", e.Key, i, err)
		}
		if p.AmountFen > AmountFenMax || p.AmountFen < -AmountFenMax {
			return citycard.E(op, citycard.Invalid, "entry %q: posting %d: amount %d fen out of range", e.Key, i, p.AmountFen)
		}
	}
	if !e.Balanced() {
		return citycard.E(op, citycard.Invalid, "entry %q: unbalanced postings %v", e.Key, e.Postings)
	}
	return nil
}

func checkKind(k EntryType) error {
	if k == "" || len(k) > TypeLenMax {
		return fmt.Errorf("type %q: want 1 to %d bytes", k, TypeLenMax)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !('a' <= c && c <= 'z' || c == '_') {
			return fmt.Errorf("type %q: byte %q: want a-z or '_'", k, c)
		}
	}
	return nil
}

// InputHash returns the SHA-256 of e's canonical encoding: every field,
// each length-prefixed, postings in order. Equal entries have equal
// hashes and different ones (but for a collision) different hashes; the
// encoding is stored nowhere but is part of the chain, so it never
// changes (a new layout would need a new domain prefix).
func (e *Entry) InputHash() [32]byte {
	b := make([]byte, 0, 128+len(e.Key)+len(e.Source)+len(e.Memo)+48*len(e.Postings))
	b = append(b, "citycard.ledger.entry.v1\x00"...)
	b = appendString(b, e.Key)
	b = appendString(b, string(e.Type))
	b = appendString(b, e.Source)
	b = binary.BigEndian.AppendUint16(b, e.Product)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Count))
	b = appendString(b, e.Memo)
	b = binary.BigEndian.AppendUint64(b, uint64(e.ReversalOf))
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Postings)))
	for _, p := range e.Postings {
		b = append(b, byte(p.Account.Type))
		b = appendString(b, p.Account.Party)
		b = binary.BigEndian.AppendUint64(b, uint64(p.AmountFen))
	}
	return sha256.Sum256(b)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// Link is a position in the hash chain: an entry's Seq and Hash. The zero
// Link is the head of an empty ledger.
type Link struct {
	Seq  int64
	Hash [32]byte
}

// Next returns the link of the entry that follows l, booked at time at
// with input hash input: Seq l.Seq+1, Hash SHA-256 over l.Hash, that Seq,
// the time in Unix nanoseconds and input.
func (l Link) Next(at time.Time, input [32]byte) Link {
	var b [24 + 32 + 8 + 8 + 32]byte
	n := copy(b[:], "citycard.ledger.chain.v1")
	n += copy(b[n:], l.Hash[:])
	binary.BigEndian.PutUint64(b[n:], uint64(l.Seq+1))
	binary.BigEndian.PutUint64(b[n+8:], uint64(at.UnixNano()))
	copy(b[n+16:], input[:])
	return Link{Seq: l.Seq + 1, Hash: sha256.Sum256(b[:])}
}

// Posted is an entry as the ledger booked it.
type Posted struct {
	Entry
	Seq       int64
	Time      time.Time // the booking time, UTC, to the nanosecond
	InputHash [32]byte  // Entry.InputHash as stored
	Hash      [32]byte  // the chain hash as stored
}

// Result is the outcome of posting one entry.
type Result struct {
	Seq  int64
	Hash [32]byte
	// Replayed is true when the key had been booked before with the same
	// input: Seq and Hash are the first booking's and nothing was written.
	Replayed bool
}

// Balance is an account's running totals, kept in the same transaction as
// the postings that move them.
type Balance struct {
	Account    Account
	DebitsFen  int64 // sum of the debits, >= 0
	CreditsFen int64 // sum of the credits, >= 0
	Postings   int64 // how many postings moved it
	LastSeq    int64 // the last entry that moved it
}

// NetFen returns debits minus credits: positive for a debit balance.
func (b Balance) NetFen() int64 { return b.DebitsFen - b.CreditsFen }

// add adds the posting p of entry seq to b.
func (b *Balance) add(seq int64, p Posting) {
	if p.AmountFen >= 0 {
		b.DebitsFen += p.AmountFen
	} else {
		b.CreditsFen -= p.AmountFen
	}
	b.Postings++
	b.LastSeq = seq
}

// Totals sums postings per account: what a Store adds to its running
// balances in the transaction that appends entries, and what Verify
// recomputes from the whole journal. The zero Totals is empty and ready.
type Totals struct {
	idx  map[Account]int
	list []Balance
}

// Add adds the postings of e, booked as entry seq.
func (t *Totals) Add(seq int64, e *Entry) {
	if t.idx == nil {
		t.idx = make(map[Account]int)
	}
	for _, p := range e.Postings {
		j, ok := t.idx[p.Account]
		if !ok {
			j = len(t.list)
			t.idx[p.Account] = j
			t.list = append(t.list, Balance{Account: p.Account})
		}
		t.list[j].add(seq, p)
	}
}

// List returns the totals per account, in order of first appearance. The
// slice is t's own: Add after List changes it.
func (t *Totals) List() []Balance { return t.list }

// Len returns the number of accounts t has seen.
func (t *Totals) Len() int { return len(t.list) }

// Linker chains a store's appends of one transaction: the entries of
// every Link after the head, each key booked once, and the totals of the
// ones to write, so that a store can read the head once and write the
// balances once however many appends share the transaction (a group
// commit). The zero Linker starts at the empty ledger's head; set Head
// to the stored one first.
type Linker struct {
	Head   Link
	Fresh  []Fresh // the entries to write, in chain order
	Totals Totals  // their postings per account
	seen   map[string]linked
}

// Fresh is an entry Link chained, to be written: its link, its booking
// time, its input hash and the tag its caller gave Link.
type Fresh struct {
	Entry *Entry
	Seq   int64
	Hash  [32]byte
	Input [32]byte
	At    time.Time
	Tag   int
}

type linked struct {
	input  [32]byte
	result Result
}

// Booked answers for Link whether key was booked before the transaction:
// its result (Replayed set) and its input hash, ok false if it was not.
type Booked func(key string) (r Result, input [32]byte, ok bool, err error)

// Link chains entries at at after the entries linked before: a key
// linked before, or booked before (booked), with the same input is a
// replay, answered with its first result and not chained; with another
// input it is kind Conflict. tag is the caller's, kept in each Fresh
// (to say whose entry a store's refusal is).
func (l *Linker) Link(at time.Time, entries []Entry, tag int, booked Booked) ([]Result, error) {
	const op = "ledger.Linker.Link"
	if l.seen == nil {
		l.seen = make(map[string]linked, len(entries))
	}
	results := make([]Result, len(entries))
	for i := range entries {
		e := &entries[i]
		in := e.InputHash()
		p, ok := l.seen[e.Key]
		if !ok {
			r, input, found, err := booked(e.Key)
			if err != nil {
				return nil, err
			}
			p, ok = linked{input, r}, found
		}
		if ok {
			if p.input != in {
				return nil, citycard.E(op, citycard.Conflict, "idempotency key %q was booked with other content", e.Key)
			}
			results[i] = Result{Seq: p.result.Seq, Hash: p.result.Hash, Replayed: true}
			l.seen[e.Key] = p
			continue
		}
		l.Head = l.Head.Next(at, in)
		results[i] = Result{Seq: l.Head.Seq, Hash: l.Head.Hash}
		l.seen[e.Key] = linked{in, results[i]}
		l.Fresh = append(l.Fresh, Fresh{Entry: e, Seq: l.Head.Seq, Hash: l.Head.Hash, Input: in, At: at, Tag: tag})
		l.Totals.Add(l.Head.Seq, e)
	}
	return results, nil
}

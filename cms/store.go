package cms

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
)

// Store is the storage card management needs: cardholders (only in their
// protected form), cards, and the audit log every change writes in the
// same transaction. sqlite.DB.CMS and postgres.DB.CMS implement it; the
// rules are Manager's, the stores only keep what they are given.
type Store interface {
	// CreateHolder allocates the next cardholder ID (from 1), calls build
	// with it and stores the Protected and the audit record build returns,
	// in one transaction. Kind Exists for a document already registered
	// (its look-up hash), with nothing stored.
	CreateHolder(ctx context.Context, build func(id int64) (Protected, *AuditRecord, error)) (int64, error)
	// UpdateHolder replaces a cardholder's protected form. Kinds NotFound,
	// Exists (another holder's document).
	UpdateHolder(ctx context.Context, p Protected, a *AuditRecord) error
	// Holder returns a cardholder's protected form. Kind NotFound.
	Holder(ctx context.Context, id int64) (Protected, error)
	// HolderByLookup finds a cardholder by the look-up hash of their
	// document. Kind NotFound.
	HolderByLookup(ctx context.Context, lookup [32]byte) (Protected, error)
	// CreateCard stores a new card. Kinds Exists (issuer and ASN taken),
	// NotFound (no such holder).
	CreateCard(ctx context.Context, c *Card, a *AuditRecord) error
	// UpdateCard writes c over the stored card if the stored one is at
	// version c.Version-1 (the version c was read at); kind Conflict if
	// another move came first, NotFound if there is no such card.
	UpdateCard(ctx context.Context, c *Card, a *AuditRecord) error
	// Card returns a card. Kind NotFound.
	Card(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (Card, error)
	// CardsOf returns a cardholder's cards, by issuer and ASN.
	CardsOf(ctx context.Context, holder int64) ([]Card, error)
	// CardsPage returns up to limit cards (1 to CardsPageMax) after
	// issuer and ASN (both zero: from the first), by issuer and ASN.
	// Kind Invalid for a limit out of range.
	CardsPage(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int) ([]Card, error)
	// CardsExpired returns up to limit cards (1 to CardsPageMax) issued
	// or active whose expiry is before day before, by expiry, issuer and
	// ASN (migration 0035's index). Kind Invalid for a limit out of
	// range.
	CardsExpired(ctx context.Context, before Date, limit int) ([]Card, error)
	// AuditLog calls fn for every audit record after sequence number
	// after, in order.
	AuditLog(ctx context.Context, after int64, fn func(a *AuditRecord) error) error

	// Commit books a money operation in one transaction, all or none:
	// (an Operation without a Booking moves no money: a load's
	// confirmation; only its cards, loads and audit record are written)
	// its key and input hash, its flows, its ledger entries (stamped
	// op.At), the cards it creates and moves (each over the version it
	// was read at, as UpdateCard) and its audit record. If the key was
	// committed before with the same input hash it writes nothing and
	// reports replayed; with another input hash it is kind Conflict.
	// Kinds of UpdateCard, CreateCard and ledger.Store.Append otherwise.
	Commit(ctx context.Context, op *Operation) (replayed bool, err error)
	// OperationHash returns the input hash a key was committed with. Kind
	// NotFound.
	OperationHash(ctx context.Context, key string) ([32]byte, error)
	// OperationAnswer returns the answer a key was committed with
	// (Booking.Answer; "" for none). Kind NotFound.
	OperationAnswer(ctx context.Context, key string) (string, error)
	// Flows returns the flows of a card, in the order they were booked.
	Flows(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]Flow, error)
	// FlowTotals sums every card's flows by type (the float report's
	// book: card management keeps our own issuer's cards only).
	FlowTotals(ctx context.Context) (map[FlowType]int64, error)
	// ProductFlowTotals sums every card's flows by the card's product and
	// the flow's type (the float report's book per product); the flows of
	// a card the store does not hold are under product "".
	ProductFlowTotals(ctx context.Context) (map[string]map[FlowType]int64, error)
	// CardProducts calls fn with every card's ASN and product, in no
	// order, until fn returns an error, which it returns.
	CardProducts(ctx context.Context, fn func(asn citycard.ASN, product string) error) error

	// CommitBatch commits ops in one transaction, each as Commit would
	// alone (its own key, replay check, cards and audit record): an op
	// refused for its own reason (kinds Conflict, Exists, NotFound,
	// Invalid) is left out, its error in its result, and the others still
	// commit (cms.RetryBatch). A fault of the transaction (kind IO, or a
	// failed commit) is the error, and nothing of any op is kept.
	CommitBatch(ctx context.Context, ops []*Operation) ([]CommitResult, error)
	// OnlineLoad returns an online load by its key. Kind NotFound.
	OnlineLoad(ctx context.Context, key string) (OnlineLoad, error)
	// OpenLoad returns a card's unconfirmed online load (there is at most
	// one: the host settles the last before it books the next). Kind
	// NotFound.
	OpenLoad(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (OnlineLoad, error)
	// LoadedFen sums a card's online loads authorized in [from, to), the
	// reversed ones left out.
	LoadedFen(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, from, to time.Time) (int64, error)
	// CardLoads returns what an online load's authorization reads of a
	// card, in one round trip on PostgreSQL: the card (Card's), its
	// unconfirmed online load (OpenLoad's; nil for none) and the sum of
	// its online loads authorized in [from, to) (LoadedFen's). Kind
	// NotFound for no such card.
	CardLoads(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, from, to time.Time) (CardLoads, error)
	// UnconfirmedLoads returns up to limit unconfirmed online loads with
	// keys after after, by key.
	UnconfirmedLoads(ctx context.Context, after string, limit int) ([]OnlineLoad, error)
	// LedgerEntry returns the ledger entry booked under key (the one a
	// Commit posted: ledger.Store.EntryByKey), so that a reversal names
	// the entry it reverses. Kind NotFound.
	LedgerEntry(ctx context.Context, key string) (ledger.Posted, error)
}

// CardLoads is a card as an online load's authorization reads it
// (Store.CardLoads).
type CardLoads struct {
	Card      Card
	Open      *OnlineLoad // the card's unconfirmed load; nil for none
	LoadedFen int64       // the card's loads authorized in the window asked, the reversed ones left out
	// Credited says the card has a confirmed load; CreditedCounter is the
	// online counter of its last (by authorization), which a session of
	// the card's must be past (LoadHost.Authorize refuses an older one).
	Credited        bool
	CreditedCounter uint16
}

// CommitResult is one operation's outcome in a CommitBatch.
type CommitResult struct {
	Replayed bool
	Err      error
}

// Operation is a money operation as a store commits it.
type Operation struct {
	Booking  *Booking  // nil: the operation moves no money
	At       time.Time // the booking time, for the ledger
	NewCards []*Card   // cards the operation creates (a replacement)
	Cards    []*Card   // cards it moves, each at the version after its move
	// Loads are the online loads it books (status unconfirmed: a new row)
	// or settles (another status: written over the unconfirmed row, kind
	// Conflict if it is settled already).
	Loads []*OnlineLoad
	Audit *AuditRecord
}

// AuditRecord is one record of the audit log: who changed what, where, when,
// and the thing before and after (snapshots without personal data). The
// log is append-only and hash-chained: a record's Hash covers the
// previous record's hash and everything in it (AuditRecord.Chain).
type AuditRecord struct {
	Seq          int64
	At           time.Time
	Actor        string // the member of staff, terminal or cardholder who asked
	ServicePoint string // where: a counter, a partner bank's branch, a kiosk, "app"
	Subject      string // "card:ISSUER/ASN", "holder:ID"
	Action       string // the move or operation
	Before       string // JSON snapshot; "" for a creation
	After        string // JSON snapshot
	Hash         [32]byte
}

// Chain sets a's Seq and Hash as the record after prev (the zero AuditRecord
// for the first): Seq one more, Hash SHA-256 over a domain prefix,
// prev's hash, the Seq, the time in Unix nanoseconds and each text field
// length-prefixed. The encoding never changes (a new one needs a new
// prefix).
func (a *AuditRecord) Chain(prev *AuditRecord) {
	a.Seq = prev.Seq + 1
	a.Hash = a.hash(prev.Hash)
}

func (a *AuditRecord) hash(prev [32]byte) [32]byte {
	b := make([]byte, 0, 128+len(a.Before)+len(a.After))
	b = append(b, "citycard.cms.audit.v1\x00"...)
	b = append(b, prev[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(a.At.UnixNano()))
	for _, s := range []string{a.Actor, a.ServicePoint, a.Subject, a.Action, a.Before, a.After} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return sha256.Sum256(b)
}

// VerifyAudit walks the audit log from its first record and checks the
// chain: dense sequence numbers from 1, each hash recomputed. It returns
// the number of records. Kind Crypto naming the first record that does
// not follow; a store's error as it is.
func VerifyAudit(ctx context.Context, s Store) (int64, error) {
	const op = "cms.VerifyAudit"
	var prev AuditRecord
	err := s.AuditLog(ctx, 0, func(a *AuditRecord) error {
		if a.Seq != prev.Seq+1 {
			return citycard.E(op, citycard.Crypto, "audit record %d follows %d", a.Seq, prev.Seq)
		}
		if a.hash(prev.Hash) != a.Hash {
			return citycard.E(op, citycard.Crypto, "audit record %d: its hash does not follow from its content and record %d", a.Seq, prev.Seq)
		}
		prev = *a
		return nil
	})
	return prev.Seq, err
}

// cardSnapshot is a card as the audit log shows it.
type cardSnapshot struct {
	Issuer     string `json:"issuer"`
	ASN        string `json:"asn"`
	Product    string `json:"product"`
	Holder     int64  `json:"holder,omitempty"`
	State      string `json:"state"`
	Version    int64  `json:"version"`
	IssuedAt   string `json:"issued_at,omitempty"`
	LostAt     string `json:"lost_at,omitempty"`
	ClosedAt   string `json:"closed_at,omitempty"`
	Expiry     string `json:"expiry,omitempty"`
	ReviewDue  string `json:"review_due,omitempty"`
	ReplacedBy string `json:"replaced_by,omitempty"`
	Replaces   string `json:"replaces,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func optASN(a citycard.ASN) string {
	if a == (citycard.ASN{}) {
		return ""
	}
	return a.String()
}

// Snapshot returns the card as the audit log shows it, as JSON.
func (c *Card) Snapshot() string {
	b, err := json.Marshal(cardSnapshot{
		Issuer: c.Issuer.String(), ASN: c.ASN.String(), Product: c.Product, Holder: c.Holder, State: c.State.String(), Version: c.Version,
		IssuedAt: rfc3339(c.IssuedAt), LostAt: rfc3339(c.LostAt), ClosedAt: rfc3339(c.ClosedAt), Expiry: c.Expiry.String(),
		ReviewDue: c.ReviewDue.String(), ReplacedBy: optASN(c.ReplacedBy), Replaces: optASN(c.Replaces),
	})
	if err != nil {
		panic(err) // a struct of strings and integers always encodes
	}
	return string(b)
}

// Snapshot returns a protected cardholder as the audit log shows it:
// the ID, the look-up hash and the SHA-256 of the ciphertext, so that the
// log proves what changed without holding any personal data.
func (p *Protected) Snapshot() string {
	sum := sha256.Sum256(p.Ciphertext)
	b, err := json.Marshal(struct {
		ID         int64  `json:"id"`
		Lookup     string `json:"lookup"`
		Ciphertext string `json:"ciphertext_sha256"`
	}{p.HolderID, hex.EncodeToString(p.Lookup[:]), hex.EncodeToString(sum[:])})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// The stores' spelling of a card, shared so that both write and read it
// alike: CardColumns in this order, CardArgs to write them, ScanCard to
// read them. Times are Unix nanoseconds (0 for none), dates YYYY-MM-DD
// ("" for none), ASNs 20 hex digits (an 8-byte one with its two leading
// zero bytes; "" for none), states by name.
const CardColumns = "issuer, asn, product, holder, state, version, applied_ns, issued_ns, lost_ns, closed_ns, expiry, review_due, replaced_by, replaces, state_before"

// CardArgs returns c's values in CardColumns' order.
func CardArgs(c *Card) []any {
	var holder any
	if c.Holder != 0 {
		holder = c.Holder
	}
	var before string
	if c.StateBefore != 0 {
		before = c.StateBefore.String()
	}
	return []any{c.Issuer.String(), ASNHex(c.ASN), c.Product, holder, c.State.String(), c.Version,
		nanos(c.AppliedAt), nanos(c.IssuedAt), nanos(c.LostAt), nanos(c.ClosedAt),
		c.Expiry.String(), c.ReviewDue.String(), optASNHex(c.ReplacedBy), optASNHex(c.Replaces), before}
}

// ASNHex writes an ASN as its 20 hex digits, as the stores key cards.
func ASNHex(a citycard.ASN) string { return strings.ToUpper(hex.EncodeToString(a[:])) }

func optASNHex(a citycard.ASN) string {
	if a == (citycard.ASN{}) {
		return ""
	}
	return ASNHex(a)
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Scanner is a row being read (*sql.Row, *sql.Rows, pgx.Row).
type Scanner interface {
	Scan(dest ...any) error
}

// ScanCard reads a card from a row of CardColumns. Kind Invalid for a
// value the stores never write; the Scan error as it is.
func ScanCard(row Scanner) (Card, error) {
	const op = "cms.ScanCard"
	var c Card
	var issuer, asn, state, expiry, review, replacedBy, replaces, before string
	var holder *int64
	var applied, issued, lost, closed int64
	if err := row.Scan(&issuer, &asn, &c.Product, &holder, &state, &c.Version, &applied, &issued, &lost, &closed,
		&expiry, &review, &replacedBy, &replaces, &before); err != nil {
		return Card{}, err
	}
	var err error
	if c.Issuer, err = citycard.ParseIssuerCode(issuer); err != nil {
		return Card{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	for _, f := range []struct {
		s   string
		dst *citycard.ASN
	}{{asn, &c.ASN}, {replacedBy, &c.ReplacedBy}, {replaces, &c.Replaces}} {
		if f.s == "" && f.dst != &c.ASN {
			continue
		}
		if *f.dst, err = citycard.ParseASN(f.s); err != nil {
			return Card{}, citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	if holder != nil {
		c.Holder = *holder
	}
	if c.State, err = ParseState(state); err != nil {
		return Card{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if before != "" {
		if c.StateBefore, err = ParseState(before); err != nil {
			return Card{}, citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	c.AppliedAt, c.IssuedAt, c.LostAt, c.ClosedAt = fromNanos(applied), fromNanos(issued), fromNanos(lost), fromNanos(closed)
	for _, f := range []struct {
		s   string
		dst *Date
	}{{expiry, &c.Expiry}, {review, &c.ReviewDue}} {
		if f.s == "" {
			continue
		}
		if *f.dst, err = ParseDate(f.s); err != nil {
			return Card{}, citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	return c, nil
}

// Rows is a query's rows being read (*sql.Rows, pgx.Rows).
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// ScanCards reads every card of rows of CardColumns.
func ScanCards(rows Rows) ([]Card, error) {
	var cards []Card
	for rows.Next() {
		c, err := ScanCard(rows)
		if err != nil {
			return nil, err
		}
		cards = append(cards, c)
	}
	return cards, rows.Err()
}

// ScanAuditLog calls fn for every audit record of rows of AuditColumns,
// stopping at fn's first error.
func ScanAuditLog(rows Rows, fn func(a *AuditRecord) error) error {
	for rows.Next() {
		a, err := ScanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(&a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ParseState parses a state's name. Kind Invalid.
func ParseState(s string) (State, error) {
	for _, st := range States {
		if st.String() == s {
			return st, nil
		}
	}
	return 0, citycard.E("cms.ParseState", citycard.Invalid, "card state %q", s)
}

// AuditColumns, AuditArgs and ScanAudit are the stores' spelling of an
// audit record, as CardColumns is of a card: the hash in hex.
const AuditColumns = "seq, at_ns, actor, service_point, subject, action, before, after, hash"

// AuditArgs returns a's values in AuditColumns' order.
func AuditArgs(a *AuditRecord) []any {
	return []any{a.Seq, a.At.UnixNano(), a.Actor, a.ServicePoint, a.Subject, a.Action, a.Before, a.After, hex.EncodeToString(a.Hash[:])}
}

// ScanAudit reads an audit record from a row of AuditColumns. Kind
// Invalid for a hash that is not 64 hex digits.
func ScanAudit(row Scanner) (AuditRecord, error) {
	var a AuditRecord
	var at int64
	var h string
	if err := row.Scan(&a.Seq, &at, &a.Actor, &a.ServicePoint, &a.Subject, &a.Action, &a.Before, &a.After, &h); err != nil {
		return AuditRecord{}, err
	}
	a.At = time.Unix(0, at).UTC()
	var err error
	if a.Hash, err = ParseHash(h); err != nil {
		return AuditRecord{}, citycard.E("cms.ScanAudit", citycard.Invalid, "audit record %d: %w", a.Seq, err)
	}
	return a, nil
}

// ParseHash parses a hash as the stores write it: 64 hex digits. Kind
// Invalid.
func ParseHash(s string) ([32]byte, error) {
	var h [32]byte
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return h, citycard.E("cms.ParseHash", citycard.Invalid, "hash %q: want 64 hex digits", s)
	}
	hex.Decode(h[:], []byte(s))
	return h, nil
}

// ScanProtected reads a protected cardholder from a row of id, lookup
// (hex), ciphertext. Kind Invalid for a look-up that is not 64 hex
// digits.
func ScanProtected(row Scanner) (Protected, error) {
	var p Protected
	var lookup string
	if err := row.Scan(&p.HolderID, &lookup, &p.Ciphertext); err != nil {
		return Protected{}, err
	}
	var err error
	if p.Lookup, err = ParseHash(lookup); err != nil {
		return Protected{}, citycard.E("cms.ScanProtected", citycard.Invalid, "cardholder %d: look-up: %w", p.HolderID, err)
	}
	return p, nil
}

// FlowColumns, FlowArgs and ScanFlows are the stores' spelling of a
// booking's flows: the operation's key, the flow's place in it, the card
// (its issuer and ASN), the flow's type by name and the amount.
const FlowColumns = "op_key, n, issuer, asn, flow_type, fen"

// FlowArgs returns the values of flow n of b in FlowColumns' order.
func FlowArgs(b *Booking, n int) []any {
	f := b.Flows[n]
	return []any{b.Key, n, f.Issuer.String(), ASNHex(f.Card), f.Type.String(), f.Fen}
}

// ScanFlows reads the flows of rows of issuer, asn, flow_type, fen.
func ScanFlows(rows Rows) ([]Flow, error) {
	const op = "cms.ScanFlows"
	var l []Flow
	for rows.Next() {
		var f Flow
		var issuer, asn, typ string
		if err := rows.Scan(&issuer, &asn, &typ, &f.Fen); err != nil {
			return nil, err
		}
		var err error
		if f.Issuer, err = citycard.ParseIssuerCode(issuer); err != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, err)
		}
		if f.Card, err = citycard.ParseASN(asn); err != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, err)
		}
		if f.Type, err = ParseFlowType(typ); err != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, err)
		}
		l = append(l, f)
	}
	return l, rows.Err()
}

// FlowTotalsQuery is the stores' query of FlowTotals, read by
// ScanFlowTotals.
const FlowTotalsQuery = `SELECT flow_type, SUM(fen) FROM cms_flows GROUP BY flow_type`

// ScanFlowTotals reads rows of flow type and sum.
func ScanFlowTotals(rows Rows) (map[FlowType]int64, error) {
	m := map[FlowType]int64{}
	for rows.Next() {
		var name string
		var fen int64
		if err := rows.Scan(&name, &fen); err != nil {
			return nil, err
		}
		t, err := ParseFlowType(name)
		if err != nil {
			return nil, err
		}
		m[t] = fen
	}
	return m, rows.Err()
}

// ProductFlowTotalsQuery is the stores' query of ProductFlowTotals,
// read by ScanProductFlowTotals.
const ProductFlowTotalsQuery = `SELECT COALESCE(c.product, ''), f.flow_type, SUM(f.fen) FROM cms_flows f LEFT JOIN cms_cards c ON c.issuer = f.issuer AND c.asn = f.asn GROUP BY 1, 2`

// ScanProductFlowTotals reads rows of product, flow type and sum.
func ScanProductFlowTotals(rows Rows) (map[string]map[FlowType]int64, error) {
	m := map[string]map[FlowType]int64{}
	for rows.Next() {
		var product, typ string
		var fen int64
		if err := rows.Scan(&product, &typ, &fen); err != nil {
			return nil, err
		}
		t, err := ParseFlowType(typ)
		if err != nil {
			return nil, citycard.Wrap("cms.ScanProductFlowTotals", citycard.Invalid, err)
		}
		if m[product] == nil {
			m[product] = map[FlowType]int64{}
		}
		m[product][t] = fen
	}
	return m, rows.Err()
}

// ScanCardProducts calls fn for rows of ASN (hex) and product.
func ScanCardProducts(rows Rows, fn func(asn citycard.ASN, product string) error) error {
	for rows.Next() {
		var asn, product string
		if err := rows.Scan(&asn, &product); err != nil {
			return err
		}
		a, err := citycard.ParseASN(asn)
		if err != nil {
			return citycard.Wrap("cms.ScanCardProducts", citycard.Invalid, err)
		}
		if err := fn(a, product); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LookupHex writes a look-up hash as the stores key it.
func LookupHex(h [32]byte) string { return hex.EncodeToString(h[:]) }

// LoadColumns, LoadArgs and ScanLoad are the stores' spelling of an online
// load, as CardColumns is of a card: times in Unix nanoseconds (0 for
// none), the terminal in hex, the status by name.
const LoadColumns = "key, issuer, asn, counter, amount_fen, balance_before_fen, terminal, key_version, alg, channel_type, channel_party, channel_ref, authorized_ns, status, settled_ns, settlement"

// LoadArgs returns l's values in LoadColumns' order.
func LoadArgs(l *OnlineLoad) []any {
	return []any{l.Key, l.Issuer.String(), ASNHex(l.ASN), int64(l.Counter), l.AmountFen, l.BalanceBeforeFen, l.Terminal.String(),
		int64(l.KeyVersion), int64(l.Alg), int64(l.Channel.Type), l.Channel.Party, l.Channel.Reference,
		nanos(l.AuthorizedAt), l.Status.String(), nanos(l.SettledAt), l.Settlement}
}

// ScanLoad reads an online load from a row of LoadColumns. Kind Invalid
// for a value the stores never write.
func ScanLoad(row Scanner) (OnlineLoad, error) {
	const op = "cms.ScanLoad"
	var l OnlineLoad
	var issuer, asn, term, status string
	var counter, version, alg, chType, authorized, settled int64
	if err := row.Scan(&l.Key, &issuer, &asn, &counter, &l.AmountFen, &l.BalanceBeforeFen, &term, &version, &alg,
		&chType, &l.Channel.Party, &l.Channel.Reference, &authorized, &status, &settled, &l.Settlement); err != nil {
		return OnlineLoad{}, err
	}
	var err error
	if l.Issuer, err = citycard.ParseIssuerCode(issuer); err != nil {
		return OnlineLoad{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if l.ASN, err = citycard.ParseASN(asn); err != nil {
		return OnlineLoad{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if l.Terminal, err = citycard.ParseTerminalID(term); err != nil {
		return OnlineLoad{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if l.Status, err = ParseLoadStatus(status); err != nil {
		return OnlineLoad{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if counter < 0 || counter > 0xFFFF || version < 0 || version > 0xFF || alg < 0 || alg > 0xFF || chType < 0 || chType > 0xFF {
		return OnlineLoad{}, citycard.E(op, citycard.Invalid, "load %s: counter %d, key version %d, algorithm %d, channel %d", l.Key, counter, version, alg, chType)
	}
	l.Counter, l.KeyVersion, l.Alg, l.Channel.Type = uint16(counter), uint8(version), keys.Alg(alg), ChannelType(chType)
	l.AuthorizedAt, l.SettledAt = fromNanos(authorized), fromNanos(settled)
	return l, nil
}

// ScanLoads reads every online load of rows of LoadColumns.
func ScanLoads(rows Rows) ([]OnlineLoad, error) {
	var out []OnlineLoad
	for rows.Next() {
		l, err := ScanLoad(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// IsRefusal reports whether err is an operation's own refusal, which a
// CommitBatch rolls back alone (kinds Conflict, Exists, NotFound,
// Invalid), rather than a fault of the whole transaction.
func IsRefusal(err error) bool {
	switch citycard.KindOf(err) {
	case citycard.Conflict, citycard.Exists, citycard.NotFound, citycard.Invalid:
		return true
	}
	return false
}

// CardsPageMax bounds a page of Store.CardsPage.
const CardsPageMax = 1000

// CheckCardsPage checks a page's limit for a store's CardsPage: kind
// Invalid out of 1 to CardsPageMax, errors in op's name.
func CheckCardsPage(op string, limit int) error {
	if limit < 1 || limit > CardsPageMax {
		return citycard.E(op, citycard.Invalid, "a page of %d cards: want 1 to %d", limit, CardsPageMax)
	}
	return nil
}

// CardsAfter returns the keys a store pages cards after, as it keeps
// them (the issuer's code and the ASN in upper-case hex): both empty for
// the zero card, so that the first page starts before every card.
func CardsAfter(issuer citycard.IssuerCode, asn citycard.ASN) (string, string) {
	if issuer == (citycard.IssuerCode{}) && asn == (citycard.ASN{}) {
		return "", ""
	}
	return issuer.String(), ASNHex(asn)
}

package ledger

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/citycard/citycard"
)

// The stores keep entries, postings and balances in the same
// representation (times as Unix nanoseconds, hashes as hex, accounts by
// name), so they share the decoding of rows and differ only in their SQL.

// Rows is a query result as the stores read it: database/sql's *Rows and
// pgx's Rows both have these methods.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// The columns ScanEntries, AddPostings and ScanBalances read, in order.
const (
	EntryColumns   = `seq, key, kind, source, product, count, memo, coalesce(reversal_of, 0), at_ns, input_hash, hash`
	PostingColumns = `entry_seq, account, amount_fen`
	BalanceColumns = `name, debits_fen, credits_fen, postings, last_seq`
)

// ScanEntries reads entry rows of EntryColumns, without their postings
// (AddPostings adds them). Scan's errors pass through; a stored value
// that does not parse is kind IO.
func ScanEntries(rows Rows) ([]Posted, error) {
	var out []Posted
	for rows.Next() {
		var (
			p             Posted
			kind          string
			product, atNs int64
			inHex, hHex   string
		)
		if err := rows.Scan(&p.Seq, &p.Key, &kind, &p.Source, &product, &p.Count, &p.Memo, &p.ReversalOf, &atNs, &inHex, &hHex); err != nil {
			return nil, err
		}
		if product < 0 || product > 0xFFFF {
			return nil, corrupt(fmt.Errorf("entry %d: product %d", p.Seq, product))
		}
		p.Type, p.Product = EntryType(kind), uint16(product)
		p.Time = time.Unix(0, atNs).UTC()
		if err := DecodeHash(&p.InputHash, inHex); err != nil {
			return nil, corrupt(err)
		}
		if err := DecodeHash(&p.Hash, hHex); err != nil {
			return nil, corrupt(err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// AddPostings reads posting rows of PostingColumns, ordered by entry and
// index, into entries (in Seq order). A posting of an entry not among
// entries is skipped. Errors as ScanEntries.
func AddPostings(rows Rows, entries []Posted) error {
	i := 0
	for rows.Next() {
		var (
			seq, amount int64
			name        string
		)
		if err := rows.Scan(&seq, &name, &amount); err != nil {
			return err
		}
		for i < len(entries) && entries[i].Seq < seq {
			i++
		}
		if i == len(entries) || entries[i].Seq != seq {
			continue
		}
		a, err := ParseAccount(name)
		if err != nil {
			return corrupt(err)
		}
		entries[i].Postings = append(entries[i].Postings, Posting{Account: a, AmountFen: amount})
	}
	return rows.Err()
}

// ScanBalances reads balance rows of BalanceColumns. Errors as ScanEntries.
func ScanBalances(rows Rows) ([]Balance, error) {
	var out []Balance
	for rows.Next() {
		var (
			b    Balance
			name string
		)
		if err := rows.Scan(&name, &b.DebitsFen, &b.CreditsFen, &b.Postings, &b.LastSeq); err != nil {
			return nil, err
		}
		var err error
		if b.Account, err = ParseAccount(name); err != nil {
			return nil, corrupt(err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// DecodeHash decodes a stored hash, 64 hex digits.
func DecodeHash(dst *[32]byte, s string) error {
	if len(s) != 64 {
		return fmt.Errorf("hash %q: want 64 hex digits", s)
	}
	_, err := hex.Decode(dst[:], []byte(s))
	return err
}

// corrupt marks a stored value that cannot be read back: kind IO.
func corrupt(err error) error {
	return citycard.E("ledger.Scan", citycard.IO, "corrupt row: %w", err)
}

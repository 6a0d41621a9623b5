package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
)

// Blacklist returns the blacklist's store (blacklist.Store).
func (db *DB) Blacklist() blacklist.Store { return blacklistStore{db} }

type blacklistStore struct{ db *DB }

// asnHex writes an ASN as its 20 hex digits, 8-byte ASNs with their two
// leading zero bytes: one spelling per card.
func asnHex(a citycard.ASN) string { return strings.ToUpper(hex.EncodeToString(a[:])) }

func (s blacklistStore) AppendChange(ctx context.Context, c blacklist.Change) error {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO blacklist_changes (version, issuer, asn, added, reason, by_whom, at_ns) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.Version, c.Card.Issuer.String(), asnHex(c.Card.ASN), c.Added, c.Reason, c.By, c.At.UnixNano())
		return err
	})
	return mapErr("sqlite.Blacklist.AppendChange", err)
}

func (s blacklistStore) Changes(ctx context.Context, fn func(c blacklist.Change) error) error {
	const op = "sqlite.Blacklist.Changes"
	rows, err := s.db.r.QueryContext(ctx, `SELECT version, issuer, asn, added, reason, by_whom, at_ns FROM blacklist_changes ORDER BY version`)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, blacklist.ScanChanges(rows, fn))
}

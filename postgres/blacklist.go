package postgres

import (
	"context"
	"encoding/hex"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
)

// Blacklist returns the blacklist's store (blacklist.Store).
func (db *DB) Blacklist() blacklist.Store { return blacklistStore{db} }

type blacklistStore struct{ db *DB }

// asnHex writes an ASN as its 20 hex digits: one spelling per card.
func asnHex(a citycard.ASN) string { return strings.ToUpper(hex.EncodeToString(a[:])) }

func (s blacklistStore) AppendChange(ctx context.Context, c blacklist.Change) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO blacklist_changes (version, issuer, asn, added, reason, by_whom, at_ns) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.Version, c.Card.Issuer.String(), asnHex(c.Card.ASN), c.Added, c.Reason, c.By, c.At.UnixNano())
	return mapErr("postgres.Blacklist.AppendChange", err)
}

func (s blacklistStore) Changes(ctx context.Context, fn func(c blacklist.Change) error) error {
	const op = "postgres.Blacklist.Changes"
	rows, err := s.db.pool.Query(ctx, `SELECT version, issuer, asn, added, reason, by_whom, at_ns FROM blacklist_changes ORDER BY version`)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, blacklist.ScanChanges(rows, fn))
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// CMS returns card management's store (cms.Store).
func (db *DB) CMS() cms.Store { return cmsStore{db} }

type cmsStore struct{ db *DB }

// cardInsert and cardUpdate write every column of a card; the update
// over the version the card was read at.
var cardInsert, cardUpdate = func() (string, string) {
	cols := strings.Split(cms.CardColumns, ", ")
	var vals, sets []string
	for i, c := range cols {
		vals = append(vals, fmt.Sprintf("$%d", i+1))
		if i >= 2 {
			sets = append(sets, fmt.Sprintf("%s = $%d", c, i+1))
		}
	}
	n := len(cols)
	return "INSERT INTO cms_cards (" + cms.CardColumns + ") VALUES (" + strings.Join(vals, ", ") + ")",
		"UPDATE cms_cards SET " + strings.Join(sets, ", ") + fmt.Sprintf(" WHERE issuer = $1 AND asn = $2 AND version = $%d", n+1)
}()

// write runs fn in a transaction that holds the audit log's lock: card
// management's writes are serialized, so that each chains its audit
// record after the one before, and a new cardholder takes the ID after
// the last (as on SQLite: a sequence would lose the numbers of refused
// registrations).
func (s cmsStore) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE cms_audit IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		return fn(tx)
	})
}

// appendAudit chains a after the log's last record and inserts it, in the
// caller's transaction.
func appendAudit(ctx context.Context, tx pgx.Tx, a *cms.AuditRecord) error {
	var prev cms.AuditRecord
	var hash string
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM cms_audit ORDER BY seq DESC LIMIT 1`).Scan(&prev.Seq, &hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return err
	default:
		if prev.Hash, err = cms.ParseHash(hash); err != nil {
			return err
		}
	}
	a.Chain(&prev)
	_, err = tx.Exec(ctx, `INSERT INTO cms_audit (`+cms.AuditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, cms.AuditArgs(a)...)
	return err
}

func (s cmsStore) CreateHolder(ctx context.Context, build func(id int64) (cms.Protected, *cms.AuditRecord, error)) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) + 1 FROM cms_holders`).Scan(&id); err != nil {
			return err
		}
		p, a, err := build(id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cms_holders (id, lookup, ciphertext) VALUES ($1, $2, $3)`, id, cms.LookupHex(p.Lookup), p.Ciphertext); err != nil {
			return err
		}
		return appendAudit(ctx, tx, a)
	})
	if err != nil {
		return 0, mapErr("postgres.CMS.CreateHolder", err)
	}
	return id, nil
}

func (s cmsStore) UpdateHolder(ctx context.Context, p cms.Protected, a *cms.AuditRecord) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE cms_holders SET lookup = $1, ciphertext = $2 WHERE id = $3`, cms.LookupHex(p.Lookup), p.Ciphertext, p.HolderID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return citycard.E("postgres.CMS.UpdateHolder", citycard.NotFound, "no cardholder %d", p.HolderID)
		}
		return appendAudit(ctx, tx, a)
	})
	return mapErr("postgres.CMS.UpdateHolder", err)
}

func (s cmsStore) Holder(ctx context.Context, id int64) (cms.Protected, error) {
	p, err := cms.ScanProtected(s.db.pool.QueryRow(ctx, `SELECT id, lookup, ciphertext FROM cms_holders WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, citycard.E("postgres.CMS.Holder", citycard.NotFound, "no cardholder %d", id)
	}
	return p, mapErr("postgres.CMS.Holder", err)
}

func (s cmsStore) HolderByLookup(ctx context.Context, lookup [32]byte) (cms.Protected, error) {
	p, err := cms.ScanProtected(s.db.pool.QueryRow(ctx, `SELECT id, lookup, ciphertext FROM cms_holders WHERE lookup = $1`, cms.LookupHex(lookup)))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, citycard.E("postgres.CMS.HolderByLookup", citycard.NotFound, "no cardholder of that document")
	}
	return p, mapErr("postgres.CMS.HolderByLookup", err)
}

func (s cmsStore) CreateCard(ctx context.Context, c *cms.Card, a *cms.AuditRecord) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, cardInsert, cms.CardArgs(c)...); err != nil {
			return err
		}
		return appendAudit(ctx, tx, a)
	})
	return mapErr("postgres.CMS.CreateCard", err)
}

func (s cmsStore) UpdateCard(ctx context.Context, c *cms.Card, a *cms.AuditRecord) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := updateCard(ctx, tx, c); err != nil {
			return err
		}
		return appendAudit(ctx, tx, a)
	})
	return mapErr("postgres.CMS.UpdateCard", err)
}

// updateCard writes c over the stored card at version c.Version-1.
func updateCard(ctx context.Context, tx pgx.Tx, c *cms.Card) error {
	const op = "postgres.CMS.UpdateCard"
	args := cms.CardArgs(c)
	tag, err := tx.Exec(ctx, cardUpdate, append(args, c.Version-1)...)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	var version int64
	err = tx.QueryRow(ctx, `SELECT version FROM cms_cards WHERE issuer = $1 AND asn = $2`, args[0], args[1]).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return citycard.E(op, citycard.NotFound, "no card %v", c)
	}
	if err != nil {
		return err
	}
	return citycard.E(op, citycard.Conflict, "card %v is at version %d, not %d: another move came first", c, version, c.Version-1)
}

func (s cmsStore) Commit(ctx context.Context, op *cms.Operation) (bool, error) {
	var replayed bool
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		replayed, err = commitOp(ctx, s.db, tx, op)
		return err
	})
	return replayed, mapErr("postgres.CMS.Commit", err)
}

// CommitBatch commits ops in one transaction (cms.RetryBatch: an op
// refused for its own reason is left out and the rest tried again).
func (s cmsStore) CommitBatch(ctx context.Context, ops []*cms.Operation) ([]cms.CommitResult, error) {
	const op = "postgres.CMS.CommitBatch"
	return cms.RetryBatch(len(ops), func(live []int, replayed []bool) (int, error) {
		refused := -1
		err := s.write(ctx, func(tx pgx.Tx) error {
			for _, i := range live {
				r, err := commitOp(ctx, s.db, tx, ops[i])
				if err != nil {
					if err = mapErr(op, err); cms.IsRefusal(err) {
						refused = i
					}
					return err
				}
				replayed[i] = r
			}
			return nil
		})
		return refused, mapErr(op, err)
	})
}

// commitOp writes one operation in tx (Store.Commit's contract).
func commitOp(ctx context.Context, db *DB, tx pgx.Tx, op *cms.Operation) (bool, error) {
	if b := op.Booking; b != nil {
		var hash string
		err := tx.QueryRow(ctx, `SELECT input_hash FROM cms_operations WHERE key = $1`, b.Key).Scan(&hash)
		switch {
		case err == nil:
			if hash != cms.LookupHex(b.InputHash) {
				return false, citycard.E("postgres.CMS.Commit", citycard.Conflict, "idempotency key %q was used for another operation", b.Key)
			}
			return true, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return false, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cms_operations (key, input_hash, at_ns) VALUES ($1, $2, $3)`, b.Key, cms.LookupHex(b.InputHash), op.At.UnixNano()); err != nil {
			return false, err
		}
		for i := range b.Flows {
			if _, err := tx.Exec(ctx, `INSERT INTO cms_flows (`+cms.FlowColumns+`) VALUES ($1, $2, $3, $4, $5)`, cms.FlowArgs(b, i)...); err != nil {
				return false, err
			}
		}
		if len(b.Entries) > 0 {
			if _, err := db.ledger.append(ctx, tx, op.At.UTC(), b.Entries); err != nil {
				return false, err
			}
		}
		if err := writeChannelMove(ctx, tx, op); err != nil {
			return false, err
		}
	}
	for _, c := range op.NewCards {
		if _, err := tx.Exec(ctx, cardInsert, cms.CardArgs(c)...); err != nil {
			return false, err
		}
	}
	for _, c := range op.Cards {
		if err := updateCard(ctx, tx, c); err != nil {
			return false, err
		}
	}
	for _, l := range op.Loads {
		if err := writeLoad(ctx, tx, l); err != nil {
			return false, err
		}
	}
	return false, appendAudit(ctx, tx, op.Audit)
}

// loadInsert writes every column of an online load.
var loadInsert = func() string {
	n := len(strings.Split(cms.LoadColumns, ", "))
	vals := make([]string, n)
	for i := range vals {
		vals[i] = fmt.Sprintf("$%d", i+1)
	}
	return "INSERT INTO cms_loads (" + cms.LoadColumns + ") VALUES (" + strings.Join(vals, ", ") + ")"
}()

// writeLoad inserts a new (unconfirmed) online load, or settles one over
// its unconfirmed row.
func writeLoad(ctx context.Context, tx pgx.Tx, l *cms.OnlineLoad) error {
	if l.Status == cms.LoadUnconfirmed {
		_, err := tx.Exec(ctx, loadInsert, cms.LoadArgs(l)...)
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE cms_loads SET status = $1, settled_ns = $2, settlement = $3 WHERE key = $4 AND (status = 'unconfirmed' OR (status = 'reversed' AND $1 = 'confirmed'))`,
		l.Status.String(), l.SettledAt.UnixNano(), l.Settlement, l.Key)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	return citycard.E("postgres.CMS.Commit", citycard.Conflict, "load %s is settled already (only a reversed one is confirmed by a late TAC), or was never authorized", l.Key)
}

func (s cmsStore) OnlineLoad(ctx context.Context, key string) (cms.OnlineLoad, error) {
	l, err := cms.ScanLoad(s.db.pool.QueryRow(ctx, `SELECT `+cms.LoadColumns+` FROM cms_loads WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, citycard.E("postgres.CMS.OnlineLoad", citycard.NotFound, "no online load %q", key)
	}
	return l, mapErr("postgres.CMS.OnlineLoad", err)
}

func (s cmsStore) OpenLoad(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (cms.OnlineLoad, error) {
	l, err := cms.ScanLoad(s.db.pool.QueryRow(ctx, `SELECT `+cms.LoadColumns+` FROM cms_loads WHERE issuer = $1 AND asn = $2 AND status = 'unconfirmed' ORDER BY authorized_ns DESC LIMIT 1`,
		issuer.String(), cms.ASNHex(asn)))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, citycard.E("postgres.CMS.OpenLoad", citycard.NotFound, "card %v/%v has no unconfirmed load", issuer, asn)
	}
	return l, mapErr("postgres.CMS.OpenLoad", err)
}

func (s cmsStore) LoadedFen(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, from, to time.Time) (int64, error) {
	var fen int64
	err := s.db.pool.QueryRow(ctx, `SELECT coalesce(sum(amount_fen), 0)::BIGINT FROM cms_loads WHERE issuer = $1 AND asn = $2 AND authorized_ns >= $3 AND authorized_ns < $4 AND status <> 'reversed'`,
		issuer.String(), cms.ASNHex(asn), from.UnixNano(), to.UnixNano()).Scan(&fen)
	return fen, mapErr("postgres.CMS.LoadedFen", err)
}

func (s cmsStore) UnconfirmedLoads(ctx context.Context, after string, limit int) ([]cms.OnlineLoad, error) {
	const op = "postgres.CMS.UnconfirmedLoads"
	rows, err := s.db.pool.Query(ctx, `SELECT `+cms.LoadColumns+` FROM cms_loads WHERE status = 'unconfirmed' AND key > $1 ORDER BY key COLLATE "C" LIMIT $2`, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanLoads(rows)
	return l, mapErr(op, err)
}

func (s cmsStore) OperationHash(ctx context.Context, key string) ([32]byte, error) {
	const op = "postgres.CMS.OperationHash"
	var hash string
	err := s.db.pool.QueryRow(ctx, `SELECT input_hash FROM cms_operations WHERE key = $1`, key).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return [32]byte{}, citycard.E(op, citycard.NotFound, "no operation %q", key)
	}
	if err != nil {
		return [32]byte{}, mapErr(op, err)
	}
	h, err := cms.ParseHash(hash)
	return h, mapErr(op, err)
}

func (s cmsStore) Flows(ctx context.Context, asn citycard.ASN) ([]cms.Flow, error) {
	const op = "postgres.CMS.Flows"
	rows, err := s.db.pool.Query(ctx, `SELECT asn, flow_type, fen FROM cms_flows WHERE asn = $1 ORDER BY seq`, cms.ASNHex(asn))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	flows, err := cms.ScanFlows(rows)
	return flows, mapErr(op, err)
}

func (s cmsStore) FlowTotals(ctx context.Context) (map[cms.FlowType]int64, error) {
	const op = "postgres.CMS.FlowTotals"
	rows, err := s.db.pool.Query(ctx, `SELECT flow_type, SUM(fen)::bigint FROM cms_flows GROUP BY flow_type`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	m := map[cms.FlowType]int64{}
	for rows.Next() {
		var name string
		var fen int64
		if err := rows.Scan(&name, &fen); err != nil {
			return nil, mapErr(op, err)
		}
		t, err := cms.ParseFlowType(name)
		if err != nil {
			return nil, err
		}
		m[t] = fen
	}
	return m, mapErr(op, rows.Err())
}

func (s cmsStore) Card(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (cms.Card, error) {
	c, err := cms.ScanCard(s.db.pool.QueryRow(ctx, `SELECT `+cms.CardColumns+` FROM cms_cards WHERE issuer = $1 AND asn = $2`, issuer.String(), cms.ASNHex(asn)))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, citycard.E("postgres.CMS.Card", citycard.NotFound, "no card %v/%v", issuer, asn)
	}
	return c, mapErr("postgres.CMS.Card", err)
}

func (s cmsStore) CardsOf(ctx context.Context, holder int64) ([]cms.Card, error) {
	const op = "postgres.CMS.CardsOf"
	rows, err := s.db.pool.Query(ctx, `SELECT `+cms.CardColumns+` FROM cms_cards WHERE holder = $1 ORDER BY issuer, asn`, holder)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	cards, err := cms.ScanCards(rows)
	return cards, mapErr(op, err)
}

func (s cmsStore) AuditLog(ctx context.Context, after int64, fn func(a *cms.AuditRecord) error) error {
	const op = "postgres.CMS.AuditLog"
	rows, err := s.db.pool.Query(ctx, `SELECT `+cms.AuditColumns+` FROM cms_audit WHERE seq > $1 ORDER BY seq`, after)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, cms.ScanAuditLog(rows, fn))
}

package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
)

// CMS returns card management's store (cms.Store).
func (db *DB) CMS() cms.Store { return cmsStore{db} }

type cmsStore struct{ db *DB }

// cardUpdate sets every column of a card but its key, over the version
// it was read at.
var cardUpdate = func() string {
	cols := strings.Split(cms.CardColumns, ", ")[2:]
	return "UPDATE cms_cards SET " + strings.Join(cols, " = ?, ") + " = ? WHERE issuer = ? AND asn = ? AND version = ?"
}()

// The writer's statements of a money operation, prepared at Open
// (DB.prepareWriter).
const (
	qAuditHead   = `SELECT seq, hash FROM cms_audit ORDER BY seq DESC LIMIT 1`
	qAuditInsert = `INSERT INTO cms_audit (` + cms.AuditColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qOpHash      = `SELECT input_hash FROM cms_operations WHERE key = ?`
	qOpInsert    = `INSERT INTO cms_operations (key, input_hash, at_ns, answer) VALUES (?, ?, ?, ?)`
	qFlowInsert  = `INSERT INTO cms_flows (` + cms.FlowColumns + `) VALUES (?, ?, ?, ?, ?, ?)`
	qLoadInsert  = `INSERT INTO cms_loads (` + cms.LoadColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qLoadSettle  = `UPDATE cms_loads SET status = ?, settled_ns = ?, settlement = ? WHERE key = ? AND (status = 'unconfirmed' OR (status = 'reversed' AND ? = 'confirmed'))`
)

var cmsWriterQueries = []string{qAuditHead, qAuditInsert, qOpHash, qOpInsert, qFlowInsert, qLoadInsert, qLoadSettle, cardUpdate, qChannelMoveInsert}

// appendAudit chains a after the log's last record and inserts it, in the
// caller's transaction (the single writer serializes the chain).
func appendAudit(ctx context.Context, db *DB, tx *sql.Tx, a *cms.AuditRecord) error {
	var head *cms.AuditRecord
	return chainAudit(ctx, db, tx, a, &head)
}

// chainAudit is appendAudit with the chain's head kept in *head, read
// from the log the first time (nil), so that a batch reads it once.
func chainAudit(ctx context.Context, db *DB, tx *sql.Tx, a *cms.AuditRecord, head **cms.AuditRecord) error {
	if *head == nil {
		prev := &cms.AuditRecord{}
		var hash string
		err := db.txRow(ctx, tx, qAuditHead, func(r *sql.Row) error { return r.Scan(&prev.Seq, &hash) })
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return err
		default:
			if prev.Hash, err = cms.ParseHash(hash); err != nil {
				return err
			}
		}
		*head = prev
	}
	a.Chain(*head)
	if _, err := db.txExec(ctx, tx, qAuditInsert, cms.AuditArgs(a)...); err != nil {
		return err
	}
	*head = a
	return nil
}

func (s cmsStore) CreateHolder(ctx context.Context, build func(id int64) (cms.Protected, *cms.AuditRecord, error)) (int64, error) {
	var id int64
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM cms_holders`).Scan(&id); err != nil {
			return err
		}
		p, a, err := build(id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cms_holders (id, lookup, ciphertext) VALUES (?, ?, ?)`, id, cms.LookupHex(p.Lookup), p.Ciphertext); err != nil {
			return err
		}
		return appendAudit(ctx, s.db, tx, a)
	})
	if err != nil {
		return 0, mapErr("sqlite.CMS.CreateHolder", err)
	}
	return id, nil
}

func (s cmsStore) UpdateHolder(ctx context.Context, p cms.Protected, a *cms.AuditRecord) error {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE cms_holders SET lookup = ?, ciphertext = ? WHERE id = ?`, cms.LookupHex(p.Lookup), p.Ciphertext, p.HolderID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return citycard.E("sqlite.CMS.UpdateHolder", citycard.NotFound, "no cardholder %d", p.HolderID)
		}
		return appendAudit(ctx, s.db, tx, a)
	})
	return mapErr("sqlite.CMS.UpdateHolder", err)
}

func (s cmsStore) Holder(ctx context.Context, id int64) (cms.Protected, error) {
	p, err := cms.ScanProtected(s.db.r.QueryRowContext(ctx, `SELECT id, lookup, ciphertext FROM cms_holders WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return p, citycard.E("sqlite.CMS.Holder", citycard.NotFound, "no cardholder %d", id)
	}
	return p, mapErr("sqlite.CMS.Holder", err)
}

func (s cmsStore) HolderByLookup(ctx context.Context, lookup [32]byte) (cms.Protected, error) {
	p, err := cms.ScanProtected(s.db.r.QueryRowContext(ctx, `SELECT id, lookup, ciphertext FROM cms_holders WHERE lookup = ?`, cms.LookupHex(lookup)))
	if err == sql.ErrNoRows {
		return p, citycard.E("sqlite.CMS.HolderByLookup", citycard.NotFound, "no cardholder of that document")
	}
	return p, mapErr("sqlite.CMS.HolderByLookup", err)
}

func (s cmsStore) CreateCard(ctx context.Context, c *cms.Card, a *cms.AuditRecord) error {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if err := createCard(ctx, tx, c); err != nil {
			return err
		}
		return appendAudit(ctx, s.db, tx, a)
	})
	return mapErr("sqlite.CMS.CreateCard", err)
}

func createCard(ctx context.Context, tx *sql.Tx, c *cms.Card) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cms_cards (`+cms.CardColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, cms.CardArgs(c)...)
	return err
}

func (s cmsStore) UpdateCard(ctx context.Context, c *cms.Card, a *cms.AuditRecord) error {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if err := updateCard(ctx, s.db, tx, c); err != nil {
			return err
		}
		return appendAudit(ctx, s.db, tx, a)
	})
	return mapErr("sqlite.CMS.UpdateCard", err)
}

// updateCard writes c over the stored card at version c.Version-1.
func updateCard(ctx context.Context, db *DB, tx *sql.Tx, c *cms.Card) error {
	const op = "sqlite.CMS.UpdateCard"
	args := cms.CardArgs(c)
	args = append(args[2:], args[0], args[1], c.Version-1)
	res, err := db.txExec(ctx, tx, cardUpdate, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 1 {
		return err
	}
	var version int64
	err = tx.QueryRowContext(ctx, `SELECT version FROM cms_cards WHERE issuer = ? AND asn = ?`, args[len(args)-3], args[len(args)-2]).Scan(&version)
	if err == sql.ErrNoRows {
		return citycard.E(op, citycard.NotFound, "no card %v", c)
	}
	if err != nil {
		return err
	}
	return citycard.E(op, citycard.Conflict, "card %v is at version %d, not %d: another move came first", c, version, c.Version-1)
}

func (s cmsStore) Commit(ctx context.Context, op *cms.Operation) (bool, error) {
	var replayed bool
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		var head *cms.AuditRecord
		lt := s.db.ledger.begin(ctx, tx)
		var err error
		if replayed, err = commitOp(ctx, s.db, tx, lt, op, 0, &head); err != nil {
			return err
		}
		_, err = lt.write()
		return err
	})
	return replayed, mapErr("sqlite.CMS.Commit", err)
}

// CommitBatch commits ops in one transaction (cms.RetryBatch: an op
// refused for its own reason is left out and the rest tried again). The
// audit chain's head and the ledger's are read once and kept in the
// transaction, and the ledger's entries are written last, each account's
// balance once (ledgerTx).
func (s cmsStore) CommitBatch(ctx context.Context, ops []*cms.Operation) ([]cms.CommitResult, error) {
	const op = "sqlite.CMS.CommitBatch"
	return cms.RetryBatch(len(ops), func(live []int, replayed []bool) (int, error) {
		refused := -1
		err := s.db.write(ctx, func(tx *sql.Tx) error {
			var head *cms.AuditRecord
			lt := s.db.ledger.begin(ctx, tx)
			for _, i := range live {
				r, err := commitOp(ctx, s.db, tx, lt, ops[i], i, &head)
				if err != nil {
					if err = mapErr(op, err); cms.IsRefusal(err) {
						refused = i
					}
					return err
				}
				replayed[i] = r
			}
			i, err := lt.write()
			if err = mapErr(op, err); i >= 0 && cms.IsRefusal(err) {
				refused = i
			}
			return err
		})
		return refused, mapErr(op, err)
	})
}

// commitOp writes one operation in tx (Store.Commit's contract), its
// ledger entries linked in lt (tagged with its position i), for the
// caller to write. head is the audit chain's last record in tx, nil
// until read.
func commitOp(ctx context.Context, db *DB, tx *sql.Tx, lt *ledgerTx, op *cms.Operation, i int, head **cms.AuditRecord) (bool, error) {
	if b := op.Booking; b != nil {
		// The key first: a replay or a reused key is found by the insert
		// that fails, as keys are almost always new.
		_, err := db.txExec(ctx, tx, qOpInsert, b.Key, cms.LookupHex(b.InputHash), op.At.UnixNano(), b.Answer)
		if err != nil {
			if !citycard.IsKind(mapErr("", err), citycard.Exists) {
				return false, err
			}
			var hash string
			if err := db.txRow(ctx, tx, qOpHash, func(r *sql.Row) error { return r.Scan(&hash) }, b.Key); err != nil {
				return false, err
			}
			if hash != cms.LookupHex(b.InputHash) {
				return false, citycard.E("sqlite.CMS.Commit", citycard.Conflict, "idempotency key %q was used for another operation", b.Key)
			}
			return true, nil
		}
		for k := range b.Flows {
			if _, err := db.txExec(ctx, tx, qFlowInsert, cms.FlowArgs(b, k)...); err != nil {
				return false, err
			}
		}
		if len(b.Entries) > 0 {
			if _, err := lt.link(op.At.UTC(), b.Entries, i); err != nil {
				return false, err
			}
		}
		if err := writeChannelMove(ctx, db, tx, op); err != nil {
			return false, err
		}
	}
	for _, c := range op.NewCards {
		if err := createCard(ctx, tx, c); err != nil {
			return false, err
		}
	}
	for _, c := range op.Cards {
		if err := updateCard(ctx, db, tx, c); err != nil {
			return false, err
		}
	}
	for _, l := range op.Loads {
		if err := writeLoad(ctx, db, tx, l); err != nil {
			return false, err
		}
	}
	return false, chainAudit(ctx, db, tx, op.Audit, head)
}

// writeLoad inserts a new (unconfirmed) online load, or settles one over
// its unconfirmed row.
func writeLoad(ctx context.Context, db *DB, tx *sql.Tx, l *cms.OnlineLoad) error {
	if l.Status == cms.LoadUnconfirmed {
		_, err := db.txExec(ctx, tx, qLoadInsert, cms.LoadArgs(l)...)
		return err
	}
	res, err := db.txExec(ctx, tx, qLoadSettle,
		l.Status.String(), l.SettledAt.UnixNano(), l.Settlement, l.Key, l.Status.String())
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 1 {
		return err
	}
	return citycard.E("sqlite.CMS.Commit", citycard.Conflict, "load %s is settled already (only a reversed one is confirmed by a late TAC), or was never authorized", l.Key)
}

func (s cmsStore) OnlineLoad(ctx context.Context, key string) (cms.OnlineLoad, error) {
	var l cms.OnlineLoad
	err := s.db.readRow(ctx, `SELECT `+cms.LoadColumns+` FROM cms_loads WHERE key = ?`, func(r *sql.Row) (err error) { l, err = cms.ScanLoad(r); return err }, key)
	if err == sql.ErrNoRows {
		return l, citycard.E("sqlite.CMS.OnlineLoad", citycard.NotFound, "no online load %q", key)
	}
	return l, mapErr("sqlite.CMS.OnlineLoad", err)
}

func (s cmsStore) OpenLoad(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (cms.OnlineLoad, error) {
	var l cms.OnlineLoad
	err := s.db.readRow(ctx, `SELECT `+cms.LoadColumns+` FROM cms_loads WHERE issuer = ? AND asn = ? AND status = 'unconfirmed' ORDER BY authorized_ns DESC LIMIT 1`,
		func(r *sql.Row) (err error) { l, err = cms.ScanLoad(r); return err }, issuer.String(), cms.ASNHex(asn))
	if err == sql.ErrNoRows {
		return l, citycard.E("sqlite.CMS.OpenLoad", citycard.NotFound, "card %v/%v has no unconfirmed load", issuer, asn)
	}
	return l, mapErr("sqlite.CMS.OpenLoad", err)
}

func (s cmsStore) LoadedFen(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, from, to time.Time) (int64, error) {
	var fen int64
	err := s.db.readRow(ctx, `SELECT coalesce(sum(amount_fen), 0) FROM cms_loads WHERE issuer = ? AND asn = ? AND authorized_ns >= ? AND authorized_ns < ? AND status <> 'reversed'`,
		func(r *sql.Row) error { return r.Scan(&fen) }, issuer.String(), cms.ASNHex(asn), from.UnixNano(), to.UnixNano())
	return fen, mapErr("sqlite.CMS.LoadedFen", err)
}

func (s cmsStore) UnconfirmedLoads(ctx context.Context, after string, limit int) ([]cms.OnlineLoad, error) {
	const op = "sqlite.CMS.UnconfirmedLoads"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+cms.LoadColumns+` FROM cms_loads WHERE status = 'unconfirmed' AND key > ? ORDER BY key LIMIT ?`, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanLoads(rows)
	return l, mapErr(op, err)
}

// LedgerEntry reads the ledger entry of key (cms.Store.LedgerEntry).
func (s cmsStore) LedgerEntry(ctx context.Context, key string) (ledger.Posted, error) {
	return s.db.ledger.EntryByKey(ctx, key)
}

func (s cmsStore) OperationHash(ctx context.Context, key string) ([32]byte, error) {
	const op = "sqlite.CMS.OperationHash"
	var hash string
	err := s.db.readRow(ctx, `SELECT input_hash FROM cms_operations WHERE key = ?`, func(r *sql.Row) error { return r.Scan(&hash) }, key)
	if err == sql.ErrNoRows {
		return [32]byte{}, citycard.E(op, citycard.NotFound, "no operation %q", key)
	}
	if err != nil {
		return [32]byte{}, mapErr(op, err)
	}
	h, err := cms.ParseHash(hash)
	return h, mapErr(op, err)
}

func (s cmsStore) OperationAnswer(ctx context.Context, key string) (string, error) {
	const op = "sqlite.CMS.OperationAnswer"
	var answer string
	err := s.db.readRow(ctx, `SELECT answer FROM cms_operations WHERE key = ?`, func(r *sql.Row) error { return r.Scan(&answer) }, key)
	if err == sql.ErrNoRows {
		return "", citycard.E(op, citycard.NotFound, "no operation %q", key)
	}
	return answer, mapErr(op, err)
}

func (s cmsStore) Flows(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]cms.Flow, error) {
	const op = "sqlite.CMS.Flows"
	rows, err := s.db.r.QueryContext(ctx, `SELECT issuer, asn, flow_type, fen FROM cms_flows WHERE issuer = ? AND asn = ? ORDER BY seq`, issuer.String(), cms.ASNHex(asn))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	flows, err := cms.ScanFlows(rows)
	return flows, mapErr(op, err)
}

func (s cmsStore) FlowTotals(ctx context.Context) (map[cms.FlowType]int64, error) {
	const op = "sqlite.CMS.FlowTotals"
	rows, err := s.db.r.QueryContext(ctx, cms.FlowTotalsQuery)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	m, err := cms.ScanFlowTotals(rows)
	return m, mapErr(op, err)
}

// ProductFlowTotals implements cms.Store.
func (s cmsStore) ProductFlowTotals(ctx context.Context) (map[string]map[cms.FlowType]int64, error) {
	const op = "sqlite.CMS.ProductFlowTotals"
	rows, err := s.db.r.QueryContext(ctx, cms.ProductFlowTotalsQuery)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	m, err := cms.ScanProductFlowTotals(rows)
	return m, mapErr(op, err)
}

// CardProducts implements cms.Store.
func (s cmsStore) CardProducts(ctx context.Context, fn func(asn citycard.ASN, product string) error) error {
	const op = "sqlite.CMS.CardProducts"
	rows, err := s.db.r.QueryContext(ctx, `SELECT asn, product FROM cms_cards`)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, cms.ScanCardProducts(rows, fn))
}

func (s cmsStore) Card(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (cms.Card, error) {
	var c cms.Card
	err := s.db.readRow(ctx, `SELECT `+cms.CardColumns+` FROM cms_cards WHERE issuer = ? AND asn = ?`, func(r *sql.Row) (err error) { c, err = cms.ScanCard(r); return err },
		issuer.String(), cms.ASNHex(asn))
	if err == sql.ErrNoRows {
		return c, citycard.E("sqlite.CMS.Card", citycard.NotFound, "no card %v/%v", issuer, asn)
	}
	return c, mapErr("sqlite.CMS.Card", err)
}

func (s cmsStore) CardsOf(ctx context.Context, holder int64) ([]cms.Card, error) {
	const op = "sqlite.CMS.CardsOf"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+cms.CardColumns+` FROM cms_cards WHERE holder = ? ORDER BY issuer, asn`, holder)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	cards, err := cms.ScanCards(rows)
	return cards, mapErr(op, err)
}

func (s cmsStore) CardsPage(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int) ([]cms.Card, error) {
	const op = "sqlite.CMS.CardsPage"
	if err := cms.CheckCardsPage(op, limit); err != nil {
		return nil, err
	}
	afterIssuer, afterASN := cms.CardsAfter(issuer, asn)
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+cms.CardColumns+` FROM cms_cards WHERE (issuer, asn) > (?, ?) ORDER BY issuer, asn LIMIT ?`,
		afterIssuer, afterASN, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	cards, err := cms.ScanCards(rows)
	return cards, mapErr(op, err)
}

func (s cmsStore) CardsExpired(ctx context.Context, before cms.Date, limit int) ([]cms.Card, error) {
	const op = "sqlite.CMS.CardsExpired"
	if err := cms.CheckCardsPage(op, limit); err != nil {
		return nil, err
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+cms.CardColumns+` FROM cms_cards
		WHERE state IN ('issued', 'active') AND expiry <> '' AND expiry < ? ORDER BY expiry, issuer, asn LIMIT ?`, before.String(), limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	cards, err := cms.ScanCards(rows)
	return cards, mapErr(op, err)
}

func (s cmsStore) AuditLog(ctx context.Context, after int64, fn func(a *cms.AuditRecord) error) error {
	const op = "sqlite.CMS.AuditLog"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+cms.AuditColumns+` FROM cms_audit WHERE seq > ? ORDER BY seq`, after)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, cms.ScanAuditLog(rows, fn))
}

// CardLoads reads the card, its open load and the window's loads one
// after the other: on SQLite a read is no round trip.
func (s cmsStore) CardLoads(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, from, to time.Time) (cms.CardLoads, error) {
	const op = "sqlite.CMS.CardLoads"
	var cl cms.CardLoads
	var err error
	if cl.Card, err = s.Card(ctx, issuer, asn); err != nil {
		return cl, citycard.Wrap(op, citycard.Other, err)
	}
	switch open, err := s.OpenLoad(ctx, issuer, asn); {
	case err == nil:
		cl.Open = &open
	case !citycard.IsKind(err, citycard.NotFound):
		return cl, citycard.Wrap(op, citycard.Other, err)
	}
	if cl.LoadedFen, err = s.LoadedFen(ctx, issuer, asn, from, to); err != nil {
		return cl, citycard.Wrap(op, citycard.Other, err)
	}
	var counter int64
	switch err := s.db.readRow(ctx, creditedQuery, func(r *sql.Row) error { return r.Scan(&counter) }, issuer.String(), cms.ASNHex(asn)); {
	case err == nil:
		cl.Credited, cl.CreditedCounter = true, uint16(counter)
	case err != sql.ErrNoRows:
		return cl, mapErr(op, err)
	}
	return cl, nil
}

// creditedQuery reads the online counter of a card's last confirmed load.
const creditedQuery = `SELECT counter FROM cms_loads WHERE issuer = ? AND asn = ? AND status = 'confirmed' ORDER BY authorized_ns DESC LIMIT 1`

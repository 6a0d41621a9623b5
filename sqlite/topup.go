package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// TopUps returns card management's remote top-ups (cms.TopUpStore) and
// its channel moves (cms.ChannelStore), in the database of CMS.
func (db *DB) TopUps() interface {
	cms.TopUpStore
	cms.ChannelStore
} {
	return cmsStore{db}
}

const (
	qChannelMoveInsert = `INSERT INTO cms_channel_moves (` + cms.ChannelMoveColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qTopUpSelect       = `SELECT ` + cms.TopUpColumns + `, ` + cms.TopUpClaimColumns + ` FROM cms_topups`
)

// writeChannelMove inserts the channel move of op, if it has one, in
// commitOp's transaction.
func writeChannelMove(ctx context.Context, db *DB, tx *sql.Tx, op *cms.Operation) error {
	args := cms.ChannelMoveArgs(op)
	if args == nil {
		return nil
	}
	_, err := db.txExec(ctx, tx, qChannelMoveInsert, args...)
	return err
}

func (s cmsStore) CommitTopUp(ctx context.Context, op *cms.Operation, t *cms.TopUp) (bool, error) {
	return s.commitWith(ctx, "sqlite.CMS.CommitTopUp", op, func(tx *sql.Tx) error { return writeTopUp(ctx, tx, t) })
}

func (s cmsStore) MoveTopUp(ctx context.Context, op *cms.Operation, t *cms.TopUp, from citycard.ASN) error {
	const name = "sqlite.CMS.MoveTopUp"
	_, err := s.commitWith(ctx, name, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE cms_topups SET issuer = ?, asn = ? WHERE id = ? AND state = 'pending' AND issuer = ? AND asn = ? AND `+noLiveClaim,
			t.Issuer.String(), cms.ASNHex(t.ASN), t.ID, t.Issuer.String(), cms.ASNHex(from))
		if err != nil {
			return err
		}
		return oneRow(name, res, "top-up %s is not pending on card %v/%v with no live claim: claimed, settled or moved meanwhile", t.ID, t.Issuer, from)
	})
	return err
}

// commitWith commits op and, in the same transaction, what write writes,
// unless op is replayed.
func (s cmsStore) commitWith(ctx context.Context, name string, op *cms.Operation, write func(tx *sql.Tx) error) (bool, error) {
	var replayed bool
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		var head *cms.AuditRecord
		lt := s.db.ledger.begin(ctx, tx)
		var err error
		if replayed, err = commitOp(ctx, s.db, tx, lt, op, 0, &head); err != nil || replayed {
			return err
		}
		if err := write(tx); err != nil {
			return err
		}
		_, err = lt.write()
		return err
	})
	return replayed, mapErr(name, err)
}

// noLiveClaim is the condition of a top-up's row with no live claim (an
// online load through topup_claim not reversed).
const noLiveClaim = `NOT EXISTS (SELECT 1 FROM cms_loads l WHERE l.channel_type = 5 AND l.channel_ref = cms_topups.id AND l.status <> 'reversed')`

// oneRow is nil if res changed one row, else kind Conflict saying why.
func oneRow(name string, res sql.Result, why string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil || n == 1 {
		return err
	}
	return citycard.E(name, citycard.Conflict, why, args...)
}

// writeTopUp writes top-up t's row in CommitTopUp's transaction: inserted
// when t is pending (its payment), otherwise settled over its pending row
// when the claim its new state needs holds (none live for a refund or an
// expiry, one confirmed for claimed).
func writeTopUp(ctx context.Context, tx *sql.Tx, t *cms.TopUp) error {
	const name = "sqlite.CMS.CommitTopUp"
	if t.State == cms.TopUpPending {
		_, err := tx.ExecContext(ctx, `INSERT INTO cms_topups (`+cms.TopUpColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, cms.TopUpArgs(t)...)
		return err
	}
	claim := noLiveClaim
	if t.State == cms.TopUpClaimed {
		claim = `EXISTS (SELECT 1 FROM cms_loads l WHERE l.channel_type = 5 AND l.channel_ref = cms_topups.id AND l.status = 'confirmed')`
	}
	res, err := tx.ExecContext(ctx, `UPDATE cms_topups SET state = ?, settled_ns = ? WHERE id = ? AND state = 'pending' AND `+claim,
		t.State.String(), t.SettledAt.UnixNano(), t.ID)
	if err != nil {
		return err
	}
	return oneRow(name, res, "top-up %s is not pending with the claim %v needs: settled or claimed meanwhile", t.ID, t.State)
}

func (s cmsStore) TopUp(ctx context.Context, id string) (cms.TopUp, error) {
	var t cms.TopUp
	err := s.db.readRow(ctx, qTopUpSelect+` WHERE id = ?`, func(r *sql.Row) (err error) { t, err = cms.ScanTopUp(r); return err }, id)
	if err == sql.ErrNoRows {
		return t, citycard.E("sqlite.CMS.TopUp", citycard.NotFound, "no remote top-up %s", id)
	}
	return t, mapErr("sqlite.CMS.TopUp", err)
}

func (s cmsStore) TopUpsOf(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int) ([]cms.TopUp, error) {
	return s.topUps(ctx, "sqlite.CMS.TopUpsOf", qTopUpSelect+` WHERE issuer = ? AND asn = ? ORDER BY paid_ns DESC, id LIMIT ?`, issuer.String(), cms.ASNHex(asn), limit)
}

func (s cmsStore) WaitingTopUps(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int) ([]cms.TopUp, error) {
	return s.topUps(ctx, "sqlite.CMS.WaitingTopUps", qTopUpSelect+` WHERE state = 'pending' AND issuer = ? AND asn = ? ORDER BY paid_ns, id LIMIT ?`, issuer.String(), cms.ASNHex(asn), limit)
}

func (s cmsStore) DueTopUps(ctx context.Context, at time.Time, after string, limit int) ([]cms.TopUp, error) {
	return s.topUps(ctx, "sqlite.CMS.DueTopUps", qTopUpSelect+` WHERE state = 'pending' AND id > ? AND (claim_by_ns <= ?
		OR EXISTS (SELECT 1 FROM cms_loads l WHERE l.channel_type = 5 AND l.channel_ref = cms_topups.id AND l.status = 'confirmed'))
		ORDER BY id LIMIT ?`, after, at.UnixNano(), limit)
}

func (s cmsStore) topUps(ctx context.Context, op, query string, args ...any) ([]cms.TopUp, error) {
	rows, err := s.db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanTopUps(rows)
	return l, mapErr(op, err)
}

func (s cmsStore) ChannelMoves(ctx context.Context, from, to time.Time, after string, limit int) ([]cms.ChannelMove, error) {
	const op = "sqlite.CMS.ChannelMoves"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+cms.ChannelMoveColumns+` FROM cms_channel_moves WHERE at_ns >= ? AND at_ns < ? AND op_key > ? ORDER BY op_key LIMIT ?`,
		from.UnixNano(), to.UnixNano(), after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanChannelMoves(rows)
	return l, mapErr(op, err)
}

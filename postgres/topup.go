package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

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

const qTopUpSelect = `SELECT ` + cms.TopUpColumns + `, ` + cms.TopUpClaimColumns + ` FROM cms_topups`

// CommitTopUp commits op and, with it, top-up t's row: inserted when t is
// pending (its payment), otherwise settled over its pending row when the
// claim its new state needs holds (none live for a refund or an expiry,
// one confirmed for claimed); a replayed op writes nothing.
func (s cmsStore) CommitTopUp(ctx context.Context, op *cms.Operation, t *cms.TopUp) (bool, error) {
	const name = "postgres.CMS.CommitTopUp"
	tail := func(queue queueFunc) {
		if t.State == cms.TopUpPending {
			queue(0, nil, `INSERT INTO cms_topups (`+cms.TopUpColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, cms.TopUpArgs(t)...)
			return
		}
		claim := noLiveClaim
		if t.State == cms.TopUpClaimed {
			claim = `EXISTS (SELECT 1 FROM cms_loads l WHERE l.channel_type = 5 AND l.channel_ref = cms_topups.id AND l.status = 'confirmed')`
		}
		queue(0, oneRow(name, "top-up %s is not pending with the claim %v needs: settled or claimed meanwhile", t.ID, t.State), `UPDATE cms_topups SET state = $1, settled_ns = $2 WHERE id = $3 AND state = 'pending' AND `+claim,
			t.State.String(), t.SettledAt.UnixNano(), t.ID)
	}
	replayed := []bool{false}
	if _, err := commitBatch(ctx, s.db, []*cms.Operation{op}, []int{0}, replayed, tail); err != nil {
		return false, mapErr(name, err)
	}
	return replayed[0], nil
}

func (s cmsStore) MoveTopUp(ctx context.Context, op *cms.Operation, t *cms.TopUp, from citycard.ASN) error {
	const name = "postgres.CMS.MoveTopUp"
	tail := func(queue queueFunc) {
		queue(0, oneRow(name, "top-up %s is not pending on card %v/%v with no live claim: claimed, settled or moved meanwhile", t.ID, t.Issuer, from),
			`UPDATE cms_topups SET issuer = $1, asn = $2 WHERE id = $3 AND state = 'pending' AND issuer = $1 AND asn = $4 AND `+noLiveClaim,
			t.Issuer.String(), cms.ASNHex(t.ASN), t.ID, cms.ASNHex(from))
	}
	if _, err := commitBatch(ctx, s.db, []*cms.Operation{op}, []int{0}, []bool{false}, tail); err != nil {
		return mapErr(name, err)
	}
	return nil
}

// noLiveClaim is the condition of a top-up's row with no live claim (an
// online load through topup_claim not reversed).
const noLiveClaim = `NOT EXISTS (SELECT 1 FROM cms_loads l WHERE l.channel_type = 5 AND l.channel_ref = cms_topups.id AND l.status <> 'reversed')`

// oneRow reads an UPDATE's answer: nil if it changed one row, else kind
// Conflict saying why.
func oneRow(name, why string, args ...any) func(pgx.BatchResults) error {
	return func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		return citycard.E(name, citycard.Conflict, why, args...)
	}
}

func (s cmsStore) TopUp(ctx context.Context, id string) (cms.TopUp, error) {
	t, err := cms.ScanTopUp(s.db.pool.QueryRow(ctx, qTopUpSelect+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, citycard.E("postgres.CMS.TopUp", citycard.NotFound, "no remote top-up %s", id)
	}
	return t, mapErr("postgres.CMS.TopUp", err)
}

func (s cmsStore) TopUpsOf(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int) ([]cms.TopUp, error) {
	return s.topUps(ctx, "postgres.CMS.TopUpsOf", qTopUpSelect+` WHERE issuer = $1 AND asn = $2 ORDER BY paid_ns DESC, id COLLATE "C" LIMIT $3`, issuer.String(), cms.ASNHex(asn), limit)
}

func (s cmsStore) WaitingTopUps(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, limit int) ([]cms.TopUp, error) {
	return s.topUps(ctx, "postgres.CMS.WaitingTopUps", qTopUpSelect+` WHERE state = 'pending' AND issuer = $1 AND asn = $2 ORDER BY paid_ns, id COLLATE "C" LIMIT $3`, issuer.String(), cms.ASNHex(asn), limit)
}

func (s cmsStore) DueTopUps(ctx context.Context, at time.Time, after string, limit int) ([]cms.TopUp, error) {
	return s.topUps(ctx, "postgres.CMS.DueTopUps", qTopUpSelect+` WHERE state = 'pending' AND id COLLATE "C" > $1 AND (claim_by_ns <= $2
		OR EXISTS (SELECT 1 FROM cms_loads l WHERE l.channel_type = 5 AND l.channel_ref = cms_topups.id AND l.status = 'confirmed'))
		ORDER BY id COLLATE "C" LIMIT $3`, after, at.UnixNano(), limit)
}

func (s cmsStore) topUps(ctx context.Context, op, query string, args ...any) ([]cms.TopUp, error) {
	rows, err := s.db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanTopUps(rows)
	return l, mapErr(op, err)
}

func (s cmsStore) ChannelMoves(ctx context.Context, from, to time.Time, after string, limit int) ([]cms.ChannelMove, error) {
	const op = "postgres.CMS.ChannelMoves"
	rows, err := s.db.pool.Query(ctx, `SELECT `+cms.ChannelMoveColumns+` FROM cms_channel_moves WHERE at_ns >= $1 AND at_ns < $2 AND op_key COLLATE "C" > $3 ORDER BY op_key COLLATE "C" LIMIT $4`,
		from.UnixNano(), to.UnixNano(), after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanChannelMoves(rows)
	return l, mapErr(op, err)
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/recon"
)

// Recon returns reconciliation's store (recon.Store).
func (db *DB) Recon() recon.Store { return reconStore{cmsStore{db}} }

// reconStore writes under card management's audit lock (cmsStore.write):
// its resolutions chain into that log, and its IDs are max + 1 under it.
type reconStore struct{ cms cmsStore }

// placeholders returns "$1, ..., $n".
func placeholders(n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", i+1)
	}
	return strings.Join(ps, ", ")
}

// Import implements recon.Store.
func (s reconStore) Import(ctx context.Context, imp *recon.Import, decide func(*recon.Open) ([]recon.Match, *cms.AuditRecord, error)) (recon.Imported, error) {
	const op = "postgres.Recon.Import"
	st := imp.Statement
	out := recon.Imported{Statement: st.ID, SHA256: st.SHA256, Movements: len(st.Movements)}
	err := s.cms.write(ctx, func(tx pgx.Tx) error {
		var id, sha string
		err := tx.QueryRow(ctx, `SELECT id, sha256 FROM recon_statements WHERE sha256 = $1`, st.SHA256).Scan(&id, &sha)
		if err == nil {
			out.Replayed, out.Statement = true, id
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT id, sha256 FROM recon_statements WHERE id = $1`, st.ID).Scan(&id, &sha)
		if err == nil {
			return citycard.E(op, citycard.Exists, "statement %s was imported from another file (sha256 %s; this one's is %s)", st.ID, sha, st.SHA256)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO recon_statements (`+recon.StatementColumns+`) VALUES (`+placeholders(8)+`)`, recon.StatementArgs(imp)...); err != nil {
			return err
		}
		var next int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) + 1 FROM recon_movements`).Scan(&next); err != nil {
			return err
		}
		var rows pgx.Batch // the statement's rows in one round trip
		for i := range st.Movements {
			args, err := recon.MovementArgs(&st.Movements[i])
			if err != nil {
				return err
			}
			rows.Queue(`INSERT INTO recon_movements (id, `+recon.MovementInsertColumns+`) VALUES (`+placeholders(10)+`)`, append([]any{next}, args...)...)
			next++
		}
		for i := range imp.Instructions {
			rows.Queue(`INSERT INTO recon_instructions (`+recon.InstructionColumns+`) VALUES (`+placeholders(10)+`, NULL)
				ON CONFLICT (end_to_end_id) DO NOTHING`, recon.InstructionArgs(&imp.Instructions[i])...)
		}
		if err := sendAll(ctx, tx, &rows, nil); err != nil {
			return err
		}
		var open recon.Open
		if open.Instructions, err = pgAll(ctx, tx, `SELECT `+recon.InstructionColumns+` FROM recon_instructions WHERE match_id IS NULL
			AND end_to_end_id NOT IN (SELECT finding FROM recon_resolutions) ORDER BY end_to_end_id LIMIT $1`, imp.OpenLimit(), "open instructions", recon.ScanInstruction); err != nil {
			return err
		}
		if open.Movements, err = pgAll(ctx, tx, `SELECT `+recon.MovementColumns+` FROM recon_movements WHERE match_id IS NULL
			AND ('bank-' || id) NOT IN (SELECT finding FROM recon_resolutions) ORDER BY id LIMIT $1`, imp.OpenLimit(), "open movements", recon.ScanMovement); err != nil {
			return err
		}
		ms, audit, err := decide(&open)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) + 1 FROM recon_matches`).Scan(&next); err != nil {
			return err
		}
		var takes pgx.Batch // the matches and their rows' match in one round trip
		var keys []any      // per query queued, the row a match takes; nil for a match's insert
		for i := range ms {
			m := &ms[i]
			m.ID = next
			next++
			takes.Queue(`INSERT INTO recon_matches (id, `+recon.MatchInsertColumns+`) VALUES (`+placeholders(7)+`)`, append([]any{m.ID}, recon.MatchArgs(m, imp.At)...)...)
			keys = append(keys, nil)
			for _, e := range m.Instructions {
				takes.Queue(`UPDATE recon_instructions SET match_id = $1 WHERE end_to_end_id = $2 AND match_id IS NULL`, m.ID, e)
				keys = append(keys, e)
			}
			for _, id := range m.Movements {
				takes.Queue(`UPDATE recon_movements SET match_id = $1 WHERE id = $2 AND match_id IS NULL`, m.ID, id)
				keys = append(keys, id)
			}
		}
		if err := sendAll(ctx, tx, &takes, keys); err != nil {
			return err
		}
		out.Matches = ms
		return appendAudit(ctx, tx, audit)
	})
	return out, mapErr(op, err)
}

// sendAll sends batch b and reads every result; where keys names a
// row (keys[i] not nil), the i-th query must set its match on exactly
// that one row: Conflict if it was taken meanwhile.
func sendAll(ctx context.Context, tx pgx.Tx, b *pgx.Batch, keys []any) error {
	res := tx.SendBatch(ctx, b)
	for i := 0; i < b.Len(); i++ {
		tag, err := res.Exec()
		if err != nil {
			res.Close()
			return err
		}
		if i < len(keys) && keys[i] != nil && tag.RowsAffected() != 1 {
			res.Close()
			return citycard.E("postgres.Recon.Import", citycard.Conflict, "%v: matched meanwhile, or not kept", keys[i])
		}
	}
	return res.Close()
}

// pgAll reads at most max rows of query (its one argument the limit);
// one more is Conflict, naming what.
func pgAll[T any](ctx context.Context, tx pgx.Tx, query string, max int, what string, scan func(recon.Scanner) (T, error)) ([]T, error) {
	rows, err := tx.Query(ctx, query, max+1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return recon.ScanAtMost("postgres.Recon", rows, max, what, scan)
}

// Resolve implements recon.Store.
func (s reconStore) Resolve(ctx context.Context, r *recon.Resolution, a *cms.AuditRecord) error {
	const op = "postgres.Recon.Resolve"
	ref, err := recon.ParseFindingID(r.Finding)
	if err != nil {
		return err
	}
	err = s.cms.write(ctx, func(tx pgx.Tx) error {
		var open bool
		q, arg := ref.OpenQuery("$1")
		err := tx.QueryRow(ctx, q, arg).Scan(&open)
		if errors.Is(err, pgx.ErrNoRows) {
			return citycard.E(op, citycard.NotFound, "no finding %s", r.Finding)
		}
		if err != nil {
			return err
		}
		if !open {
			return citycard.E(op, citycard.Conflict, "finding %s is matched: nothing to resolve", r.Finding)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM recon_resolutions WHERE finding = $1`, r.Finding).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			return citycard.E(op, citycard.Conflict, "finding %s was resolved already", r.Finding)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO recon_resolutions (`+recon.ResolutionColumns+`) VALUES (`+placeholders(6)+`)`, recon.ResolutionArgs(r)...); err != nil {
			return err
		}
		return appendAudit(ctx, tx, a)
	})
	return mapErr(op, err)
}

// Snapshot implements recon.Store, in one repeatable-read transaction.
func (s reconStore) Snapshot(ctx context.Context, max int) (*recon.Snapshot, error) {
	const op = "postgres.Recon.Snapshot"
	var snap recon.Snapshot
	err := pgx.BeginTxFunc(ctx, s.cms.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if snap.Instructions, err = pgAll(ctx, tx, `SELECT `+recon.InstructionColumns+` FROM recon_instructions ORDER BY end_to_end_id LIMIT $1`, max, "instructions", recon.ScanInstruction); err != nil {
			return err
		}
		if snap.Movements, err = pgAll(ctx, tx, `SELECT `+recon.MovementColumns+` FROM recon_movements ORDER BY id LIMIT $1`, max, "movements", recon.ScanMovement); err != nil {
			return err
		}
		if snap.Matches, err = pgAll(ctx, tx, `SELECT `+recon.MatchColumns+` FROM recon_matches ORDER BY id LIMIT $1`, max, "matches", recon.ScanMatch); err != nil {
			return err
		}
		snap.Resolutions, err = pgAll(ctx, tx, `SELECT `+recon.ResolutionColumns+` FROM recon_resolutions ORDER BY finding LIMIT $1`, max, "resolutions", recon.ScanResolution)
		return err
	})
	if err != nil {
		return nil, mapErr(op, err)
	}
	snap.Link()
	return &snap, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/recon"
)

// Recon returns reconciliation's store (recon.Store).
func (db *DB) Recon() recon.Store { return reconStore{db} }

type reconStore struct{ db *DB }

// Import implements recon.Store: one write transaction (the single
// writer serializes imports, resolutions and card management's audit
// chain).
func (s reconStore) Import(ctx context.Context, imp *recon.Import, decide func(*recon.Open) ([]recon.Match, *cms.AuditRecord, error)) (recon.Imported, error) {
	const op = "sqlite.Recon.Import"
	st := imp.Statement
	out := recon.Imported{Statement: st.ID, SHA256: st.SHA256, Movements: len(st.Movements)}
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		var id, sha string
		err := tx.QueryRowContext(ctx, `SELECT id, sha256 FROM recon_statements WHERE sha256 = ?`, st.SHA256).Scan(&id, &sha)
		if err == nil {
			out.Replayed, out.Statement = true, id
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT id, sha256 FROM recon_statements WHERE id = ?`, st.ID).Scan(&id, &sha)
		if err == nil {
			return citycard.E(op, citycard.Exists, "statement %s was imported from another file (sha256 %s; this one's is %s)", st.ID, sha, st.SHA256)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO recon_statements (`+recon.StatementColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, recon.StatementArgs(imp)...); err != nil {
			return err
		}
		for i := range st.Movements {
			args, err := recon.MovementArgs(&st.Movements[i])
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO recon_movements (`+recon.MovementInsertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
				return err
			}
		}
		for i := range imp.Instructions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO recon_instructions (`+recon.InstructionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
				ON CONFLICT (end_to_end_id) DO NOTHING`, recon.InstructionArgs(&imp.Instructions[i])...); err != nil {
				return err
			}
		}
		open, err := s.open(ctx, tx, imp.OpenLimit())
		if err != nil {
			return err
		}
		ms, audit, err := decide(open)
		if err != nil {
			return err
		}
		for i := range ms {
			m := &ms[i]
			res, err := tx.ExecContext(ctx, `INSERT INTO recon_matches (`+recon.MatchInsertColumns+`) VALUES (?, ?, ?, ?, ?, ?)`, recon.MatchArgs(m, imp.At)...)
			if err != nil {
				return err
			}
			if m.ID, err = res.LastInsertId(); err != nil {
				return err
			}
			for _, e := range m.Instructions {
				if err := takeOnce(ctx, tx, `UPDATE recon_instructions SET match_id = ? WHERE end_to_end_id = ? AND match_id IS NULL`, m.ID, e); err != nil {
					return err
				}
			}
			for _, id := range m.Movements {
				if err := takeOnce(ctx, tx, `UPDATE recon_movements SET match_id = ? WHERE id = ? AND match_id IS NULL`, m.ID, id); err != nil {
					return err
				}
			}
		}
		out.Matches = ms
		return appendAudit(ctx, s.db, tx, audit)
	})
	return out, mapErr(op, err)
}

// takeOnce sets one row's match: Conflict if it was taken meanwhile.
func takeOnce(ctx context.Context, tx *sql.Tx, query string, match int64, key any) error {
	res, err := tx.ExecContext(ctx, query, match, key)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return citycard.E("sqlite.Recon.Import", citycard.Conflict, "%v: matched meanwhile, or not kept", key)
	}
	return nil
}

// The open rows: unmatched and unresolved.
const (
	qOpenInstructions = `SELECT ` + recon.InstructionColumns + ` FROM recon_instructions WHERE match_id IS NULL
		AND end_to_end_id NOT IN (SELECT finding FROM recon_resolutions) ORDER BY end_to_end_id LIMIT ?`
	qOpenMovements = `SELECT ` + recon.MovementColumns + ` FROM recon_movements WHERE match_id IS NULL
		AND ('bank-' || id) NOT IN (SELECT finding FROM recon_resolutions) ORDER BY id LIMIT ?`
)

func (s reconStore) open(ctx context.Context, tx *sql.Tx, max int) (*recon.Open, error) {
	var o recon.Open
	var err error
	if o.Instructions, err = scanAll(ctx, tx, qOpenInstructions, max, "open instructions", recon.ScanInstruction); err != nil {
		return nil, err
	}
	if o.Movements, err = scanAll(ctx, tx, qOpenMovements, max, "open movements", recon.ScanMovement); err != nil {
		return nil, err
	}
	return &o, nil
}

// scanAll reads at most max rows of query (its last argument the limit);
// one more is Conflict, naming what.
func scanAll[T any](ctx context.Context, q querier, query string, max int, what string, scan func(recon.Scanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, max+1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return recon.ScanAtMost("sqlite.Recon", rows, max, what, scan)
}

// Resolve implements recon.Store.
func (s reconStore) Resolve(ctx context.Context, r *recon.Resolution, a *cms.AuditRecord) error {
	const op = "sqlite.Recon.Resolve"
	ref, err := recon.ParseFindingID(r.Finding)
	if err != nil {
		return err
	}
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		var open bool
		q, arg := ref.OpenQuery("?")
		err := tx.QueryRowContext(ctx, q, arg).Scan(&open)
		if errors.Is(err, sql.ErrNoRows) {
			return citycard.E(op, citycard.NotFound, "no finding %s", r.Finding)
		}
		if err != nil {
			return err
		}
		if !open {
			return citycard.E(op, citycard.Conflict, "finding %s is matched: nothing to resolve", r.Finding)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM recon_resolutions WHERE finding = ?`, r.Finding).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			return citycard.E(op, citycard.Conflict, "finding %s was resolved already", r.Finding)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO recon_resolutions (`+recon.ResolutionColumns+`) VALUES (?, ?, ?, ?, ?, ?)`, recon.ResolutionArgs(r)...); err != nil {
			return err
		}
		return appendAudit(ctx, s.db, tx, a)
	})
	return mapErr(op, err)
}

// Snapshot implements recon.Store, in one read transaction (one
// snapshot).
func (s reconStore) Snapshot(ctx context.Context, max int) (*recon.Snapshot, error) {
	const op = "sqlite.Recon.Snapshot"
	tx, err := s.db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer tx.Rollback()
	var snap recon.Snapshot
	if snap.Instructions, err = scanAll(ctx, tx, `SELECT `+recon.InstructionColumns+` FROM recon_instructions ORDER BY end_to_end_id LIMIT ?`, max, "instructions", recon.ScanInstruction); err != nil {
		return nil, mapErr(op, err)
	}
	if snap.Movements, err = scanAll(ctx, tx, `SELECT `+recon.MovementColumns+` FROM recon_movements ORDER BY id LIMIT ?`, max, "movements", recon.ScanMovement); err != nil {
		return nil, mapErr(op, err)
	}
	if snap.Matches, err = scanAll(ctx, tx, `SELECT `+recon.MatchColumns+` FROM recon_matches ORDER BY id LIMIT ?`, max, "matches", recon.ScanMatch); err != nil {
		return nil, mapErr(op, err)
	}
	if snap.Resolutions, err = scanAll(ctx, tx, `SELECT `+recon.ResolutionColumns+` FROM recon_resolutions ORDER BY finding LIMIT ?`, max, "resolutions", recon.ScanResolution); err != nil {
		return nil, mapErr(op, err)
	}
	snap.Link()
	return &snap, nil
}

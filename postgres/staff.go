package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// Staff returns card management's store of staff accounts, sessions and
// approvals (cms.StaffStore).
func (db *DB) Staff() cms.StaffStore { return staffStore{cmsStore{db}} }

// staffStore writes what the audit log records under cmsStore.write's
// lock, so that its audit records chain as card management's do.
type staffStore struct{ cms cmsStore }

func (s staffStore) CreateStaff(ctx context.Context, m *cms.StaffMember, a *cms.AuditRecord) error {
	return mapErr("postgres.Staff.CreateStaff", s.cms.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO cms_staff (`+cms.StaffColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`, cms.StaffArgs(m)...); err != nil {
			return err
		}
		return appendAudit(ctx, tx, a)
	}))
}

func (s staffStore) UpdateStaff(ctx context.Context, m *cms.StaffMember, a *cms.AuditRecord) error {
	const op = "postgres.Staff.UpdateStaff"
	return mapErr(op, s.cms.write(ctx, func(tx pgx.Tx) error {
		args := cms.StaffArgs(m)
		tag, err := tx.Exec(ctx, `UPDATE cms_staff SET role = $1, service_point = $2, point_type = $3, disabled = $4, password_hash = $5 WHERE name = $6`,
			append(args[1:6], m.Name)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return citycard.E(op, citycard.NotFound, "no member of staff %q", m.Name)
		}
		return appendAudit(ctx, tx, a)
	}))
}

func (s staffStore) StaffMember(ctx context.Context, name string) (cms.StaffMember, error) {
	const op = "postgres.Staff.StaffMember"
	m, err := cms.ScanStaff(s.cms.db.pool.QueryRow(ctx, `SELECT `+cms.StaffColumns+` FROM cms_staff WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, citycard.E(op, citycard.NotFound, "no member of staff %q", name)
	}
	return m, mapErr(op, err)
}

func (s staffStore) ListStaff(ctx context.Context, after string, limit int) ([]cms.StaffMember, error) {
	const op = "postgres.Staff.ListStaff"
	rows, err := s.cms.db.pool.Query(ctx, `SELECT `+cms.StaffColumns+` FROM cms_staff WHERE name > $1 ORDER BY name LIMIT $2`, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanStaffList(rows)
	return l, mapErr(op, err)
}

func (s staffStore) CreateSession(ctx context.Context, tokenHash [32]byte, name string, expires, now time.Time) error {
	return mapErr("postgres.Staff.CreateSession", pgx.BeginFunc(ctx, s.cms.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM cms_staff_sessions WHERE expires_ns <= $1`, now.UnixNano()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO cms_staff_sessions (token_hash, name, expires_ns) VALUES ($1, $2, $3)`, cms.LookupHex(tokenHash), name, expires.UnixNano())
		return err
	}))
}

func (s staffStore) Session(ctx context.Context, tokenHash [32]byte) (string, time.Time, error) {
	const op = "postgres.Staff.Session"
	var name string
	var exp int64
	err := s.cms.db.pool.QueryRow(ctx, `SELECT name, expires_ns FROM cms_staff_sessions WHERE token_hash = $1`, cms.LookupHex(tokenHash)).Scan(&name, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, citycard.E(op, citycard.NotFound, "no such session")
	}
	return name, time.Unix(0, exp).UTC(), mapErr(op, err)
}

func (s staffStore) DeleteSession(ctx context.Context, tokenHash [32]byte) error {
	_, err := s.cms.db.pool.Exec(ctx, `DELETE FROM cms_staff_sessions WHERE token_hash = $1`, cms.LookupHex(tokenHash))
	return mapErr("postgres.Staff.DeleteSession", err)
}

func (s staffStore) CreateApproval(ctx context.Context, build func(id int64) (*cms.Approval, *cms.AuditRecord)) (int64, error) {
	var id int64
	err := s.cms.write(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) + 1 FROM cms_approvals`).Scan(&id); err != nil {
			return err
		}
		a, audit := build(id)
		if _, err := tx.Exec(ctx, `INSERT INTO cms_approvals (`+cms.ApprovalColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, cms.ApprovalArgs(a)...); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return 0, mapErr("postgres.Staff.CreateApproval", err)
	}
	return id, nil
}

func (s staffStore) Approval(ctx context.Context, id int64) (cms.Approval, error) {
	const op = "postgres.Staff.Approval"
	a, err := cms.ScanApproval(s.cms.db.pool.QueryRow(ctx, `SELECT `+cms.ApprovalColumns+` FROM cms_approvals WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, citycard.E(op, citycard.NotFound, "no approval %d", id)
	}
	return a, mapErr(op, err)
}

func (s staffStore) ApprovalsOf(ctx context.Context, action, subject string, limit int) ([]cms.Approval, error) {
	const op = "postgres.Staff.ApprovalsOf"
	rows, err := s.cms.db.pool.Query(ctx, `SELECT `+cms.ApprovalColumns+` FROM cms_approvals WHERE subject = $1 AND action = $2 ORDER BY id DESC LIMIT $3`, subject, action, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanApprovals(rows)
	return l, mapErr(op, err)
}

func (s staffStore) DecideApproval(ctx context.Context, a *cms.Approval, audit *cms.AuditRecord) error {
	const op = "postgres.Staff.DecideApproval"
	return mapErr(op, s.cms.write(ctx, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM cms_approvals WHERE id = $1 FOR UPDATE`, a.ID).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return citycard.E(op, citycard.NotFound, "no approval %d", a.ID)
		}
		if err != nil {
			return err
		}
		if state != cms.ApprovalPending.String() {
			return citycard.E(op, citycard.Conflict, "approval %d is %s already", a.ID, state)
		}
		if _, err := tx.Exec(ctx, `UPDATE cms_approvals SET state = $1, decided_by = $2, decided_ns = $3 WHERE id = $4`,
			a.State.String(), a.DecidedBy, a.DecidedAt.UnixNano(), a.ID); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	}))
}

// HolderAccounts returns the cardholders' self-service credentials
// (cms.HolderAccountStore).
func (db *DB) HolderAccounts() cms.HolderAccountStore { return staffStore{cmsStore{db}} }

func (s staffStore) CreateHolderAccount(ctx context.Context, holder int64, hash []byte, a *cms.AuditRecord) error {
	return mapErr("postgres.Staff.CreateHolderAccount", s.cms.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO cms_holder_accounts (holder, password_hash, created_ns) VALUES ($1, $2, $3)`, holder, string(hash), a.At.UnixNano()); err != nil {
			return err
		}
		return appendAudit(ctx, tx, a)
	}))
}

func (s staffStore) HolderPassword(ctx context.Context, holder int64) ([]byte, error) {
	const op = "postgres.Staff.HolderPassword"
	var h string
	err := s.cms.db.pool.QueryRow(ctx, `SELECT password_hash FROM cms_holder_accounts WHERE holder = $1`, holder).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, citycard.E(op, citycard.NotFound, "no self-service account of cardholder %d", holder)
	}
	return []byte(h), mapErr(op, err)
}

func (s staffStore) CreateHolderSession(ctx context.Context, tokenHash [32]byte, holder int64, expires, now time.Time) error {
	return mapErr("postgres.Staff.CreateHolderSession", pgx.BeginFunc(ctx, s.cms.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM cms_holder_sessions WHERE expires_ns <= $1`, now.UnixNano()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO cms_holder_sessions (token_hash, holder, expires_ns) VALUES ($1, $2, $3)`, cms.LookupHex(tokenHash), holder, expires.UnixNano())
		return err
	}))
}

func (s staffStore) HolderSession(ctx context.Context, tokenHash [32]byte) (int64, time.Time, error) {
	const op = "postgres.Staff.HolderSession"
	var holder, exp int64
	err := s.cms.db.pool.QueryRow(ctx, `SELECT holder, expires_ns FROM cms_holder_sessions WHERE token_hash = $1`, cms.LookupHex(tokenHash)).Scan(&holder, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, citycard.E(op, citycard.NotFound, "no such session")
	}
	return holder, time.Unix(0, exp).UTC(), mapErr(op, err)
}

func (s staffStore) LoginFailures(ctx context.Context, subject string) (cms.LoginFailures, error) {
	f, err := cms.ScanLoginFailures(s.cms.db.pool.QueryRow(ctx, `SELECT `+cms.LoginFailureColumns+` FROM cms_login_failures WHERE subject = $1`, subject))
	if errors.Is(err, pgx.ErrNoRows) {
		return cms.LoginFailures{}, nil
	}
	return f, mapErr("postgres.Staff.LoginFailures", err)
}

func (s staffStore) SwapLoginFailures(ctx context.Context, subject string, old, next cms.LoginFailures, forgetBefore time.Time) (bool, error) {
	var swapped bool
	err := pgx.BeginFunc(ctx, s.cms.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM cms_login_failures WHERE first_ns < $1 AND subject <> $2`, forgetBefore.UnixNano(), subject); err != nil {
			return err
		}
		var tag pgconn.CommandTag
		var err error
		switch o, n := cms.LoginFailureArgs(old), cms.LoginFailureArgs(next); {
		case old.Count == 0:
			tag, err = tx.Exec(ctx, `INSERT INTO cms_login_failures (subject, `+cms.LoginFailureColumns+`) VALUES ($1, $2, $3, $4) ON CONFLICT (subject) DO NOTHING`,
				append([]any{subject}, n...)...)
		case next.Count == 0:
			tag, err = tx.Exec(ctx, `DELETE FROM cms_login_failures WHERE subject = $1 AND failures = $2 AND first_ns = $3 AND locked_until_ns = $4`,
				append([]any{subject}, o...)...)
		default:
			tag, err = tx.Exec(ctx, `UPDATE cms_login_failures SET failures = $1, first_ns = $2, locked_until_ns = $3 WHERE subject = $4 AND failures = $5 AND first_ns = $6 AND locked_until_ns = $7`,
				append(append(n, subject), o...)...)
		}
		swapped = err == nil && tag.RowsAffected() == 1
		return err
	})
	return swapped, mapErr("postgres.Staff.SwapLoginFailures", err)
}

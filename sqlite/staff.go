package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// Staff returns card management's store of staff accounts, sessions and
// approvals (cms.StaffStore).
func (db *DB) Staff() cms.StaffStore { return staffStore{db} }

type staffStore struct{ db *DB }

func (s staffStore) CreateStaff(ctx context.Context, m *cms.StaffMember, a *cms.AuditRecord) error {
	return mapErr("sqlite.Staff.CreateStaff", s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cms_staff (`+cms.StaffColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`, cms.StaffArgs(m)...); err != nil {
			return err
		}
		return appendAudit(ctx, s.db, tx, a)
	}))
}

func (s staffStore) UpdateStaff(ctx context.Context, m *cms.StaffMember, a *cms.AuditRecord) error {
	const op = "sqlite.Staff.UpdateStaff"
	return mapErr(op, s.db.write(ctx, func(tx *sql.Tx) error {
		args := cms.StaffArgs(m)
		res, err := tx.ExecContext(ctx, `UPDATE cms_staff SET role = ?, service_point = ?, point_type = ?, disabled = ?, password_hash = ? WHERE name = ?`,
			append(args[1:6], m.Name)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound(op, err, "no member of staff %q", m.Name)
		}
		return appendAudit(ctx, s.db, tx, a)
	}))
}

// notFound is err if there is one, else kind NotFound with the message.
func notFound(op string, err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	return citycard.E(op, citycard.NotFound, format, args...)
}

func (s staffStore) StaffMember(ctx context.Context, name string) (cms.StaffMember, error) {
	const op = "sqlite.Staff.StaffMember"
	m, err := cms.ScanStaff(s.db.r.QueryRowContext(ctx, `SELECT `+cms.StaffColumns+` FROM cms_staff WHERE name = ?`, name))
	if err == sql.ErrNoRows {
		return m, citycard.E(op, citycard.NotFound, "no member of staff %q", name)
	}
	return m, mapErr(op, err)
}

func (s staffStore) ListStaff(ctx context.Context, after string, limit int) ([]cms.StaffMember, error) {
	const op = "sqlite.Staff.ListStaff"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+cms.StaffColumns+` FROM cms_staff WHERE name > ? ORDER BY name LIMIT ?`, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanStaffList(rows)
	return l, mapErr(op, err)
}

func (s staffStore) CreateSession(ctx context.Context, tokenHash [32]byte, name string, expires, now time.Time) error {
	return mapErr("sqlite.Staff.CreateSession", s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM cms_staff_sessions WHERE expires_ns <= ?`, now.UnixNano()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO cms_staff_sessions (token_hash, name, expires_ns) VALUES (?, ?, ?)`, cms.LookupHex(tokenHash), name, expires.UnixNano())
		return err
	}))
}

func (s staffStore) Session(ctx context.Context, tokenHash [32]byte) (string, time.Time, error) {
	const op = "sqlite.Staff.Session"
	var name string
	var exp int64
	err := s.db.r.QueryRowContext(ctx, `SELECT name, expires_ns FROM cms_staff_sessions WHERE token_hash = ?`, cms.LookupHex(tokenHash)).Scan(&name, &exp)
	if err == sql.ErrNoRows {
		return "", time.Time{}, citycard.E(op, citycard.NotFound, "no such session")
	}
	return name, time.Unix(0, exp).UTC(), mapErr(op, err)
}

func (s staffStore) DeleteSession(ctx context.Context, tokenHash [32]byte) error {
	return mapErr("sqlite.Staff.DeleteSession", s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM cms_staff_sessions WHERE token_hash = ?`, cms.LookupHex(tokenHash))
		return err
	}))
}

func (s staffStore) CreateApproval(ctx context.Context, build func(id int64) (*cms.Approval, *cms.AuditRecord)) (int64, error) {
	var id int64
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM cms_approvals`).Scan(&id); err != nil {
			return err
		}
		a, audit := build(id)
		if _, err := tx.ExecContext(ctx, `INSERT INTO cms_approvals (`+cms.ApprovalColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, cms.ApprovalArgs(a)...); err != nil {
			return err
		}
		return appendAudit(ctx, s.db, tx, audit)
	})
	if err != nil {
		return 0, mapErr("sqlite.Staff.CreateApproval", err)
	}
	return id, nil
}

func (s staffStore) Approval(ctx context.Context, id int64) (cms.Approval, error) {
	const op = "sqlite.Staff.Approval"
	a, err := cms.ScanApproval(s.db.r.QueryRowContext(ctx, `SELECT `+cms.ApprovalColumns+` FROM cms_approvals WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return a, citycard.E(op, citycard.NotFound, "no approval %d", id)
	}
	return a, mapErr(op, err)
}

func (s staffStore) ApprovalsOf(ctx context.Context, action, subject string, limit int) ([]cms.Approval, error) {
	const op = "sqlite.Staff.ApprovalsOf"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+cms.ApprovalColumns+` FROM cms_approvals WHERE subject = ? AND action = ? ORDER BY id DESC LIMIT ?`, subject, action, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	l, err := cms.ScanApprovals(rows)
	return l, mapErr(op, err)
}

func (s staffStore) DecideApproval(ctx context.Context, a *cms.Approval, audit *cms.AuditRecord) error {
	const op = "sqlite.Staff.DecideApproval"
	return mapErr(op, s.db.write(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM cms_approvals WHERE id = ?`, a.ID).Scan(&state)
		if err == sql.ErrNoRows {
			return citycard.E(op, citycard.NotFound, "no approval %d", a.ID)
		}
		if err != nil {
			return err
		}
		if state != cms.ApprovalPending.String() {
			return citycard.E(op, citycard.Conflict, "approval %d is %s already", a.ID, state)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cms_approvals SET state = ?, decided_by = ?, decided_ns = ? WHERE id = ?`,
			a.State.String(), a.DecidedBy, a.DecidedAt.UnixNano(), a.ID); err != nil {
			return err
		}
		return appendAudit(ctx, s.db, tx, audit)
	}))
}

// HolderAccounts returns the cardholders' self-service credentials
// (cms.HolderAccountStore).
func (db *DB) HolderAccounts() cms.HolderAccountStore { return staffStore{db} }

func (s staffStore) CreateHolderAccount(ctx context.Context, holder int64, hash []byte, a *cms.AuditRecord) error {
	return mapErr("sqlite.Staff.CreateHolderAccount", s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cms_holder_accounts (holder, password_hash, created_ns) VALUES (?, ?, ?)`, holder, string(hash), a.At.UnixNano()); err != nil {
			return err
		}
		return appendAudit(ctx, s.db, tx, a)
	}))
}

func (s staffStore) HolderPassword(ctx context.Context, holder int64) ([]byte, error) {
	const op = "sqlite.Staff.HolderPassword"
	var h string
	err := s.db.r.QueryRowContext(ctx, `SELECT password_hash FROM cms_holder_accounts WHERE holder = ?`, holder).Scan(&h)
	if err == sql.ErrNoRows {
		return nil, citycard.E(op, citycard.NotFound, "no self-service account of cardholder %d", holder)
	}
	return []byte(h), mapErr(op, err)
}

func (s staffStore) CreateHolderSession(ctx context.Context, tokenHash [32]byte, holder int64, expires, now time.Time) error {
	return mapErr("sqlite.Staff.CreateHolderSession", s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM cms_holder_sessions WHERE expires_ns <= ?`, now.UnixNano()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO cms_holder_sessions (token_hash, holder, expires_ns) VALUES (?, ?, ?)`, cms.LookupHex(tokenHash), holder, expires.UnixNano())
		return err
	}))
}

func (s staffStore) HolderSession(ctx context.Context, tokenHash [32]byte) (int64, time.Time, error) {
	const op = "sqlite.Staff.HolderSession"
	var holder, exp int64
	err := s.db.r.QueryRowContext(ctx, `SELECT holder, expires_ns FROM cms_holder_sessions WHERE token_hash = ?`, cms.LookupHex(tokenHash)).Scan(&holder, &exp)
	if err == sql.ErrNoRows {
		return 0, time.Time{}, citycard.E(op, citycard.NotFound, "no such session")
	}
	return holder, time.Unix(0, exp).UTC(), mapErr(op, err)
}

func (s staffStore) LoginFailures(ctx context.Context, subject string) (cms.LoginFailures, error) {
	f, err := cms.ScanLoginFailures(s.db.r.QueryRowContext(ctx, `SELECT `+cms.LoginFailureColumns+` FROM cms_login_failures WHERE subject = ?`, subject))
	if err == sql.ErrNoRows {
		return cms.LoginFailures{}, nil
	}
	return f, mapErr("sqlite.Staff.LoginFailures", err)
}

func (s staffStore) SwapLoginFailures(ctx context.Context, subject string, old, next cms.LoginFailures, forgetBefore time.Time) (bool, error) {
	var swapped bool
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM cms_login_failures WHERE first_ns < ? AND subject <> ?`, forgetBefore.UnixNano(), subject); err != nil {
			return err
		}
		var res sql.Result
		var err error
		switch o, n := cms.LoginFailureArgs(old), cms.LoginFailureArgs(next); {
		case old.Count == 0:
			res, err = tx.ExecContext(ctx, `INSERT INTO cms_login_failures (subject, `+cms.LoginFailureColumns+`) VALUES (?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING`,
				append([]any{subject}, n...)...)
		case next.Count == 0:
			res, err = tx.ExecContext(ctx, `DELETE FROM cms_login_failures WHERE subject = ? AND failures = ? AND first_ns = ? AND locked_until_ns = ?`,
				append([]any{subject}, o...)...)
		default:
			res, err = tx.ExecContext(ctx, `UPDATE cms_login_failures SET failures = ?, first_ns = ?, locked_until_ns = ? WHERE subject = ? AND failures = ? AND first_ns = ? AND locked_until_ns = ?`,
				append(append(n, subject), o...)...)
		}
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		swapped = k == 1
		return err
	})
	return swapped, mapErr("sqlite.Staff.SwapLoginFailures", err)
}

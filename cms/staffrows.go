package cms

import (
	"time"

	"github.com/citycard/citycard"
)

// The stores' spelling of a staff account and of an approval request,
// shared so that both write and read them alike (as CardColumns): times
// are Unix nanoseconds (0 for none), roles, kinds and states by name.
const (
	StaffColumns    = "name, role, service_point, point_type, disabled, password_hash, created_ns"
	ApprovalColumns = "id, action, subject, request, amount_fen, requested_by, requested_ns, state, decided_by, decided_ns"
)

func unixNs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNs(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// StaffArgs returns m's values in StaffColumns' order.
func StaffArgs(m *StaffMember) []any {
	disabled := 0
	if m.Disabled {
		disabled = 1
	}
	return []any{m.Name, m.Role.String(), m.ServicePoint, m.PointType.String(), disabled, string(m.PasswordHash), unixNs(m.CreatedAt)}
}

// ScanStaff reads an account from a row of StaffColumns. Kind Invalid for
// a role or point type that is none.
func ScanStaff(row Scanner) (StaffMember, error) {
	var m StaffMember
	var role, point, hash string
	var disabled, created int64
	if err := row.Scan(&m.Name, &role, &m.ServicePoint, &point, &disabled, &hash, &created); err != nil {
		return m, err
	}
	var err error
	if m.Role, err = ParseRole(role); err != nil {
		return m, citycard.Wrap("cms.ScanStaff", citycard.Invalid, err)
	}
	if m.PointType, err = ParsePointType(point); err != nil {
		return m, citycard.Wrap("cms.ScanStaff", citycard.Invalid, err)
	}
	m.Disabled, m.PasswordHash, m.CreatedAt = disabled != 0, []byte(hash), fromNs(created)
	return m, nil
}

// ApprovalArgs returns a's values in ApprovalColumns' order.
func ApprovalArgs(a *Approval) []any {
	return []any{a.ID, a.Action, a.Subject, a.Request, a.AmountFen, a.RequestedBy, unixNs(a.RequestedAt), a.State.String(), a.DecidedBy, unixNs(a.DecidedAt)}
}

// ScanApproval reads an approval from a row of ApprovalColumns. Kind
// Invalid for a state that is none.
func ScanApproval(row Scanner) (Approval, error) {
	var a Approval
	var state string
	var req, dec int64
	if err := row.Scan(&a.ID, &a.Action, &a.Subject, &a.Request, &a.AmountFen, &a.RequestedBy, &req, &state, &a.DecidedBy, &dec); err != nil {
		return a, err
	}
	var err error
	if a.State, err = ParseApprovalState(state); err != nil {
		return a, citycard.Wrap("cms.ScanApproval", citycard.Invalid, err)
	}
	a.RequestedAt, a.DecidedAt = fromNs(req), fromNs(dec)
	return a, nil
}

// ScanApprovals reads every approval of rows of ApprovalColumns.
func ScanApprovals(rows Rows) ([]Approval, error) {
	var l []Approval
	for rows.Next() {
		a, err := ScanApproval(rows)
		if err != nil {
			return nil, err
		}
		l = append(l, a)
	}
	return l, rows.Err()
}

// ScanStaffList reads every account of rows of StaffColumns.
func ScanStaffList(rows Rows) ([]StaffMember, error) {
	var l []StaffMember
	for rows.Next() {
		m, err := ScanStaff(rows)
		if err != nil {
			return nil, err
		}
		l = append(l, m)
	}
	return l, rows.Err()
}

// LoginFailureColumns is the stores' spelling of a subject's failed
// logins (cms_login_failures, beside its subject), as StaffColumns.
const LoginFailureColumns = "failures, first_ns, locked_until_ns"

// LoginFailureArgs returns f's values in LoginFailureColumns' order.
func LoginFailureArgs(f LoginFailures) []any {
	return []any{int64(f.Count), unixNs(f.First), unixNs(f.LockedUntil)}
}

// ScanLoginFailures reads failed logins from a row of
// LoginFailureColumns.
func ScanLoginFailures(row Scanner) (LoginFailures, error) {
	var n, first, until int64
	if err := row.Scan(&n, &first, &until); err != nil {
		return LoginFailures{}, err
	}
	return LoginFailures{Count: int(n), First: fromNs(first), LockedUntil: fromNs(until)}, nil
}

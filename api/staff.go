package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// maxStaffBody bounds a login or a new staff account.
const maxStaffBody = 2048

// StoredStaff is the StaffAuth of the stored staff accounts: a bearer
// token is a session token from POST /v1/staff/login (cms.Staffing).
type StoredStaff struct{ Staffing *cms.Staffing }

// AuthenticateStaff implements StaffAuth over the session's member:
// kind Unauthenticated for a token unknown, expired or of a disabled
// account; IO.
func (s StoredStaff) AuthenticateStaff(ctx context.Context, token string) (Staff, error) {
	m, err := s.Staffing.Authenticate(ctx, token)
	if err != nil {
		return Staff{}, err
	}
	return Staff{Name: m.Name, Role: m.Role, ServicePoint: m.ServicePoint, PointType: m.PointType}, nil
}

// readBody reads a request's strict JSON object (see readObject) of at
// most limit bytes: kind Invalid naming what for a wrong media type, a
// body too large or anything readObject refuses.
func readBody(w http.ResponseWriter, r *http.Request, op, what string, limit int64, fields []field) error {
	if _, err := mediaType(r, mediaJSON); err != nil {
		return citycard.Wrap(op, citycard.Invalid, err)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.UseNumber()
	if err := readObject(dec, fields); err != nil {
		return citycard.E(op, citycard.Invalid, "%s: %w", what, err)
	}
	return nil
}

// staffing is the server's stored staff, or kind Unavailable.
func (s *Server) staffing(op string) (*cms.Staffing, error) {
	if s.Staffing == nil {
		return nil, citycard.E(op, citycard.Unavailable, "no stored staff accounts on this server")
	}
	return s.Staffing, nil
}

type loginJSON struct {
	Token        string `json:"token"`
	Name         string `json:"name"`
	Role         string `json:"role"`
	ServicePoint string `json:"service_point"`
	ExpiresAt    string `json:"expires_at"`
}

// handleLogin opens a session: {"name", "password"} answered with the
// session's token, once. Public, as the token is what it hands out;
// failed logins are limited per name (cms.Staffing.Check: 429 with
// Retry-After while a name is refused).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	const op = "api.login"
	st, err := s.staffing(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var name, password string
	if err := readBody(w, r, op, "login", maxStaffBody, []field{{"name", readString(&name)}, {"password", readString(&password)}}); err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := st.Login(r.Context(), name, password)
	if err != nil {
		if !citycard.Transient(err) {
			s.Logger.Warn("staff login refused", "name", name, "err", err)
		}
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("staff logged in", "name", name, "service_point", sess.Member.ServicePoint)
	s.reply(w, r, http.StatusOK, loginJSON{Token: sess.Token, Name: sess.Member.Name, Role: sess.Member.Role.String(),
		ServicePoint: sess.Member.ServicePoint, ExpiresAt: formatTime(sess.Expires)})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.logout"
	st, err := s.staffing(op)
	if err == nil {
		err = st.Logout(r.Context(), bearer(r))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, healthJSON{Status: "logged out"})
}

type staffJSON struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	ServicePoint string `json:"service_point"`
	PointType    string `json:"point_type"`
	Disabled     bool   `json:"disabled"`
	CreatedAt    string `json:"created_at"`
}

func newStaffJSON(m *cms.StaffMember) staffJSON {
	return staffJSON{Name: m.Name, Role: m.Role.String(), ServicePoint: m.ServicePoint, PointType: m.PointType.String(), Disabled: m.Disabled, CreatedAt: formatTime(m.CreatedAt)}
}

func (s *Server) handleStaffList(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.staffList"
	st, err := s.staffing(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := cms.StaffPageMax
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > cms.StaffPageMax {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, cms.StaffPageMax))
			return
		}
		limit = n
	}
	l, err := st.List(r.Context(), q.Get("after"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]staffJSON, len(l))
	for i := range l {
		out[i] = newStaffJSON(&l[i])
	}
	s.reply(w, r, http.StatusOK, out)
}

// handleStaffAdd adds an account: {"name", "role", "service_point",
// "point_type", "password"}.
func (s *Server) handleStaffAdd(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.staffAdd"
	st, err := s.staffing(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var m cms.StaffMember
	var role, point, password string
	err = readBody(w, r, op, "staff account", maxStaffBody, []field{
		{"name", readString(&m.Name)}, {"role", readString(&role)}, {"service_point", readString(&m.ServicePoint)},
		{"point_type", readString(&point)}, {"password", readString(&password)},
	})
	if err == nil {
		m.Role, err = cms.ParseRole(role)
	}
	if err == nil {
		m.PointType, err = cms.ParsePointType(point)
	}
	if err == nil {
		m, err = st.Add(r.Context(), by.actor(), m, password)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.Logger.Info("staff added", "by", by.Name, "name", m.Name, "role", m.Role.String())
	s.reply(w, r, http.StatusCreated, newStaffJSON(&m))
}

func (s *Server) handleStaffDisable(w http.ResponseWriter, r *http.Request, by Staff) {
	s.setDisabled(w, r, by, true)
}

func (s *Server) handleStaffEnable(w http.ResponseWriter, r *http.Request, by Staff) {
	s.setDisabled(w, r, by, false)
}

func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, by Staff, disabled bool) {
	const op = "api.staffDisable"
	st, err := s.staffing(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := r.PathValue("name")
	if disabled && name == by.Name {
		s.fail(w, r, citycard.E(op, citycard.Permission, "%s may not disable their own account", by.Name))
		return
	}
	if err := st.SetDisabled(r.Context(), by.actor(), name, disabled); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("staff account changed", "by", by.Name, "name", name, "disabled", disabled)
	s.reply(w, r, http.StatusOK, map[string]any{"name": name, "disabled": disabled})
}

type approvalJSON struct {
	ID          int64  `json:"id"`
	Action      string `json:"action"`
	Subject     string `json:"subject"`
	AmountFen   int64  `json:"amount_fen"`
	RequestedBy string `json:"requested_by"`
	RequestedAt string `json:"requested_at"`
	State       string `json:"state"`
	DecidedBy   string `json:"decided_by,omitempty"`
	DecidedAt   string `json:"decided_at,omitempty"`
}

func newApprovalJSON(a *cms.Approval) approvalJSON {
	return approvalJSON{ID: a.ID, Action: a.Action, Subject: a.Subject, AmountFen: a.AmountFen, RequestedBy: a.RequestedBy,
		RequestedAt: formatTime(a.RequestedAt), State: a.State.String(), DecidedBy: a.DecidedBy, DecidedAt: optTime(a.DecidedAt)}
}

// approvalID reads the path's {id}: kind NotFound for one that is no
// approval's number.
func approvalID(r *http.Request, op string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, citycard.E(op, citycard.NotFound, "no approval %q", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) handleApproval(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.approval"
	st, err := s.staffing(op)
	var id int64
	if err == nil {
		id, err = approvalID(r, op)
	}
	var a cms.Approval
	if err == nil {
		a, err = st.Approval(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, newApprovalJSON(&a))
}

func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request, by Staff) {
	s.decide(w, r, by, true)
}
func (s *Server) handleReject(w http.ResponseWriter, r *http.Request, by Staff) {
	s.decide(w, r, by, false)
}

// decide approves or rejects: a supervisor who is not the requester
// (cms.Approval.Decide; 403 otherwise).
func (s *Server) decide(w http.ResponseWriter, r *http.Request, by Staff, approve bool) {
	const op = "api.decide"
	st, err := s.staffing(op)
	var id int64
	if err == nil {
		id, err = approvalID(r, op)
	}
	var a cms.Approval
	if err == nil {
		m := cms.StaffMember{Name: by.Name, Role: by.Role, ServicePoint: by.actor().ServicePoint}
		a, err = st.Decide(r.Context(), &m, id, approve)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("approval decided", "by", by.Name, "approval", id, "state", a.State.String())
	s.reply(w, r, http.StatusOK, newApprovalJSON(&a))
}

package cms

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/citycard/citycard"
)

// Role is what a member of staff may do. Each includes the ones before
// it. The values are stored: keep them.
type Role uint8

// The roles.
const (
	RoleAuditor    Role = 1 // reads everything, changes nothing
	RoleClerk      Role = 2 // also serves cardholders: apply, issue, loss, replace, refunds under the limit
	RoleSupervisor Role = 3 // also approves what needs a second person (a refund over the limit), never their own request
	RoleAdmin      Role = 4 // also manages staff, parties, terminals and products
)

var roleNames = [...]string{RoleAuditor: "auditor", RoleClerk: "clerk", RoleSupervisor: "supervisor", RoleAdmin: "admin"}

// String gives the role's name ("role(N)" for a value that is none).
func (r Role) String() string {
	if r >= RoleAuditor && r <= RoleAdmin {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// ParseRole reads a role's name. Kind Invalid for any other text.
func ParseRole(s string) (Role, error) {
	for r := RoleAuditor; r <= RoleAdmin; r++ {
		if roleNames[r] == s {
			return r, nil
		}
	}
	return 0, citycard.E("cms.ParseRole", citycard.Invalid, "role %q: want auditor, clerk, supervisor or admin", s)
}

// PointType is the kind of a service point. The values are stored: keep
// them.
type PointType uint8

// The kinds of service point.
const (
	OwnCounter  PointType = 1 // the issuer's own counter
	AgentPoint  PointType = 2 // an agent's counter (a shop, a post office)
	MobilePoint PointType = 3 // a mobile service point (a van, a stand at an event)
	BankBranch  PointType = 4 // a partner bank's branch, its own staff
)

var pointNames = [...]string{OwnCounter: "own_counter", AgentPoint: "agent", MobilePoint: "mobile", BankBranch: "bank_branch"}

func (t PointType) String() string {
	if t >= OwnCounter && t <= BankBranch {
		return pointNames[t]
	}
	return fmt.Sprintf("point(%d)", uint8(t))
}

// ParsePointType reads a service point's kind. Kind Invalid for any other
// text.
func ParsePointType(s string) (PointType, error) {
	for t := OwnCounter; t <= BankBranch; t++ {
		if pointNames[t] == s {
			return t, nil
		}
	}
	return 0, citycard.E("cms.ParsePointType", citycard.Invalid, "service point type %q: want own_counter, agent, mobile or bank_branch", s)
}

// Limits of staff accounts.
const (
	StaffNameLenMax   = 32               // a login name: 1 to 32 of a-z 0-9 . _ -
	PasswordLenMin    = 12               // bytes
	PasswordLenMax    = 72               // bytes: bcrypt reads no more
	SessionTTLMax     = 12 * time.Hour   // a session lasts at most a long shift
	LoginFailureMax   = 5                // failed logins of one name in LoginWindow before it is refused
	LoginWindow       = 15 * time.Minute // the window of LoginFailureMax
	DefaultBcryptCost = 12               // 0.25 to 0.75 s a login on this 2-core machine, under load
	DefaultSessionTTL = 8 * time.Hour
	// LoginsAtOnce bounds the password checks running at once: each
	// takes a core for a quarter second or more, so a flood of logins
	// (of names that exist or not) is answered 503 beyond it rather than
	// starving everything else.
	LoginsAtOnce = 2
)

// StaffMember is a stored staff account: a login name, a role, the
// service point the member works at, and the bcrypt hash of their
// password (never the password).
type StaffMember struct {
	Name         string
	Role         Role
	ServicePoint string // the point's ID: 1 to ActorLenMax bytes
	PointType    PointType
	Disabled     bool
	PasswordHash []byte
	CreatedAt    time.Time
}

// Actor returns the member as the audit log names them.
func (m *StaffMember) Actor() Actor { return Actor{Who: m.Name, ServicePoint: m.ServicePoint} }

// Snapshot returns the member as the audit log shows them: no password
// hash.
func (m *StaffMember) Snapshot() string {
	b, err := json.Marshal(struct {
		Name         string `json:"name"`
		Role         string `json:"role"`
		ServicePoint string `json:"service_point"`
		PointType    string `json:"point_type"`
		Disabled     bool   `json:"disabled"`
	}{m.Name, m.Role.String(), m.ServicePoint, m.PointType.String(), m.Disabled})
	if err != nil {
		panic(err) // strings and a bool always encode
	}
	return string(b)
}

// CheckStaffName checks a login name: 1 to StaffNameLenMax of a-z 0-9 . _ -.
// Kind Invalid.
func CheckStaffName(name string) error {
	ok := name != "" && len(name) <= StaffNameLenMax
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return citycard.E("cms.CheckStaffName", citycard.Invalid, "staff name %q: want 1 to %d of a-z 0-9 . _ -", name, StaffNameLenMax)
	}
	return nil
}

// StaffStore keeps staff accounts and their sessions. sqlite.DB.Staff and
// postgres.DB.Staff implement it; the shared suite (storetest) runs on
// both.
type StaffStore interface {
	// LoginFailureStore keeps the failed logins, per name.
	LoginFailureStore
	// CreateStaff stores a new account and its audit record in one
	// transaction. Kind Exists for a name taken.
	CreateStaff(ctx context.Context, m *StaffMember, a *AuditRecord) error
	// UpdateStaff replaces an account (its role, point, state, password
	// hash) and appends its audit record. Kind NotFound.
	UpdateStaff(ctx context.Context, m *StaffMember, a *AuditRecord) error
	// StaffMember returns an account. Kind NotFound.
	StaffMember(ctx context.Context, name string) (StaffMember, error)
	// ListStaff returns at most limit accounts by name, those after the
	// name after ("" from the first).
	ListStaff(ctx context.Context, after string, limit int) ([]StaffMember, error)
	// CreateSession stores a session (the SHA-256 of its token) of a
	// member until expires, and drops the sessions expired at now. Kind
	// NotFound for no such member.
	CreateSession(ctx context.Context, tokenHash [32]byte, name string, expires, now time.Time) error
	// Session returns the member and expiry of a session. Kind NotFound.
	Session(ctx context.Context, tokenHash [32]byte) (name string, expires time.Time, err error)
	// DeleteSession ends a session; ending one that is not there is no
	// error.
	DeleteSession(ctx context.Context, tokenHash [32]byte) error

	// CreateApproval allocates the next approval ID (from 1), calls build
	// with it and stores the approval and audit record build returns, in
	// one transaction.
	CreateApproval(ctx context.Context, build func(id int64) (*Approval, *AuditRecord)) (int64, error)
	// Approval returns an approval request. Kind NotFound.
	Approval(ctx context.Context, id int64) (Approval, error)
	// DecideApproval writes a's decision over the stored request if that
	// is still pending (kind Conflict otherwise: decided meanwhile), with
	// its audit record. Kind NotFound.
	DecideApproval(ctx context.Context, a *Approval, audit *AuditRecord) error
	// ApprovalsOf returns up to limit approval requests of action on
	// subject, newest (highest ID) first.
	ApprovalsOf(ctx context.Context, action, subject string, limit int) ([]Approval, error)
}

// StaffOptions tune Staffing; the zero value takes the defaults.
type StaffOptions struct {
	BcryptCost int           // 0: DefaultBcryptCost; tests use bcrypt.MinCost
	SessionTTL time.Duration // 0: DefaultSessionTTL; at most SessionTTLMax
	Random     io.Reader     // session tokens; nil: crypto/rand
}

// Staffing manages staff accounts: adding, disabling, logging in and
// authenticating sessions, with failed logins rate-limited per name.
type Staffing struct {
	store  StaffStore
	now    func() time.Time
	cost   int
	ttl    time.Duration
	random io.Reader
	limit  loginGuard
	dummy  []byte        // a hash to compare against for an unknown name, so that its answer takes as long
	slots  chan struct{} // a slot per password check running (LoginsAtOnce)
}

// NewStaffing returns a Staffing over store, reading time from now.
func NewStaffing(store StaffStore, now func() time.Time, o StaffOptions) *Staffing {
	s := &Staffing{store: store, now: now, cost: o.BcryptCost, ttl: o.SessionTTL, random: o.Random}
	if s.cost == 0 {
		s.cost = DefaultBcryptCost
	}
	if s.ttl <= 0 {
		s.ttl = DefaultSessionTTL
	}
	s.ttl = min(s.ttl, SessionTTLMax)
	if s.random == nil {
		s.random = rand.Reader
	}
	s.limit = loginGuard{store}
	s.slots = make(chan struct{}, LoginsAtOnce)
	h, err := bcrypt.GenerateFromPassword([]byte("citycard: no such member of staff"), s.cost)
	if err != nil {
		panic(err) // only a cost out of range fails: a programming error
	}
	s.dummy = h
	return s
}

func checkPassword(op, password string) error {
	if len(password) < PasswordLenMin || len(password) > PasswordLenMax {
		return citycard.E(op, citycard.Invalid, "password: want %d to %d bytes, got %d", PasswordLenMin, PasswordLenMax, len(password))
	}
	return nil
}

func staffSubject(name string) string { return "staff:" + name }

// Add stores a new account with password hashed. Kinds Invalid (the name,
// role, point or password), Exists, IO.
func (s *Staffing) Add(ctx context.Context, by Actor, m StaffMember, password string) (StaffMember, error) {
	const op = "cms.Staffing.Add"
	if err := by.check(op); err != nil {
		return StaffMember{}, err
	}
	if err := CheckStaffName(m.Name); err != nil {
		return StaffMember{}, citycard.Wrap(op, citycard.Other, err)
	}
	if m.Role < RoleAuditor || m.Role > RoleAdmin {
		return StaffMember{}, citycard.E(op, citycard.Invalid, "staff %s: role %v", m.Name, m.Role)
	}
	if m.PointType < OwnCounter || m.PointType > BankBranch {
		return StaffMember{}, citycard.E(op, citycard.Invalid, "staff %s: service point type %v", m.Name, m.PointType)
	}
	if m.ServicePoint == "" || len(m.ServicePoint) > ActorLenMax {
		return StaffMember{}, citycard.E(op, citycard.Invalid, "staff %s: service point: want 1 to %d bytes", m.Name, ActorLenMax)
	}
	if m.PointType == BankBranch {
		if err := checkBranchPoint(op, &m); err != nil {
			return StaffMember{}, err
		}
	}
	if err := checkPassword(op, password); err != nil {
		return StaffMember{}, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return StaffMember{}, citycard.E(op, citycard.Other, "staff %s: hashing the password: %w", m.Name, err)
	}
	m.PasswordHash, m.Disabled, m.CreatedAt = h, false, s.now()
	a := &AuditRecord{At: m.CreatedAt, Actor: by.Who, ServicePoint: by.ServicePoint, Subject: staffSubject(m.Name), Action: "add", After: m.Snapshot()}
	if err := s.store.CreateStaff(ctx, &m, a); err != nil {
		return StaffMember{}, citycard.Wrap(op, citycard.Other, err)
	}
	return m, nil
}

// SetDisabled disables an account (its sessions stop at once: every
// request reads the account) or enables it again. Kinds NotFound, IO.
func (s *Staffing) SetDisabled(ctx context.Context, by Actor, name string, disabled bool) error {
	const op = "cms.Staffing.SetDisabled"
	if err := by.check(op); err != nil {
		return err
	}
	m, err := s.store.StaffMember(ctx, name)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	before := m.Snapshot()
	m.Disabled = disabled
	action := "enable"
	if disabled {
		action = "disable"
	}
	a := &AuditRecord{At: s.now(), Actor: by.Who, ServicePoint: by.ServicePoint, Subject: staffSubject(name), Action: action, Before: before, After: m.Snapshot()}
	return citycard.Wrap(op, citycard.Other, s.store.UpdateStaff(ctx, &m, a))
}

// StaffPageMax bounds a page of List.
const StaffPageMax = 1000

// List returns a page of accounts by name: at most limit (1 to
// StaffPageMax), after the name after ("" from the first). Kinds Invalid
// (the limit), IO.
func (s *Staffing) List(ctx context.Context, after string, limit int) ([]StaffMember, error) {
	const op = "cms.Staffing.List"
	if limit < 1 || limit > StaffPageMax {
		return nil, citycard.E(op, citycard.Invalid, "limit %d: want 1 to %d", limit, StaffPageMax)
	}
	l, err := s.store.ListStaff(ctx, after, limit)
	return l, citycard.Wrap(op, citycard.Other, err)
}

// Check checks a member's name and password, rate-limited: from the
// LoginFailureMax-th failure of a name within LoginWindow of its first,
// the name is refused (kind Throttled, with the wait, even with the
// right password) until that window ends; a good login forgets the
// failures. The failures are stored (LoginFailureStore), so that a
// restart or another process over the same store keeps the count and
// the lock. Kind Unauthenticated for a wrong name or password or a
// disabled account (the message does not tell which), Unavailable while
// LoginsAtOnce checks run, IO (the store: never told as a wrong
// password, and the password is then neither told right nor counted).
func (s *Staffing) Check(ctx context.Context, name, password string) (StaffMember, error) {
	const op = "cms.Staffing.Check"
	wrong := citycard.E(op, citycard.Unauthenticated, "wrong name or password, or the account is disabled")
	now := s.now()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		return StaffMember{}, citycard.E(op, citycard.Unavailable, "busy: %d logins are being checked, try again", LoginsAtOnce)
	}
	if CheckStaffName(name) != nil { // no account has that name, nor can: nothing to count
		bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return StaffMember{}, wrong
	}
	subject := staffSubject(name)
	wait, f, err := s.limit.blocked(ctx, subject, now)
	switch {
	case err != nil:
		return StaffMember{}, citycard.Wrap(op, citycard.Other, err)
	case wait > 0:
		return StaffMember{}, citycard.Later(op, wait, "too many failed logins for %q: try again in %d s", name, int(wait.Seconds()+1))
	}
	m, err := s.store.StaffMember(ctx, name)
	switch {
	case citycard.IsKind(err, citycard.NotFound):
		bcrypt.CompareHashAndPassword(s.dummy, []byte(password)) // as long as a known name takes
	case err != nil:
		return StaffMember{}, citycard.Wrap(op, citycard.Other, err)
	case bcrypt.CompareHashAndPassword(m.PasswordHash, []byte(password)) == nil && !m.Disabled:
		if err := s.limit.succeeded(ctx, op, subject, f, now); err != nil {
			return StaffMember{}, err
		}
		return m, nil
	}
	if err := s.limit.failed(ctx, op, subject, f, now); err != nil {
		return StaffMember{}, err
	}
	return StaffMember{}, wrong
}

// Session is a login: its token (shown once, stored only as its
// SHA-256), the member and the session's end.
type Session struct {
	Token   string
	Member  StaffMember
	Expires time.Time
}

// Login checks name and password (Check) and opens a session of the
// configured lifetime. Kinds of Check, IO.
func (s *Staffing) Login(ctx context.Context, name, password string) (Session, error) {
	const op = "cms.Staffing.Login"
	m, err := s.Check(ctx, name, password)
	if err != nil {
		return Session{}, err
	}
	var raw [32]byte
	if _, err := io.ReadFull(s.random, raw[:]); err != nil {
		return Session{}, citycard.E(op, citycard.IO, "drawing a session token: %w", err)
	}
	tok := hex.EncodeToString(raw[:])
	now := s.now()
	exp := now.Add(s.ttl)
	if err := s.store.CreateSession(ctx, sha256.Sum256([]byte(tok)), m.Name, exp, now); err != nil {
		return Session{}, citycard.Wrap(op, citycard.Other, err)
	}
	return Session{Token: tok, Member: m, Expires: exp}, nil
}

// Authenticate returns the member of a session token. Kind
// Unauthenticated for a token unknown, expired, or of a disabled account;
// IO.
func (s *Staffing) Authenticate(ctx context.Context, token string) (StaffMember, error) {
	const op = "cms.Staffing.Authenticate"
	name, exp, err := s.store.Session(ctx, sha256.Sum256([]byte(token)))
	if citycard.IsKind(err, citycard.NotFound) {
		return StaffMember{}, citycard.E(op, citycard.Unauthenticated, "unknown staff session token")
	}
	if err != nil {
		return StaffMember{}, citycard.Wrap(op, citycard.Other, err)
	}
	if !s.now().Before(exp) {
		return StaffMember{}, citycard.E(op, citycard.Unauthenticated, "the session ended at %s: log in again", exp.UTC().Format(time.RFC3339))
	}
	m, err := s.store.StaffMember(ctx, name)
	if err != nil {
		return StaffMember{}, citycard.Wrap(op, citycard.Other, err)
	}
	if m.Disabled {
		return StaffMember{}, citycard.E(op, citycard.Unauthenticated, "the account of this session is disabled")
	}
	return m, nil
}

// Logout ends a session. Kind IO.
func (s *Staffing) Logout(ctx context.Context, token string) error {
	return citycard.Wrap("cms.Staffing.Logout", citycard.Other, s.store.DeleteSession(ctx, sha256.Sum256([]byte(token))))
}

package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/citycard/citycard"
)

// Role is what a member of staff may do in the console; each includes the
// ones before it. The values are the API's (api.Role), in the same order.
type Role uint8

// The roles.
const (
	RoleAuditor    Role = 1 // read every page
	RoleClerk      Role = 2 // also resubmit rejections and change the blacklist
	RoleSupervisor Role = 3 // also approve what needs a second person
	RoleAdmin      Role = 4 // everything
)

var roleNames = [...]string{RoleAuditor: "auditor", RoleClerk: "clerk", RoleSupervisor: "supervisor", RoleAdmin: "admin"}

// String gives the role's name: auditor, clerk, supervisor or admin
// ("none" otherwise).
func (r Role) String() string {
	if int(r) < len(roleNames) && roleNames[r] != "" {
		return roleNames[r]
	}
	return "none"
}

// Staff is a member of staff logged in.
type Staff struct {
	Name string
	Role Role
	// ServicePoint is where they work (cms.StaffMember's): the audit
	// names it with them for every card move they make.
	ServicePoint string
}

// StaffAuth checks a member of staff's name and secret at login. Kind
// Unauthenticated for a name and secret that do not match; IO or
// Unavailable when it cannot tell (the login page then says to retry).
// Card management's stored staff accounts implement it (the secret is
// the password; cmd/citycard adapts cms.Staffing).
type StaffAuth interface {
	Login(ctx context.Context, name, secret string) (Staff, error)
}

// Session limits.
const (
	// DefaultSessionTTL is how long a session lasts from login: a shift.
	DefaultSessionTTL = 8 * time.Hour
	// DefaultMaxSessions bounds the sessions held in memory.
	DefaultMaxSessions = 1024
	sessionCookie      = "citycard_session"
	loginCookie        = "citycard_login" // the login form's CSRF token, before any session
	tokenBytes         = 32
)

// session is one login: who, until when, and its CSRF token.
type session struct {
	staff   Staff
	csrf    string
	expires time.Time
}

// sessions is the bounded session table. Sessions are kept by the
// SHA-256 of their cookie value, so that the table holds nothing a thief
// of its memory could present.
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]*session
	max int
	ttl time.Duration
	now func() time.Time
}

func newSessions(max int, ttl time.Duration, now func() time.Time) *sessions {
	if max <= 0 {
		max = DefaultMaxSessions
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return &sessions{m: map[[32]byte]*session{}, max: max, ttl: ttl, now: now}
}

// randomToken returns tokenBytes from the system's random source, base64url.
func randomToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails (crypto/rand, Go 1.24 and later)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for st and returns its cookie value. A full
// table first drops the expired sessions, then, if still full, the one
// that expires soonest: a login always succeeds, and the table never
// passes its bound.
func (ss *sessions) create(st Staff) (string, *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	if len(ss.m) >= ss.max {
		for k, s := range ss.m {
			if !now.Before(s.expires) {
				delete(ss.m, k)
			}
		}
	}
	if len(ss.m) >= ss.max {
		var oldest [32]byte
		var at time.Time
		for k, s := range ss.m {
			if at.IsZero() || s.expires.Before(at) {
				oldest, at = k, s.expires
			}
		}
		delete(ss.m, oldest)
	}
	id := randomToken()
	s := &session{staff: st, csrf: randomToken(), expires: now.Add(ss.ttl)}
	ss.m[sha256.Sum256([]byte(id))] = s
	return id, s
}

// get returns the live session of a cookie value; an expired one is
// dropped.
func (ss *sessions) get(id string) (*session, bool) {
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[k]
	if !ok {
		return nil, false
	}
	if !ss.now().Before(s.expires) {
		delete(ss.m, k)
		return nil, false
	}
	return s, true
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, sha256.Sum256([]byte(id)))
}

func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// cookie is a console cookie: HttpOnly, SameSite=Strict, Path=/, Secure
// when the console is served over TLS.
func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.Secure}
}

// sameToken compares two tokens in constant time; an empty one matches
// nothing.
func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// checkCSRF refuses a form whose csrf field (or X-CSRF-Token header, as
// htmx sends it) is not the session's token: kind Permission.
func checkCSRF(r *http.Request, want string) error {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	if !sameToken(got, want) {
		return citycard.E("console.checkCSRF", citycard.Permission, "the form's CSRF token is missing or stale: reload the page")
	}
	return nil
}

package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/whatif"
)

//go:embed assets templates
var files embed.FS

// Acquirer is what the console asks of acquisition: card shadows, and
// the resubmission of rejections. *acquire.Acquirer has it.
type Acquirer interface {
	Shadow(issuer citycard.IssuerCode, asn citycard.ASN) (acquire.Shadow, bool)
	Rejection(ctx context.Context, pos int64) (acquire.PositionedRejection, error)
	Resubmit(ctx context.Context, r acquire.PositionedRejection, by string) (acquire.Answer, error)
	Resubmission(ctx context.Context, r *acquire.PositionedRejection) (acquire.Answer, bool, error)
}

// Journal is what the console reads of the journal: what the tally
// folds, and a batch's records (the drill-down). acquire.Journal has it.
type Journal interface {
	TallyJournal
	BatchRecords(ctx context.Context, terminal citycard.TerminalID, id string, fn func(e *acquire.Journaled) error) error
}

// Terminals lists the registry's terminals (registry.Store has it).
type Terminals interface {
	Terminals(ctx context.Context, operator string) ([]registry.Terminal, error)
}

// Blacklist is the blacklist the console shows and changes
// (*blacklist.List has it).
type Blacklist interface {
	Contains(issuer citycard.IssuerCode, asn citycard.ASN) bool
	Version() int64
	Set(ctx context.Context, c blacklist.Card, added bool, reason, by string) (int64, error)
}

// FareReplays runs the fare what-if (api.Replays has it, with its bounds:
// days per request, time, one at a time).
type FareReplays interface {
	Run(ctx context.Context, from, to, feed, oldFeed string) (*whatif.Report, error)
}

// Console serves the web console. Set the fields, then call Handler.
type Console struct {
	Staff     StaffAuth
	Acquirer  Acquirer
	Journal   Journal
	Terminals Terminals
	Blacklist Blacklist
	Replays   FareReplays     // nil: the fare what-if page says there is none
	Cycles    Cycles          // nil: the clearing page says there are none
	Files     SettlementFiles // nil: no settlement file is sent
	Keys      Keys            // nil: the keys page says there is no key store
	Cards     Cards           // nil: the card page shows the shadow alone
	Apps      Apps            // nil: no application's own page
	Now       func() time.Time
	Logger    *slog.Logger
	// Secure marks the cookies Secure: set it when the console is served
	// over TLS (a browser then never sends them in clear).
	Secure bool
	// MaxSessions and SessionTTL bound the sessions; 0: the defaults.
	MaxSessions int
	SessionTTL  time.Duration

	tally     *Tally
	partyScan int64 // partyScanMax when 0; tests lower it
	sessions  *sessions
	pages     map[string]*template.Template
}

// maxFormBytes bounds a form's body: every console form is a few fields.
const maxFormBytes = 16 << 10

// Handler returns the console's handler. It fails only if an embedded
// template does not parse (a programmer's error the tests catch).
func (c *Console) Handler() (http.Handler, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.tally = NewTally(c.Journal, c.Now)
	c.sessions = newSessions(c.MaxSessions, c.SessionTTL, c.Now)
	if err := c.parsePages(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, rt := range c.routes() {
		mux.HandleFunc(rt.pattern, rt.handler)
	}
	return securityHeaders(mux), nil
}

// routes is the whole console at a glance, each page with the least role
// that may see it; TestEveryPageGuarded checks every route over HTTP.
func (c *Console) routes() []route {
	return []route{
		c.public("GET /login", c.handleLoginPage),
		c.public("POST /login", c.handleLogin),
		c.public("GET /assets/{name}", c.handleAsset),

		c.page("POST /logout", RoleAuditor, c.handleLogout),
		c.page("GET /{$}", RoleAuditor, c.handleOverview),
		c.page("GET /ridership", RoleAuditor, c.handleRidership),
		c.page("GET /rejections", RoleAuditor, c.handleRejections),
		c.page("POST /rejections/{pos}/resubmit", RoleClerk, c.handleResubmit),
		c.page("GET /flagged", RoleAuditor, c.handleFlagged),
		c.page("GET /cards", RoleAuditor, c.handleCard),
		c.page("POST /cards/blacklist", RoleClerk, c.handleBlacklist),
		c.page("POST /cards/move", RoleClerk, c.handleCardMove),
		c.page("POST /cards/replace", RoleClerk, c.handleReplace),
		c.page("GET /cards/refund", RoleClerk, c.handleRefundQuote), // the quote, then the confirmation
		c.page("POST /cards/refund", RoleClerk, c.handleRefund),
		c.page("POST /cards/approval", RoleSupervisor, c.handleApproval), // never the requester's own
		c.page("GET /terminals", RoleAuditor, c.handleTerminals),
		c.page("GET /batches/{terminal}/{batch}", RoleAuditor, c.handleBatch),
		c.page("GET /fares", RoleAuditor, c.handleFares),
		c.page("GET /clearing", RoleAuditor, c.handleCycles),
		c.page("GET /clearing/{day}", RoleAuditor, c.handleCycle),
		c.page("POST /clearing/{day}/sign", RoleSupervisor, c.handleSign),
		c.page("GET /clearing/{day}/parties/{party}", RoleAuditor, c.handlePartyPosition),
		c.page("GET /clearing/{day}/files/{name}", RoleAuditor, c.handleFile),
		c.page("GET /keys", RoleAuditor, c.handleKeys),
		c.page("GET /apps", RoleAuditor, c.handleApps),
		c.page("GET /apps/{app}", RoleAuditor, c.handleApp),
		c.page("GET /apps/{app}/records", RoleAuditor, c.handleAppRecords),
		c.page("GET /apps/{app}/attendance", RoleAuditor, c.handleAttendance), // a school's (attendance.go)
	}
}

type route struct {
	pattern string
	handler http.HandlerFunc
}

// public serves h to anyone: the login page and the assets.
func (c *Console) public(pattern string, h http.HandlerFunc) route { return route{pattern, h} }

// page guards h: a live session (otherwise a GET is sent to the login
// page and anything else refused, kind Unauthenticated), a CSRF token on
// anything but a GET, and at least role (kind Permission).
func (c *Console) page(pattern string, role Role, h func(w http.ResponseWriter, r *http.Request, s *session)) route {
	return route{pattern, func(w http.ResponseWriter, r *http.Request) {
		var s *session
		if ck, err := r.Cookie(sessionCookie); err == nil {
			s, _ = c.sessions.get(ck.Value)
		}
		if s == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, citycard.E("console", citycard.Unauthenticated, "not logged in, or the session expired: log in again"))
			return
		}
		if r.Method != http.MethodGet {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := checkCSRF(r, s.csrf); err != nil {
				c.fail(w, r, s, err)
				return
			}
		}
		if s.staff.Role < role {
			c.fail(w, r, s, citycard.E("console", citycard.Permission, "%s (%v) may not do this: it takes the %v role", s.staff.Name, s.staff.Role, role))
			return
		}
		h(w, r, s)
	}}
}

// securityHeaders sets the headers of every answer: no framing, no
// script or style but the console's own files, no sniffing.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (c *Console) handleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, err := fs.ReadFile(files, "assets/"+name)
	if err != nil || strings.HasPrefix(name, "LICENSE") {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write(b) // the client went away: nothing to do
}

// fail renders err as an error page with its kind's status; the detail of
// a 5xx is logged, not shown.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code := api.HTTPStatus(citycard.KindOf(err)) // the API's one table
	msg := err.Error()
	if code >= 500 {
		c.Logger.Error("console: request failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
		msg = http.StatusText(code) + ": see the server's log"
		if code == http.StatusServiceUnavailable {
			msg += "; retry in a moment"
		}
	}
	c.render(w, r, s, code, "error", "Error", errorPage{Status: code, Message: msg})
}

type errorPage struct {
	Status  int
	Message string
}

// refreshed refreshes the tally for a page; a failure is logged and the
// page shows the figures folded so far, saying so.
func (c *Console) refreshed(ctx context.Context) (Snapshot, error) {
	err := c.tally.Refresh(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		c.Logger.Warn("console: tally refresh", "err", err)
	}
	return c.tally.Snapshot(), err
}

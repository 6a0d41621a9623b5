package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
)

// The application API (/v1/apps/{app}/...): an application system's own
// server (the library's, a school's) asks whether a card may borrow or
// enter, grants and revokes its entitlements. Its token is the one
// citycard app add printed (stored as its SHA-256, as terminals' are);
// {app} is the caller's own ID, and an application sees only the cards
// it has a grant on: another's card is 404, as one that does not exist.

// maxAppBody bounds a grant's body: five short fields.
const maxAppBody = 1024

// appRoute guards h with an application's token (see Server.app): h runs
// only for the application of the path's {app}, and is given it.
func (s *Server) appRoute(pattern string, h func(w http.ResponseWriter, r *http.Request, a apps.App)) route {
	return route{pattern: pattern, app: true, handler: func(w http.ResponseWriter, r *http.Request) {
		a, err := s.app(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, a)
	}}
}

// app authenticates the request as the application of its {app}: kind
// Unauthenticated without a token or with one that names none,
// Permission for another application's path.
func (s *Server) app(r *http.Request) (apps.App, error) {
	const op = "api.app"
	tok := bearer(r)
	if tok == "" {
		return apps.App{}, citycard.E(op, citycard.Unauthenticated, "no application token (Authorization: Bearer)")
	}
	if s.Apps == nil {
		return apps.App{}, citycard.E(op, citycard.Unauthenticated, "no application systems on this server")
	}
	a, err := s.Apps.Authenticate(r.Context(), tok)
	if err != nil {
		return apps.App{}, citycard.Wrap(op, authKind(err, citycard.Unauthenticated), err)
	}
	if a.ID != r.PathValue("app") {
		return apps.App{}, citycard.E(op, citycard.Permission, "application %s may not act for %q", a.ID, r.PathValue("app"))
	}
	return a, nil
}

// appCard reads the path's card.
func appCard(r *http.Request, op string) (apps.CardRef, error) {
	issuer, asn, err := cardPath(r, op)
	return apps.CardRef{Issuer: issuer, ASN: asn}, err
}

// EntitlementJSON is an application's grant on a card as the API (and
// citycard app show --json) shows it: dates YYYYMMDD as the entitlement
// file holds them.
type EntitlementJSON struct {
	App         string `json:"app"`
	Issuer      string `json:"issuer"`
	ASN         string `json:"asn"`
	Kind        string `json:"kind"`
	Scope       uint32 `json:"scope"`
	ValidFrom   string `json:"valid_from"`
	ValidTo     string `json:"valid_to"`
	Class       uint16 `json:"class"`
	Limit       uint16 `json:"limit"`
	State       string `json:"state"`
	ChangedAt   string `json:"changed_at"`
	FileVersion uint32 `json:"file_version,omitempty"` // to a grant or a revocation: the card's entitlement file version now
}

// NewEntitlementJSON returns g's answer; version 0 leaves file_version
// out.
func NewEntitlementJSON(g *apps.Grant, version uint32) EntitlementJSON {
	return EntitlementJSON{App: g.App, Issuer: g.Card.Issuer.String(), ASN: g.Card.ASN.String(), Kind: g.Slot.App.String(), Scope: g.Slot.Scope,
		ValidFrom: g.Slot.ValidFrom.String(), ValidTo: g.Slot.ValidTo.String(), Class: g.Slot.Class, Limit: g.Slot.Limit,
		State: g.State.String(), ChangedAt: formatTime(g.ChangedAt), FileVersion: version}
}

// handleAppEntitlement answers the application's grant on the card (404
// if it has none).
func (s *Server) handleAppEntitlement(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appEntitlement"
	c, err := appCard(r, op)
	var g apps.Grant
	if err == nil {
		g, err = s.Apps.Entitlement(r.Context(), a.ID, c)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.reply(w, r, http.StatusOK, NewEntitlementJSON(&g, 0))
}

// checkJSON is the answer to "may this card do this today?".
type checkJSON struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"` // allowed, wrong_application, expired, blacklisted, venue_full
	Action  string `json:"action"`
	Date    string `json:"date"`
}

// handleAppCheck answers ?action=loan|return|check-in|check-out|admission
// &date=YYYYMMDD[&time=HHMMSS] from the back office's grant and, for an
// admission at a venue that sells by period, the period's admissions
// received (apps.Office.CheckAt: the time is then required).
func (s *Server) handleAppCheck(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appCheck"
	c, err := appCard(r, op)
	action, err := parseAction(op, r.URL.Query().Get("action"), err)
	var day citycard.BCDDate
	if err == nil {
		if day, err = apps.ParseDate(r.URL.Query().Get("date")); err != nil {
			err = citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	var at *citycard.BCDTime
	if err == nil && r.URL.Query().Has("time") {
		var tm citycard.BCDTime
		if tm, err = apps.ParseTime(r.URL.Query().Get("time")); err != nil {
			err = citycard.Wrap(op, citycard.Invalid, err)
		}
		at = &tm
	}
	var reason apps.Reason
	if err == nil {
		reason, _, err = s.Apps.CheckAt(r.Context(), a.ID, c, action, day, at)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.reply(w, r, http.StatusOK, checkJSON{Allowed: reason == apps.Allowed, Reason: reason.String(), Action: action.String(), Date: day.String()})
}

// parseAction parses an action's name, unless err is already set.
func parseAction(op, name string, err error) (apps.Action, error) {
	if err != nil {
		return 0, err
	}
	for _, a := range []apps.Action{apps.CheckIn, apps.CheckOut, apps.Admit, apps.Loan, apps.Return, apps.Hire} {
		if a.String() == name {
			return a, nil
		}
	}
	return 0, citycard.E(op, citycard.Invalid, "action %q: want check-in, check-out, admission, loan, return or hire", name)
}

// handleAppGrant gives the card the application's entitlement:
// {"valid_from", "valid_to" (YYYYMMDD), "class", "limit"}.
func (s *Server) handleAppGrant(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appGrant"
	c, err := appCard(r, op)
	var from, to string
	var class, limit int64
	if err == nil {
		err = readBody(w, r, op, "grant", maxAppBody, []field{
			{"valid_from", readString(&from)}, {"valid_to", readString(&to)},
			{"class", readInt(&class, 0, 1<<16-1)}, {"limit", readInt(&limit, 0, 1<<16-1)},
		})
	}
	t := apps.Terms{Class: uint16(class), Limit: uint16(limit)}
	if err == nil {
		t.ValidFrom, err = apps.ParseDate(from)
	}
	if err == nil {
		t.ValidTo, err = apps.ParseDate(to)
	}
	var g apps.Grant
	var v uint32
	if err == nil {
		g, v, err = s.Apps.Grant(r.Context(), a.ID, c, t)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.Logger.Info("entitlement granted", "app", a.ID, "card", c.String(), "file_version", v)
	s.reply(w, r, http.StatusOK, NewEntitlementJSON(&g, v))
}

// handleAppRevoke ends the application's grant on the card (404 if it
// has none, 409 if it is not active).
func (s *Server) handleAppRevoke(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appRevoke"
	c, err := appCard(r, op)
	var g apps.Grant
	var v uint32
	if err == nil {
		g, v, err = s.Apps.Revoke(r.Context(), a.ID, c)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.Logger.Info("entitlement revoked", "app", a.ID, "card", c.String(), "file_version", v)
	s.reply(w, r, http.StatusOK, NewEntitlementJSON(&g, v))
}

// appRecordJSON is one of an application's records.
type appRecordJSON struct {
	Pos         int64  `json:"pos"`
	Issuer      string `json:"issuer"`
	ASN         string `json:"asn"`
	Terminal    string `json:"terminal"`
	TerminalSeq uint32 `json:"terminal_seq"`
	Action      string `json:"action"`
	Date        string `json:"date"` // YYYYMMDD
	Time        string `json:"time"` // HHMMSS
	Place       uint32 `json:"place"`
	Uses        uint32 `json:"uses"`
	Counter     uint16 `json:"counter"`
	Flag        string `json:"flag,omitempty"` // what the back office saw on filing it: canteen_limit
}

type appRecordsJSON struct {
	Records []appRecordJSON `json:"records"`
	// Next is the after of the next page; absent on the last.
	Next int64 `json:"next,omitempty"`
}

// handleAppRecords answers the application's records after journal
// position after (default 0), limit of them (1 to apps.RecordsPageMax,
// default the most), by position.
func (s *Server) handleAppRecords(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appRecords"
	q := r.URL.Query()
	after, limit := int64(0), apps.RecordsPageMax
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			err = citycard.E(op, citycard.Invalid, "after=%q: want a journal position, 0 or more", v)
		}
	}
	if v := q.Get("limit"); v != "" && err == nil {
		if n, perr := strconv.Atoi(v); perr != nil || n < 1 || n > apps.RecordsPageMax {
			err = citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, apps.RecordsPageMax)
		} else {
			limit = n
		}
	}
	var recs []apps.AppRecord
	if err == nil {
		recs, err = s.Apps.Records(r.Context(), a.ID, after, limit)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	out := appRecordsJSON{Records: make([]appRecordJSON, 0, len(recs))}
	for _, x := range recs {
		out.Records = append(out.Records, appRecordJSON{Pos: x.Pos, Issuer: x.Card.Issuer.String(), ASN: x.Card.ASN.String(), Terminal: x.Terminal.String(),
			TerminalSeq: x.TerminalSeq, Action: x.Action.String(), Date: x.Date.String(), Time: fmt.Sprintf("%X", x.Time[:]), Place: x.Place, Uses: x.Uses, Counter: x.Counter, Flag: x.Flag})
	}
	if len(recs) == limit {
		out.Next = recs[len(recs)-1].Pos
	}
	s.reply(w, r, http.StatusOK, out)
}

// AppReportJSON is an application's daily report, as the API and
// citycard app report --json show it.
type AppReportJSON struct {
	App     string              `json:"app"`
	Date    string              `json:"date"` // YYYYMMDD
	Actions []AppReportLineJSON `json:"actions"`
}

// AppReportLineJSON is one action's line of a daily report.
type AppReportLineJSON struct {
	Action string `json:"action"`
	Taps   int64  `json:"taps"`
	Cards  int64  `json:"cards"` // distinct cards
}

// NewAppReportJSON returns the report's answer.
func NewAppReportJSON(app string, day citycard.BCDDate, counts []apps.ActionCount) AppReportJSON {
	out := AppReportJSON{App: app, Date: day.String(), Actions: make([]AppReportLineJSON, 0, len(counts))}
	for _, c := range counts {
		out.Actions = append(out.Actions, AppReportLineJSON{Action: c.Action.String(), Taps: c.Taps, Cards: c.Cards})
	}
	return out
}

// handleAppReport answers the application's report of {day} (YYYYMMDD).
func (s *Server) handleAppReport(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appReport"
	day, err := apps.ParseDate(r.PathValue("day"))
	var counts []apps.ActionCount
	if err == nil {
		counts, err = s.Apps.Report(r.Context(), a.ID, day)
	}
	if err != nil {
		// ParseDate's kind is Invalid; the store's (IO) stays its own.
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.reply(w, r, http.StatusOK, NewAppReportJSON(a.ID, day, counts))
}

// AttendanceJSON is a class's day (apps.Attendance), as the API and
// citycard app report attendance --json show it.
type AttendanceJSON struct {
	App       string                `json:"app"`
	Class     uint16                `json:"class"`
	Date      string                `json:"date"`       // YYYYMMDD
	LateAfter string                `json:"late_after"` // HHMMSS: a first check-in after it is late
	SchoolDay bool                  `json:"school_day"` // false: not a school day of the school's calendar, nobody absent or late
	Present   int                   `json:"present"`
	Late      int                   `json:"late"`
	Absent    int                   `json:"absent"`
	Pupils    []AttendancePupilJSON `json:"pupils"`
}

// AttendancePupilJSON is one pupil's line of a class's day.
type AttendancePupilJSON struct {
	Issuer       string `json:"issuer"`
	ASN          string `json:"asn"`
	Presence     string `json:"presence"`       // present, late, absent or no_school
	FirstCheckIn string `json:"first_check_in"` // HHMMSS; empty for none
	LastCheckOut string `json:"last_check_out"` // HHMMSS; empty for none
	Taps         int    `json:"taps"`           // the day's check-ins and check-outs
}

// NewAttendanceJSON returns the attendance report's answer.
func NewAttendanceJSON(a *apps.Attendance) AttendanceJSON {
	out := AttendanceJSON{App: a.App, Class: a.Class, Date: a.Date.String(), LateAfter: a.Late.String(), SchoolDay: a.SchoolDay, Present: a.Present, Late: a.Lates, Absent: a.Absent,
		Pupils: make([]AttendancePupilJSON, 0, len(a.Pupils))}
	for _, r := range a.Rows() {
		out.Pupils = append(out.Pupils, AttendancePupilJSON{Issuer: r[3], ASN: r[4], Presence: r[5], FirstCheckIn: r[6], LastCheckOut: r[7]})
	}
	for i := range a.Pupils {
		out.Pupils[i].Taps = a.Pupils[i].Taps
	}
	return out
}

// handleAppAttendance answers a school's attendance of one class on one
// day (apps.Office.Attendance): ?date=YYYYMMDD&class=N (1 to 65535)
// [&late=HHMMSS, default apps.AttendanceLateDefault]. 422 for a query
// missing or out of range, an application that is not a school's, or a
// class over the report's bounds.
func (s *Server) handleAppAttendance(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appAttendance"
	q := r.URL.Query()
	day, err := apps.ParseDate(q.Get("date"))
	var class uint64
	if err == nil {
		if class, err = strconv.ParseUint(q.Get("class"), 10, 16); err != nil || class == 0 {
			err = citycard.E(op, citycard.Invalid, "class=%q: want 1 to 65535", q.Get("class"))
		}
	}
	var late citycard.BCDTime
	if v := q.Get("late"); v != "" && err == nil {
		late, err = apps.ParseTime(v)
	}
	var rep apps.Attendance
	if err == nil {
		rep, err = s.Apps.Attendance(r.Context(), a.ID, uint16(class), day, late)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.reply(w, r, http.StatusOK, NewAttendanceJSON(&rep))
}

// gateVersionJSON is one card's version a gate requires.
type gateVersionJSON struct {
	Seq     int64  `json:"seq"`
	Issuer  string `json:"issuer"`
	ASN     string `json:"asn"`
	Version uint32 `json:"version"` // the least entitlement file version the gate accepts of the card
}

type gateVersionsJSON struct {
	Versions []gateVersionJSON `json:"versions"`
	// More says the page was full: ask again after the last seq.
	More bool `json:"more"`
}

// handleGateVersions answers a gate its application's gate versions
// (apps.Office.GateVersions): ?kind= (campus, library, venue, site,
// parking, bike) &scope=N (the gate's application) &after=SEQ (default 0)
// &limit=N (1 to apps.GateVersionsPageMax, the default). The
// application must be operated by the terminal's operator (another's:
// 404). 503 without the application systems or the terminals'
// registrations (Server.Gates).
func (s *Server) handleGateVersions(w http.ResponseWriter, r *http.Request, id citycard.TerminalID) {
	const op = "api.gateVersions"
	q := r.URL.Query()
	kind, err := apps.ParseApp(q.Get("kind"))
	var scope uint64
	if err == nil {
		if scope, err = strconv.ParseUint(q.Get("scope"), 10, 32); err != nil {
			err = citycard.E(op, citycard.Invalid, "scope=%q: want the application's scope code, 0 to %d", q.Get("scope"), uint32(1<<32-1))
		}
	}
	after, limit := int64(0), apps.GateVersionsPageMax
	if v := q.Get("after"); v != "" && err == nil {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			err = citycard.E(op, citycard.Invalid, "after=%q: want a change's number, 0 or more", v)
		}
	}
	if v := q.Get("limit"); v != "" && err == nil {
		if n, perr := strconv.Atoi(v); perr != nil || n < 1 || n > apps.GateVersionsPageMax {
			err = citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, apps.GateVersionsPageMax)
		} else {
			limit = n
		}
	}
	if err == nil && (s.Apps == nil || s.Gates == nil) {
		err = citycard.E(op, citycard.Unavailable, "no application systems on this server")
	}
	var vs []apps.GateVersion
	if err == nil {
		var t acquire.TerminalInfo
		if t, err = s.Gates.Terminal(r.Context(), id); err == nil {
			vs, err = s.Apps.GateVersions(r.Context(), t.Operator, kind, uint32(scope), after, limit)
		}
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	out := gateVersionsJSON{Versions: make([]gateVersionJSON, 0, len(vs)), More: len(vs) == limit}
	for _, v := range vs {
		out.Versions = append(out.Versions, gateVersionJSON{Seq: v.Seq, Issuer: v.Card.Issuer.String(), ASN: v.Card.ASN.String(), Version: v.Version})
	}
	s.reply(w, r, http.StatusOK, out)
}

// appEventJSON is one event of an application's outbox as it polls it.
type appEventJSON struct {
	ID          int64           `json:"id"`
	Type        string          `json:"type"`
	Key         string          `json:"idempotency_key"`
	Body        json.RawMessage `json:"body"`         // what the webhook posts
	DeliveredAt string          `json:"delivered_at"` // "" until its webhook took it (never, without a webhook URL)
	Attempts    int             `json:"attempts"`
	Failed      bool            `json:"failed"`
}

type appEventsJSON struct {
	Events []appEventJSON `json:"events"`
	// Next is the after of the next page; absent on the last.
	Next int64 `json:"next,omitempty"`
}

// handleAppEvents answers the application's outbox (lifecycle events,
// a school's check-ins and check-outs) after outbox ID after (default
// 0), limit of them (1 to apps.EventsPageMax, the default), by ID: what
// an application without a webhook polls.
func (s *Server) handleAppEvents(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appEvents"
	q := r.URL.Query()
	after, limit := int64(0), apps.EventsPageMax
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			err = citycard.E(op, citycard.Invalid, "after=%q: want an event ID, 0 or more", v)
		}
	}
	if v := q.Get("limit"); v != "" && err == nil {
		if n, perr := strconv.Atoi(v); perr != nil || n < 1 || n > apps.EventsPageMax {
			err = citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, apps.EventsPageMax)
		} else {
			limit = n
		}
	}
	var evs []apps.Event
	if err == nil {
		evs, err = s.Apps.Events(r.Context(), a.ID, after, limit)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	out := appEventsJSON{Events: make([]appEventJSON, 0, len(evs))}
	for _, e := range evs {
		d := ""
		if !e.DeliveredAt.IsZero() {
			d = formatTime(e.DeliveredAt)
		}
		out.Events = append(out.Events, appEventJSON{ID: e.ID, Type: e.Type, Key: e.Key, Body: json.RawMessage(e.Body), DeliveredAt: d, Attempts: e.Attempts, Failed: e.Failed})
	}
	if len(evs) == limit {
		out.Next = evs[len(evs)-1].ID
	}
	s.reply(w, r, http.StatusOK, out)
}

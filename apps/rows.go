package apps

import (
	"encoding/hex"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// The stores' spelling of an application and of a grant, shared so that
// both write and read them alike: times as Unix nanoseconds, kinds and
// states by name, hashes, issuers, ASNs and dates as upper-case hex.
const (
	AppColumns   = "id, name, kind, scope, party, credential, webhook_url, webhook_secret, created_ns"
	EventColumns = "id, app, key, type, body, attempts, next_ns, delivered_ns, failed"
	GrantColumns = "app, issuer, asn, kind, scope, valid_from, valid_to, class, limit_n, state, changed_ns, uses, inside_since"
)

// Scanner is a row: *sql.Row, *sql.Rows, pgx.Row.
type Scanner interface{ Scan(dest ...any) error }

func hexOf(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// AppArgs returns a's values in AppColumns' order.
func AppArgs(a *App) []any {
	return []any{a.ID, a.Name, a.Kind.String(), int64(a.Scope), a.Party, CredentialArg(a.Credential), a.WebhookURL, a.WebhookSecret, a.CreatedAt.UnixNano()}
}

// ScanApp reads an application from a row of AppColumns. Kind Invalid
// for a value that is none.
func ScanApp(row Scanner) (App, error) {
	const op = "apps.ScanApp"
	var a App
	var kind, cred string
	var scope, created int64
	if err := row.Scan(&a.ID, &a.Name, &kind, &scope, &a.Party, &cred, &a.WebhookURL, &a.WebhookSecret, &created); err != nil {
		return a, err
	}
	k, err := card.ParseApplication(kind)
	if err != nil {
		return a, citycard.Wrap(op, citycard.Invalid, err)
	}
	if err := unhex(op, "credential", cred, a.Credential[:]); err != nil {
		return a, err
	}
	a.Kind, a.Scope, a.CreatedAt = k, uint32(scope), time.Unix(0, created).UTC()
	return a, nil
}

// CredentialArg returns a credential hash as the stores keep it.
func CredentialArg(h [32]byte) string { return hexOf(h[:]) }

// CardArgs returns c's issuer and ASN as the stores key them.
func CardArgs(c CardRef) []any { return []any{hexOf(c.Issuer[:]), hexOf(c.ASN[:])} }

// GrantArgs returns g's values in GrantColumns' order.
func GrantArgs(g *Grant) []any {
	return []any{g.App, hexOf(g.Card.Issuer[:]), hexOf(g.Card.ASN[:]), g.Slot.App.String(), int64(g.Slot.Scope),
		hexOf(g.Slot.ValidFrom[:]), hexOf(g.Slot.ValidTo[:]), int64(g.Slot.Class), int64(g.Slot.Limit), g.State.String(), g.ChangedAt.UnixNano(), int64(g.Slot.Uses),
		insideSince(&g.Slot)}
}

// insideSince is the inside a grant carries (Grant.Slot: a
// replacement's bike out, Follow) as the store keeps it: its last
// stamp, YYYYMMDDHHMMSS; "" for none.
func insideSince(e *card.Entitlement) string {
	if !e.Inside {
		return ""
	}
	return hexOf(e.LastDate[:]) + hexOf(e.LastTime[:])
}

// ScanGrant reads a grant from a row of GrantColumns. Kind Invalid for a
// value that is none.
func ScanGrant(row Scanner) (Grant, error) {
	const op = "apps.ScanGrant"
	var g Grant
	var issuer, asn, kind, from, to, state, since string
	var scope, class, limit, changed, uses int64
	if err := row.Scan(&g.App, &issuer, &asn, &kind, &scope, &from, &to, &class, &limit, &state, &changed, &uses, &since); err != nil {
		return g, err
	}
	var err error
	if g.Slot.App, err = card.ParseApplication(kind); err != nil {
		return g, citycard.Wrap(op, citycard.Invalid, err)
	}
	if g.State, err = ParseGrantState(state); err != nil {
		return g, citycard.Wrap(op, citycard.Invalid, err)
	}
	for _, f := range []struct {
		name string
		s    string
		b    []byte
	}{{"issuer", issuer, g.Card.Issuer[:]}, {"asn", asn, g.Card.ASN[:]}, {"valid_from", from, g.Slot.ValidFrom[:]}, {"valid_to", to, g.Slot.ValidTo[:]}} {
		if err := unhex(op, f.name, f.s, f.b); err != nil {
			return g, err
		}
	}
	g.Slot.Scope, g.Slot.Class, g.Slot.Limit, g.ChangedAt = uint32(scope), uint16(class), uint16(limit), time.Unix(0, changed).UTC()
	g.Slot.Uses = uint16(uses)
	if since != "" {
		var b [7]byte
		if err := unhex(op, "inside_since", since, b[:]); err != nil {
			return g, err
		}
		g.Slot.Inside, g.Slot.LastDate, g.Slot.LastTime = true, citycard.BCDDate(b[:4]), citycard.BCDTime(b[4:])
	}
	return g, nil
}

func unhex(op, field, s string, dst []byte) error {
	if len(s) != 2*len(dst) {
		return citycard.E(op, citycard.Invalid, "%s %q: want %d hex digits", field, s, 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return citycard.E(op, citycard.Invalid, "%s %q: %w", field, s, err)
	}
	return nil
}

// ParseCard parses ISSUER/ASN (16 hex digits, a slash, 16 or 20 hex
// digits). Kind Invalid.
func ParseCard(s string) (CardRef, error) {
	const op = "apps.ParseCard"
	i, a, ok := strings.Cut(s, "/")
	if !ok {
		return CardRef{}, citycard.E(op, citycard.Invalid, "card %q: want ISSUER/ASN", s)
	}
	var c CardRef
	var err error
	if c.Issuer, err = citycard.ParseIssuerCode(i); err != nil {
		return CardRef{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	if c.ASN, err = citycard.ParseASN(a); err != nil {
		return CardRef{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	return c, nil
}

// ParseDate parses a day as YYYYMMDD into a BCD date. Kind Invalid.
func ParseDate(s string) (citycard.BCDDate, error) {
	t, err := time.Parse("20060102", s)
	if err != nil || len(s) != 8 {
		return citycard.BCDDate{}, citycard.E("apps.ParseDate", citycard.Invalid, "date %q: want YYYYMMDD", s)
	}
	d, _ := citycard.DateTime(t)
	return d, nil
}

// ParseTime parses a time of day as HHMMSS into a BCD time. Kind
// Invalid.
func ParseTime(s string) (citycard.BCDTime, error) {
	t, err := time.Parse("150405", s)
	if err != nil || len(s) != 6 {
		return citycard.BCDTime{}, citycard.E("apps.ParseTime", citycard.Invalid, "time %q: want HHMMSS", s)
	}
	_, tm := citycard.DateTime(t)
	return tm, nil
}

// Rows is a result set: *sql.Rows, pgx.Rows.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// ScanApps reads every row of AppColumns.
func ScanApps(rows Rows) ([]App, error) { return scanAll(rows, ScanApp) }

// ScanGrants reads every row of GrantColumns.
func ScanGrants(rows Rows) ([]Grant, error) { return scanAll(rows, ScanGrant) }

func scanAll[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// EventArgs returns e's values in EventColumns' order, the ID left out
// (the store numbers events).
func EventArgs(e *Event) []any {
	failed, delivered := 0, int64(0)
	if e.Failed {
		failed = 1
	}
	if !e.DeliveredAt.IsZero() {
		delivered = e.DeliveredAt.UnixNano()
	}
	return []any{e.App, e.Key, e.Type, e.Body, int64(e.Attempts), e.NextAt.UnixNano(), delivered, failed}
}

// ScanEvent reads an event from a row of EventColumns.
func ScanEvent(row Scanner) (Event, error) {
	var e Event
	var attempts, next, delivered, failed int64
	if err := row.Scan(&e.ID, &e.App, &e.Key, &e.Type, &e.Body, &attempts, &next, &delivered, &failed); err != nil {
		return e, err
	}
	e.Attempts, e.NextAt, e.Failed = int(attempts), time.Unix(0, next).UTC(), failed != 0
	if delivered != 0 {
		e.DeliveredAt = time.Unix(0, delivered).UTC()
	}
	return e, nil
}

// ScanEvents reads every row of EventColumns.
func ScanEvents(rows Rows) ([]Event, error) { return scanAll(rows, ScanEvent) }

// PutGrants is a store's ApplyLifecycle part on grants: bump each card
// they name once, in order, then put each grant and set its
// application's gate version of its card to the card's new version.
func PutGrants(grants []Grant, put func(*Grant) error, bump func(CardRef) (uint32, error), gate func(g *Grant, version uint32) error) error {
	versions := map[CardRef]uint32{}
	for i := range grants {
		if c := grants[i].Card; versions[c] == 0 {
			v, err := bump(c)
			if err != nil {
				return err
			}
			versions[c] = v
		}
	}
	for i := range grants {
		if err := put(&grants[i]); err != nil {
			return err
		}
		if err := gate(&grants[i], versions[grants[i].Card]); err != nil {
			return err
		}
	}
	return nil
}

// GateVersionColumns is the stores' spelling of a gate version.
const GateVersionColumns = "seq, issuer, asn, version"

// ScanGateVersion reads a gate version from a row of GateVersionColumns.
func ScanGateVersion(row Scanner) (GateVersion, error) {
	const op = "apps.ScanGateVersion"
	var v GateVersion
	var issuer, asn string
	var version int64
	if err := row.Scan(&v.Seq, &issuer, &asn, &version); err != nil {
		return v, err
	}
	if err := unhex(op, "issuer", issuer, v.Card.Issuer[:]); err != nil {
		return v, err
	}
	if err := unhex(op, "asn", asn, v.Card.ASN[:]); err != nil {
		return v, err
	}
	v.Version = uint32(version)
	return v, nil
}

// ScanGateVersions reads every row of GateVersionColumns.
func ScanGateVersions(rows Rows) ([]GateVersion, error) { return scanAll(rows, ScanGateVersion) }

// QuarantineColumns is the stores' spelling of a quarantined audit
// record.
const QuarantineColumns = "audit_seq, subject, action, reason, at_ns"

// QuarantineArgs returns q's values in QuarantineColumns' order.
func QuarantineArgs(q *Quarantined) []any {
	return []any{q.Seq, q.Subject, q.Action, q.Reason, q.At.UnixNano()}
}

// ScanQuarantined reads every row of QuarantineColumns.
func ScanQuarantined(rows Rows) ([]Quarantined, error) {
	return scanAll(rows, func(row Scanner) (Quarantined, error) {
		var q Quarantined
		var at int64
		err := row.Scan(&q.Seq, &q.Subject, &q.Action, &q.Reason, &at)
		q.At = time.Unix(0, at).UTC()
		return q, err
	})
}

// RecordColumns is the stores' spelling of an application record.
const RecordColumns = "pos, app, issuer, asn, terminal, terminal_seq, action, date, time, place, uses, counter, flag"

// RecordArgs returns r's values in RecordColumns' order.
func RecordArgs(r *AppRecord) []any {
	return []any{r.Pos, r.App, hexOf(r.Card.Issuer[:]), hexOf(r.Card.ASN[:]), hexOf(r.Terminal[:]), int64(r.TerminalSeq), int64(r.Action),
		hexOf(r.Date[:]), hexOf(r.Time[:]), int64(r.Place), int64(r.Uses), int64(r.Counter), r.Flag}
}

// DateArg returns a day as the stores keep it.
func DateArg(d citycard.BCDDate) string { return hexOf(d[:]) }

// ScanRecord reads a record from a row of RecordColumns.
func ScanRecord(row Scanner) (AppRecord, error) {
	const op = "apps.ScanRecord"
	var r AppRecord
	var issuer, asn, term, date, tm string
	var seq, action, place, uses, counter int64
	if err := row.Scan(&r.Pos, &r.App, &issuer, &asn, &term, &seq, &action, &date, &tm, &place, &uses, &counter, &r.Flag); err != nil {
		return r, err
	}
	for _, f := range []struct {
		name, s string
		b       []byte
	}{{"issuer", issuer, r.Card.Issuer[:]}, {"asn", asn, r.Card.ASN[:]}, {"terminal", term, r.Terminal[:]}, {"date", date, r.Date[:]}, {"time", tm, r.Time[:]}} {
		if err := unhex(op, f.name, f.s, f.b); err != nil {
			return r, err
		}
	}
	r.TerminalSeq, r.Action, r.Place, r.Uses, r.Counter = uint32(seq), Action(action), uint32(place), uint32(uses), uint16(counter)
	return r, nil
}

// ScanRecords reads every row of RecordColumns.
func ScanRecords(rows Rows) ([]AppRecord, error) { return scanAll(rows, ScanRecord) }

// ScanCounts reads rows of action, taps, cards.
func ScanCounts(rows Rows) ([]ActionCount, error) {
	return scanAll(rows, func(row Scanner) (ActionCount, error) {
		var c ActionCount
		var a int64
		err := row.Scan(&a, &c.Taps, &c.Cards)
		c.Action = Action(a)
		return c, err
	})
}

// ClassGrantsQuery and ClassRecordsQuery are the stores' reads of one
// class (Store.ClassGrants, Store.ClassRecords), in the $N parameters
// both engines take, ClassArgs' values.
const (
	ClassGrantsQuery = `SELECT ` + GrantColumns + ` FROM apps_grants
		WHERE app = $1 AND class = $2 AND valid_from <= $3 AND valid_to >= $3 AND state <> 'revoked' ORDER BY issuer, asn LIMIT $4`
	ClassRecordsQuery = `SELECT ` + RecordColumns + ` FROM apps_records WHERE app = $1 AND date = $3
		AND (issuer, asn) IN (SELECT issuer, asn FROM apps_grants WHERE app = $1 AND class = $2) ORDER BY pos LIMIT $4`
)

// ClassesQuery is the stores' read of a school's classes of a day
// (Store.Classes): app, day, limit.
const ClassesQuery = `SELECT DISTINCT class FROM apps_grants
	WHERE app = $1 AND class > 0 AND valid_from <= $2 AND valid_to >= $2 AND state <> 'revoked' ORDER BY class LIMIT $3`

// ScanClasses reads every row of ClassesQuery.
func ScanClasses(rows Rows) ([]uint16, error) {
	return scanAll(rows, func(row Scanner) (uint16, error) {
		var c int64
		err := row.Scan(&c)
		return uint16(c), err
	})
}

// ClassArgs returns the values of ClassGrantsQuery and ClassRecordsQuery.
func ClassArgs(app string, class uint16, day citycard.BCDDate, limit int) []any {
	return []any{app, int(class), DateArg(day), limit}
}

// PeriodColumns is the stores' spelling of a venue's period (table
// apps_periods, with its app): times as upper-case hex of their BCD.
const PeriodColumns = "start, end_time, capacity"

// PeriodArgs returns p's values in PeriodColumns' order.
func PeriodArgs(p *Period) []any { return []any{hexOf(p.Start[:]), hexOf(p.End[:]), p.Capacity} }

// TimeArg returns a time of day as the stores keep it.
func TimeArg(t citycard.BCDTime) string { return hexOf(t[:]) }

// ScanPeriods reads every row of PeriodColumns.
func ScanPeriods(rows Rows) ([]Period, error) {
	return scanAll(rows, func(row Scanner) (Period, error) {
		var p Period
		var start, end string
		if err := row.Scan(&start, &end, &p.Capacity); err != nil {
			return p, err
		}
		if err := unhex("apps.ScanPeriods", "start", start, p.Start[:]); err != nil {
			return p, err
		}
		return p, unhex("apps.ScanPeriods", "end", end, p.End[:])
	})
}

// PeriodAdmissionsQuery is the stores' count of a period's admissions
// (Store.PeriodAdmissions), in the $N parameters both engines take:
// app, action, day, start, end.
const PeriodAdmissionsQuery = `SELECT COUNT(*) FROM apps_records WHERE app = $1 AND date = $3 AND action = $2 AND time >= $4 AND time < $5`

// PeriodAdmissionsArgs returns the values of PeriodAdmissionsQuery.
func PeriodAdmissionsArgs(app string, day citycard.BCDDate, start, end citycard.BCDTime) []any {
	return []any{app, int64(Admit), DateArg(day), TimeArg(start), TimeArg(end)}
}

// CalendarColumns is the stores' spelling of a day of a school's
// calendar (table apps_calendar, with its app): the date as upper-case
// hex of its BCD, school 1 for a make-up day, 0 for a holiday.
const CalendarColumns = "date, school"

// CalendarArgs returns the rows of c, each in CalendarColumns' order.
func CalendarArgs(c *Calendar) [][]any {
	out := make([][]any, 0, len(c.Holidays)+len(c.MakeUpDays))
	for _, d := range c.Holidays {
		out = append(out, []any{DateArg(d), int64(0)})
	}
	for _, d := range c.MakeUpDays {
		out = append(out, []any{DateArg(d), int64(1)})
	}
	return out
}

// ScanCalendar reads every row of CalendarColumns, by date, into a
// calendar.
func ScanCalendar(rows Rows) (Calendar, error) {
	type day struct {
		d      citycard.BCDDate
		school bool
	}
	days, err := scanAll(rows, func(row Scanner) (day, error) {
		var x day
		var date string
		var school int64
		if err := row.Scan(&date, &school); err != nil {
			return x, err
		}
		x.school = school == 1
		return x, unhex("apps.ScanCalendar", "date", date, x.d[:])
	})
	c := Calendar{Holidays: []citycard.BCDDate{}, MakeUpDays: []citycard.BCDDate{}}
	for _, x := range days {
		if x.school {
			c.MakeUpDays = append(c.MakeUpDays, x.d)
		} else {
			c.Holidays = append(c.Holidays, x.d)
		}
	}
	return c, err
}

// LastRecordQuery is the stores' read of a card's last record of an
// application (Store.LastRecord): the highest application counter (the
// card moves it with every stamp and never past its end), the latest
// position among equals; app, issuer, asn.
const LastRecordQuery = `SELECT ` + RecordColumns + ` FROM apps_records WHERE issuer = $2 AND asn = $3 AND app = $1
	ORDER BY counter DESC, pos DESC LIMIT 1`

// LastRecordArgs returns the values of LastRecordQuery.
func LastRecordArgs(app string, c CardRef) []any {
	return []any{app, hexOf(c.Issuer[:]), hexOf(c.ASN[:])}
}

package console

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/whatif"
)

// Bounds of pages.
const (
	rejectionsPerPage = 100 // rejections on one page
	chartBars         = 20  // lines or stations in a chart; the table has them all
	maxTableRows      = 2000
)

// safeNext is the page to go to after login: a path of this site only.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

type loginPage struct {
	Next    string
	Name    string
	Message string
	Token   string
}

func (c *Console) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	c.loginForm(w, r, http.StatusOK, "", "")
}

// loginForm renders the login form with a fresh login CSRF token, set in
// a cookie too (double submit: the session does not exist yet).
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request, code int, name, msg string) {
	tok := randomToken()
	http.SetCookie(w, c.cookie(loginCookie, tok, 600))
	c.render(w, r, nil, code, "login", "Log in", loginPage{Next: safeNext(r.FormValue("next")), Name: name, Message: msg, Token: tok})
}

func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(ck.Value, r.PostFormValue("csrf")) {
		c.loginForm(w, r, http.StatusForbidden, "", "The login form expired: try again.")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	st, err := c.Staff.Login(r.Context(), name, r.PostFormValue("secret"))
	if err != nil {
		code := api.HTTPStatus(citycard.KindOf(err))
		msg := "That name and password do not match."
		switch {
		case code >= 500:
			c.Logger.Warn("console: login", "name", name, "err", err)
			msg = "Staff accounts cannot be checked now: retry in a moment."
		case citycard.IsKind(err, citycard.Throttled): // failed logins limited per name
			msg = fmt.Sprintf("Too many failed logins for that name: try again in %d minutes.", int((citycard.RetryAfter(err)+time.Minute-1)/time.Minute))
			c.Logger.Warn("console: login refused, too many failures", "name", name)
		default:
			code = http.StatusUnauthorized
			c.Logger.Info("console: login refused", "name", name)
		}
		c.loginForm(w, r, code, name, msg)
		return
	}
	id, _ := c.sessions.create(st)
	http.SetCookie(w, c.cookie(sessionCookie, id, int(c.sessions.ttl/time.Second)))
	http.SetCookie(w, c.cookie(loginCookie, "", -1))
	c.Logger.Info("console: login", "name", st.Name, "role", st.Role.String())
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request, s *session) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.sessions.drop(ck.Value)
	}
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// figure is one figure of the overview, today against the day before,
// with the page of what is behind it.
type figure struct {
	Name       string
	Now, Was   int64
	Money      bool
	Link       string
	LowerBound bool
}

type overviewPage struct {
	Day, Before string
	Figures     []figure
	Hours       chart
	CatchingUp  bool
	Pos, Last   int64
	Empty       bool
	Days        []string
}

func (c *Console) handleOverview(w http.ResponseWriter, r *http.Request, s *session) {
	snap, _ := c.refreshed(r.Context())
	p := overviewPage{CatchingUp: snap.Pos < snap.Last, Pos: snap.Pos, Last: snap.Last}
	for _, d := range snap.Days {
		p.Days = append(p.Days, d.Date)
	}
	day, ok := snap.Day(r.FormValue("day"))
	if !ok {
		p.Empty = true
		c.render(w, r, s, http.StatusOK, "overview", "Overview", p)
		return
	}
	p.Day = day.Date
	at, _ := time.ParseInLocation(time.DateOnly, day.Date, citycard.ChinaTime)
	p.Before = at.AddDate(0, 0, -1).Format(time.DateOnly)
	was, _ := snap.Day(p.Before)
	q := "?day=" + p.Day
	p.Figures = []figure{
		{Name: "Taps", Now: day.Taps, Was: was.Taps, Link: "/ridership" + q},
		{Name: "Records booked", Now: day.Booked, Was: was.Booked, Link: "/terminals" + q},
		{Name: "Revenue", Now: day.RevenueFen, Was: was.RevenueFen, Money: true, Link: "/terminals" + q},
		{Name: "Cards seen", Now: day.Cards, Was: was.Cards, LowerBound: day.CardsCapped, Link: "/cards"},
		{Name: "Terminals active", Now: int64(len(day.Terminals)), Was: int64(len(was.Terminals)), Link: "/terminals" + q},
		{Name: "Flagged", Now: day.Flagged, Was: was.Flagged, Link: "/flagged"},
		{Name: "Duplicates dropped", Now: day.Duplicates, Was: was.Duplicates, Link: "/terminals" + q},
		{Name: "Rejected (uploaded that day)", Now: snap.RejectedByDay[p.Day], Was: snap.RejectedByDay[p.Before], Link: "/rejections"},
		{Name: "Held in suspense", Now: day.SuspenseFen, Was: was.SuspenseFen, Money: true, Link: "/flagged"},
		{Name: "Loads", Now: day.Loads, Was: was.Loads, Link: "/terminals" + q},
		{Name: "Loaded", Now: day.LoadFen, Was: was.LoadFen, Money: true, Link: "/terminals" + q},
		{Name: "Application stamps", Now: day.Stamps, Was: was.Stamps, Link: "/terminals" + q},
	}
	p.Hours = hourChart(day, was)
	c.render(w, r, s, http.StatusOK, "overview", "Overview", p)
}

func hourChart(day, was Day) chart {
	ch := chart{Type: "bar"}
	for h := range 24 {
		ch.Labels = append(ch.Labels, fmt.Sprintf("%02d", h))
	}
	ch.Datasets = []dataset{{Label: day.Date, Data: day.Hours[:]}}
	if was.Date != "" {
		ch.Datasets = append(ch.Datasets, dataset{Label: was.Date, Data: was.Hours[:]})
	}
	return ch
}

type countRow struct {
	Label string
	Link  string
	N     int64
}

type ridershipPage struct {
	Day      string
	Days     []string
	Taps     int64
	Hours    []countRow
	Lines    []countRow
	Stations []countRow
	Pairs    []countRow // the busiest stop pairs, at most chartBars
	PairsN   int        // pairs counted
	Other    int64      // legs of pairs past MaxPairs
	HourCh   chart
	LineCh   chart
	StatCh   chart
	Cut      bool // a table was cut at maxTableRows
}

func (c *Console) handleRidership(w http.ResponseWriter, r *http.Request, s *session) {
	snap, _ := c.refreshed(r.Context())
	p := ridershipPage{}
	for _, d := range snap.Days {
		p.Days = append(p.Days, d.Date)
	}
	day, ok := snap.Day(r.FormValue("day"))
	if !ok && r.FormValue("day") != "" {
		c.fail(w, r, s, citycard.E("console.ridership", citycard.NotFound, "no figures of day %q (the console keeps the last %d days with records)", r.FormValue("day"), MaxDays))
		return
	}
	p.Day, p.Taps = day.Date, day.Taps
	for h, n := range day.Hours {
		p.Hours = append(p.Hours, countRow{Label: fmt.Sprintf("%02d:00-%02d:59", h, h), N: n})
	}
	q := "/terminals?day=" + day.Date
	for k, n := range day.Lines {
		p.Lines = append(p.Lines, countRow{Label: fmt.Sprintf("network %d, line %d", k.Network, k.Line), Link: fmt.Sprintf("%s&line=%d", q, k.Line), N: n})
	}
	for k, n := range day.Stations {
		p.Stations = append(p.Stations, countRow{Label: fmt.Sprintf("network %d, station %d", k.Network, k.Station), Link: fmt.Sprintf("%s&station=%d", q, k.Station), N: n})
	}
	for k, n := range day.Pairs {
		p.Pairs = append(p.Pairs, countRow{Label: fmt.Sprintf("network %d, station %d to %d", k.Network, k.Entry, k.Exit),
			Link: fmt.Sprintf("%s&station=%d", q, k.Exit), N: n})
	}
	p.PairsN, p.Other = len(p.Pairs), day.PairsOther
	slices.SortFunc(p.Pairs, byCount)
	for _, rows := range []*[]countRow{&p.Lines, &p.Stations} {
		slices.SortFunc(*rows, byCount)
		if len(*rows) > maxTableRows {
			*rows, p.Cut = (*rows)[:maxTableRows], true
		}
	}
	p.Pairs = p.Pairs[:min(len(p.Pairs), chartBars)]
	p.HourCh = hourChart(day, Day{})
	p.LineCh = barChart("taps", p.Lines)
	p.StatCh = barChart("taps", p.Stations)
	c.render(w, r, s, http.StatusOK, "ridership", "Ridership", p)
}

// byCount orders rows by count, the largest first, then by label.
func byCount(a, b countRow) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Label, b.Label)) }

// barChart charts the first chartBars rows.
func barChart(label string, rows []countRow) chart {
	ch := chart{Type: "bar", Datasets: []dataset{{Label: label}}}
	for _, row := range rows[:min(len(rows), chartBars)] {
		ch.Labels = append(ch.Labels, row.Label)
		ch.Datasets[0].Data = append(ch.Datasets[0].Data, row.N)
	}
	return ch
}

type rejectionRow struct {
	acquire.PositionedRejection
	Resubmitted string // the resubmission's status, if any
}

type rejectionsPage struct {
	Reasons     []countRow
	Rows        []rejectionRow
	Reason      string
	Terminal    string
	Next        int64 // the after= of the next page; 0: none
	CanResubmit bool
}

func (c *Console) handleRejections(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.rejections"
	snap, _ := c.refreshed(r.Context())
	f := acquire.RejectionFilter{Limit: rejectionsPerPage, Reason: r.FormValue("reason")}
	p := rejectionsPage{Reason: f.Reason, Terminal: r.FormValue("terminal"), CanResubmit: s.staff.Role >= RoleClerk}
	if p.Terminal != "" {
		id, err := citycard.ParseTerminalID(p.Terminal)
		if err != nil {
			c.fail(w, r, s, citycard.Wrap(op, citycard.Invalid, err))
			return
		}
		f.Terminal = id
	}
	if v := r.FormValue("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			c.fail(w, r, s, citycard.E(op, citycard.Invalid, "after=%q: a rejection's position", v))
			return
		}
		f.After = n
	}
	for reason, n := range snap.Rejected {
		p.Reasons = append(p.Reasons, countRow{Label: reason, Link: "/rejections?reason=" + urlQueryEscape(reason), N: n})
	}
	slices.SortFunc(p.Reasons, byCount)
	rs, err := c.Journal.QueryRejections(r.Context(), f)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	for i := range rs {
		row := rejectionRow{PositionedRejection: rs[i]}
		ans, ok, err := c.Acquirer.Resubmission(r.Context(), &rs[i])
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		if ok && len(ans.Records) > 0 {
			row.Resubmitted = ans.Records[0].Status
		}
		p.Rows = append(p.Rows, row)
	}
	if len(rs) == rejectionsPerPage {
		p.Next = rs[len(rs)-1].Pos
	}
	c.render(w, r, s, http.StatusOK, "rejections", "Rejections", p)
}

// handleResubmit resubmits one rejection (acquire.Acquirer.Resubmit: once;
// asking again answers the first) and answers the row's new status, for
// htmx to put in place; without htmx, back to the rejections.
func (c *Console) handleResubmit(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.resubmit"
	pos, err := strconv.ParseInt(r.PathValue("pos"), 10, 64)
	if err != nil {
		c.fail(w, r, s, citycard.E(op, citycard.NotFound, "no rejection %q", r.PathValue("pos")))
		return
	}
	rej, err := c.Acquirer.Rejection(r.Context(), pos)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	ans, err := c.Acquirer.Resubmit(r.Context(), rej, s.staff.Name)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	status := ""
	if len(ans.Records) > 0 {
		status = ans.Records[0].Status
	}
	c.Logger.Info("console: rejection resubmitted", "by", s.staff.Name, "rejection", pos, "status", status, "repeat", ans.Repeat)
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<span class="status" id="resubmitted-%d">resubmitted: %s</span>`, pos, template.HTMLEscapeString(status))
		return
	}
	http.Redirect(w, r, "/rejections", http.StatusSeeOther)
}

type flaggedPage struct {
	Flags []countRow
	Rows  []Flagged
}

func (c *Console) handleFlagged(w http.ResponseWriter, r *http.Request, s *session) {
	snap, _ := c.refreshed(r.Context())
	p := flaggedPage{Rows: snap.Flagged}
	for f, n := range snap.Flags {
		p.Flags = append(p.Flags, countRow{Label: f, N: n})
	}
	slices.SortFunc(p.Flags, byCount)
	c.render(w, r, s, http.StatusOK, "flagged", "Flagged records", p)
}

type cardPage struct {
	Issuer, ASN string
	Found       bool
	Asked       bool
	Shadow      acquire.Shadow
	Listed      bool
	Version     int64
	CanChange   bool
	Message     string
	CSRF        string
	Managed     *managedView // what card management knows; nil before a look-up
}

func (c *Console) handleCard(w http.ResponseWriter, r *http.Request, s *session) {
	c.card(w, r, s, http.StatusOK, "")
}

func (c *Console) card(w http.ResponseWriter, r *http.Request, s *session, code int, msg string) {
	c.cardWith(w, r, s, code, msg, nil)
}

// cardWith is card, with a refund's quote to confirm.
func (c *Console) cardWith(w http.ResponseWriter, r *http.Request, s *session, code int, msg string, quote *refundQuote) {
	const op = "console.card"
	p := cardPage{Issuer: strings.TrimSpace(r.FormValue("issuer")), ASN: strings.TrimSpace(r.FormValue("asn")),
		CanChange: s.staff.Role >= RoleClerk, Version: c.Blacklist.Version(), Message: msg, CSRF: s.csrf}
	if p.Issuer != "" || p.ASN != "" {
		issuer, asn, err := parseCard(p.Issuer, p.ASN)
		if err != nil {
			c.fail(w, r, s, citycard.Wrap(op, citycard.Invalid, err))
			return
		}
		p.Asked = true
		p.Shadow, p.Found = c.Acquirer.Shadow(issuer, asn)
		p.Listed = c.Blacklist.Contains(issuer, asn)
		p.Issuer, p.ASN = issuer.String(), asn.String()
		if p.Managed, err = c.managed(r.Context(), issuer, asn); err != nil {
			c.fail(w, r, s, err)
			return
		}
		p.Managed.Quote, p.Managed.ApproveOK = quote, s.staff.Role >= RoleSupervisor
	}
	c.render(w, r, s, code, "card", "Card look-up", p)
}

func parseCard(issuer, asn string) (citycard.IssuerCode, citycard.ASN, error) {
	i, err := citycard.ParseIssuerCode(issuer)
	if err != nil {
		return i, citycard.ASN{}, err
	}
	a, err := citycard.ParseASN(asn)
	return i, a, err
}

// handleBlacklist lists or delists the form's card, with its reason, in
// the staff member's name, then shows the card.
func (c *Console) handleBlacklist(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.blacklist"
	issuer, asn, err := parseCard(r.PostFormValue("issuer"), r.PostFormValue("asn"))
	if err != nil {
		c.fail(w, r, s, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	listed := r.PostFormValue("listed") == "true"
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len(reason) > 200 {
		c.fail(w, r, s, citycard.E(op, citycard.Invalid, "a reason of 1 to 200 bytes is required"))
		return
	}
	v, err := c.Blacklist.Set(r.Context(), blacklist.Card{Issuer: issuer, ASN: asn}, listed, reason, s.staff.Name)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.Logger.Info("console: blacklist changed", "by", s.staff.Name, "issuer", issuer.String(), "asn", asn.String(), "listed", listed, "version", v)
	verb := "delisted"
	if listed {
		verb = "listed"
	}
	c.card(w, r, s, http.StatusOK, fmt.Sprintf("Card %s, blacklist version %d.", verb, v))
}

type terminalRow struct {
	ID, Operator, Type, Status string
	Line, Station              uint32
	LastAt                     time.Time
	Ago                        string
	LastBatch                  string
	Records                    int64
	DayTaps, DayFen            int64
	DayBatch                   string
}

type terminalsPage struct {
	Day            string
	Line, Station  string
	Rows           []terminalRow
	DayTaps, DayFn int64
}

func (c *Console) handleTerminals(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.terminals"
	snap, _ := c.refreshed(r.Context())
	p := terminalsPage{Day: r.FormValue("day"), Line: r.FormValue("line"), Station: r.FormValue("station")}
	var line, station uint64
	var err error
	if p.Line != "" {
		if line, err = strconv.ParseUint(p.Line, 10, 32); err != nil {
			c.fail(w, r, s, citycard.E(op, citycard.Invalid, "line=%q: a line number", p.Line))
			return
		}
	}
	if p.Station != "" {
		if station, err = strconv.ParseUint(p.Station, 10, 32); err != nil {
			c.fail(w, r, s, citycard.E(op, citycard.Invalid, "station=%q: a station number", p.Station))
			return
		}
	}
	var day Day
	if p.Day != "" {
		var ok bool
		if day, ok = snap.Day(p.Day); !ok {
			c.fail(w, r, s, citycard.E(op, citycard.NotFound, "no figures of day %q", p.Day))
			return
		}
	}
	ts, err := c.Terminals.Terminals(r.Context(), "")
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	now := c.Now()
	for _, t := range ts {
		if (line != 0 && uint64(t.Line) != line) || (station != 0 && uint64(t.Station) != station) {
			continue
		}
		use := snap.Terminals[t.ID]
		row := terminalRow{ID: t.ID.String(), Operator: t.Operator, Type: t.Type.String(), Status: t.Status.String(),
			Line: t.Line, Station: t.Station, LastAt: use.LastAt, Ago: ago(now, use.LastAt), LastBatch: use.LastBatch, Records: use.Records}
		if td := day.Terminals[t.ID]; td != nil {
			row.DayTaps, row.DayFen, row.DayBatch = td.Taps, td.RevenueFen, td.LastBatch
			p.DayTaps += td.Taps
			p.DayFn += td.RevenueFen
		}
		p.Rows = append(p.Rows, row)
	}
	// Stalest first: never uploaded, then the oldest upload.
	slices.SortStableFunc(p.Rows, func(a, b terminalRow) int {
		return cmp.Or(a.LastAt.Compare(b.LastAt), cmp.Compare(a.ID, b.ID))
	})
	c.render(w, r, s, http.StatusOK, "terminals", "Terminals", p)
}

type batchRow struct {
	Pos        int64
	Class      string
	Flags      string
	Issuer     string
	ASN        string
	Counter    uint16
	AmountFen  int64
	BalanceFen int64
	At         string
	Line       uint32
	Station    uint32
}

type batchPage struct {
	Terminal, Batch string
	Rows            []batchRow
	SumFen          int64
}

func (c *Console) handleBatch(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.batch"
	tid, err := citycard.ParseTerminalID(r.PathValue("terminal"))
	if err != nil {
		c.fail(w, r, s, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	p := batchPage{Terminal: tid.String(), Batch: r.PathValue("batch")}
	err = c.Journal.BatchRecords(r.Context(), tid, p.Batch, func(e *acquire.Journaled) error {
		rec, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.E(op, citycard.Other, "journaled record %d: %w", e.Pos, err)
		}
		p.Rows = append(p.Rows, batchRow{Pos: e.Pos, Class: e.Class.String(), Flags: e.Flags.String(), Issuer: rec.Issuer.String(),
			ASN: rec.ASN.String(), Counter: rec.Counter, AmountFen: int64(rec.Amount), BalanceFen: rec.BalanceBeforeFen(),
			At: recordTime(rec.Date, rec.Time), Line: rec.Line, Station: rec.Station})
		if e.Class == acquire.ClassBooked || e.Class == acquire.ClassRecovered {
			p.SumFen += int64(rec.Amount)
		}
		return nil
	})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if p.Rows == nil {
		c.fail(w, r, s, citycard.E(op, citycard.NotFound, "no journaled record of batch %q of terminal %v", p.Batch, tid))
		return
	}
	c.render(w, r, s, http.StatusOK, "batch", "Batch "+p.Batch, p)
}

type faresPage struct {
	Configured              bool
	From, To, Feed, OldFeed string
	Report                  *whatif.Report
	HourCh, LineCh          chart
	Lines                   []whatif.LineRow
}

func (c *Console) handleFares(w http.ResponseWriter, r *http.Request, s *session) {
	p := faresPage{Configured: c.Replays != nil, From: r.FormValue("from"), To: r.FormValue("to"), Feed: r.FormValue("feed"), OldFeed: r.FormValue("old_feed")}
	if p.Configured && p.Feed != "" {
		rep, err := c.Replays.Run(r.Context(), p.From, p.To, p.Feed, p.OldFeed)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		p.Report = rep
		p.HourCh = chart{Type: "bar", Datasets: []dataset{{Label: "charged", Yuan: true}, {Label: "under " + p.Feed, Yuan: true}}}
		for _, h := range rep.ByHour {
			p.HourCh.Labels = append(p.HourCh.Labels, fmt.Sprintf("%02d", h.Hour))
			p.HourCh.Datasets[0].Data = append(p.HourCh.Datasets[0].Data, h.OldFen)
			p.HourCh.Datasets[1].Data = append(p.HourCh.Datasets[1].Data, h.NewFen)
		}
		p.Lines = rep.ByLine
		p.LineCh = chart{Type: "bar", Datasets: []dataset{{Label: "charged", Yuan: true}, {Label: "under " + p.Feed, Yuan: true}}}
		for _, l := range rep.ByLine[:min(len(rep.ByLine), chartBars)] {
			p.LineCh.Labels = append(p.LineCh.Labels, fmt.Sprintf("%d/%d", l.Network, l.Line))
			p.LineCh.Datasets[0].Data = append(p.LineCh.Datasets[0].Data, l.OldFen)
			p.LineCh.Datasets[1].Data = append(p.LineCh.Datasets[1].Data, l.NewFen)
		}
	}
	c.render(w, r, s, http.StatusOK, "fares", "Fare what-if", p)
}

package console

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// Apps is what the console reads of the application systems: the
// applications, an application's daily report and its records
// (*apps.Office has it).
type Apps interface {
	Apps(ctx context.Context) ([]apps.App, error)
	Report(ctx context.Context, app string, day citycard.BCDDate) ([]apps.ActionCount, error)
	Records(ctx context.Context, app string, after int64, limit int) ([]apps.AppRecord, error)
}

// appScanMax bounds the records an application's page reads to find a
// day's (apps.Office.Records pages by journal position, from the first):
// 100 reads of apps.RecordsPageMax. Past it the page says how far it
// read.
const appScanMax = 100 * apps.RecordsPageMax

// appReport is one report of an application's page: the kinds it is for
// (nil: every kind) and what it makes of the day. Adding a report is one
// entry of appReports.
type appReport struct {
	kinds []card.Application
	build func(d *appDay) appSection
}

// appReports are the reports of an application's page, in order.
var appReports = []appReport{
	{nil, actionsSection}, // apps.Office.Report, the API's daily report
	{nil, hoursSection},
	{nil, placesSection},
	{[]card.Application{card.AppCampus, card.AppParking}, insideSection},
	{[]card.Application{card.AppLibrary}, loansSection},
	{[]card.Application{card.AppCampus}, flaggedSection},
	{[]card.Application{card.AppBike}, bikesOutSection},
}

// appSection is what a report shows: figures, each linked to its
// records, a chart, and the table of the chart's figures.
type appSection struct {
	ID, Title, Note string
	Figures         []appFigure
	Chart           *chart
	ChartLabel      string
	Head            []string
	Rows            []appTableRow
	Empty           string // the table's line when it has no row ("" : no record that day)
}

type appFigure struct {
	ID, Name, Note string
	N              int64
	Link           string
}

type appTableRow struct {
	Label string
	Link  string
	Cells []int64
}

// appDay is an application's day as its reports read it: the store's
// daily report and the day's records (up to appScanMax scanned).
type appDay struct {
	App     apps.App
	Day     string // YYYY-MM-DD
	Counts  []apps.ActionCount
	Records []apps.AppRecord // the day's, in time order (then journal order)
	Scanned int64            // records read to find them
	Cut     bool             // the scan stopped at appScanMax
	// Rentals are a bike operator's bikes out now (apps.Office.OpenRentals,
	// when Apps has it), nil otherwise.
	Rentals []apps.Rental
	Now     time.Time
}

// rentals is what an Apps may also have: a bike operator's bikes out
// now (apps.Office.OpenRentals, with its default limit).
type rentals interface {
	OpenRentals(ctx context.Context, app string, now time.Time, outMax time.Duration) ([]apps.Rental, error)
}

// link is the records page of the day, narrowed by the query's pairs.
func (d *appDay) link(kv ...string) string {
	q := url.Values{"day": {d.Day}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return "/apps/" + url.PathEscape(d.App.ID) + "/records?" + q.Encode()
}

// actions are the application's actions, the report's first and then
// any other the day's records hold (a gate's odd one).
func (d *appDay) actions() []apps.Action {
	as := slices.Clone(apps.Actions(d.App.Kind))
	for _, c := range d.Counts {
		if !slices.Contains(as, c.Action) {
			as = append(as, c.Action)
		}
	}
	return as
}

func stampHour(r *apps.AppRecord) int { return int(r.Time[0]>>4)*10 + int(r.Time[0]&0x0F) }

// actionsSection is the daily report: each action's taps and the
// distinct cards that made them, as the API's report gives them.
func actionsSection(d *appDay) appSection {
	s := appSection{ID: "report", Title: "Daily report", Note: "taps and distinct cards by action, as the application's API reports them"}
	by := map[apps.Action]apps.ActionCount{}
	for _, c := range d.Counts {
		by[c.Action] = c
	}
	for _, a := range d.actions() {
		c := by[a]
		s.Figures = append(s.Figures,
			appFigure{ID: "taps-" + a.String(), Name: a.String() + "s", N: c.Taps, Link: d.link("action", a.String())},
			appFigure{ID: "cards-" + a.String(), Name: "cards, " + a.String(), Note: "distinct", N: c.Cards, Link: d.link("action", a.String())})
	}
	return s
}

// hoursSection: taps by hour and action (entries by hour at a gate,
// loans and returns by hour at a library).
func hoursSection(d *appDay) appSection {
	as := d.actions()
	counts := make([][]int64, len(as))
	for i := range counts {
		counts[i] = make([]int64, 24)
	}
	for i := range d.Records {
		r := &d.Records[i]
		if h, a := stampHour(r), slices.Index(as, r.Action); h < 24 && a >= 0 {
			counts[a][h]++
		}
	}
	s := appSection{ID: "hours", Title: "By hour", ChartLabel: "taps by hour and action", Head: []string{"hour"}}
	ch := &chart{Type: "bar"}
	for h := range 24 {
		ch.Labels = append(ch.Labels, pad2(uint64(h)))
	}
	for i, a := range as {
		s.Head = append(s.Head, a.String()+"s")
		ch.Datasets = append(ch.Datasets, dataset{Label: a.String() + "s", Data: counts[i]})
	}
	for h := range 24 {
		row := appTableRow{Label: pad2(uint64(h)) + ":00", Link: d.link("hour", strconv.Itoa(h))}
		var n int64
		for i := range as {
			row.Cells = append(row.Cells, counts[i][h])
			n += counts[i][h]
		}
		if n > 0 {
			s.Rows = append(s.Rows, row)
		}
	}
	s.Chart = ch
	return s
}

// placesSection: taps by place (the gate's number; a site's), the
// busiest first.
func placesSection(d *appDay) appSection {
	as := d.actions()
	by := map[uint32][]int64{}
	for i := range d.Records {
		r := &d.Records[i]
		if a := slices.Index(as, r.Action); a >= 0 {
			if by[r.Place] == nil {
				by[r.Place] = make([]int64, len(as))
			}
			by[r.Place][a]++
		}
	}
	places := make([]uint32, 0, len(by))
	for p := range by {
		places = append(places, p)
	}
	sum := func(p uint32) (n int64) {
		for _, v := range by[p] {
			n += v
		}
		return n
	}
	slices.SortFunc(places, func(a, b uint32) int { return cmp.Or(cmp.Compare(sum(b), sum(a)), cmp.Compare(a, b)) })
	name := "gate"
	switch d.App.Kind {
	case card.AppSite:
		name = "site"
	case card.AppLibrary:
		name = "desk"
	}
	s := appSection{ID: "places", Title: "By " + name, ChartLabel: "taps by " + name, Head: []string{name}}
	ch := &chart{Type: "bar"}
	for i, a := range as {
		s.Head = append(s.Head, a.String()+"s")
		ds := dataset{Label: a.String() + "s"}
		for _, p := range places[:min(len(places), chartBars)] {
			ds.Data = append(ds.Data, by[p][i])
		}
		ch.Datasets = append(ch.Datasets, ds)
	}
	for _, p := range places[:min(len(places), chartBars)] {
		ch.Labels = append(ch.Labels, name+" "+strconv.FormatUint(uint64(p), 10))
	}
	for _, p := range places[:min(len(places), maxTableRows)] {
		s.Rows = append(s.Rows, appTableRow{Label: name + " " + strconv.FormatUint(uint64(p), 10), Link: d.link("place", strconv.FormatUint(uint64(p), 10)), Cells: by[p]})
	}
	if len(places) > 0 {
		s.Chart = ch
	}
	return s
}

// runningChart is a line through the day: after each hour, the sum so
// far of what the records add (up) and take away (down): the books out.
func runningChart(d *appDay, label string, up, down apps.Action) *chart {
	var net [24]int64
	for i := range d.Records {
		r := &d.Records[i]
		if h := stampHour(r); h < 24 && r.Action == up {
			net[h]++
		} else if h < 24 && r.Action == down {
			net[h]--
		}
	}
	var run int64
	return hourLine(label, func(h int) int64 { run += net[h]; return run })
}

// hourLine is a line chart of the hours 00 to 23, at(h) the value after
// hour h, asked in order.
func hourLine(label string, at func(h int) int64) *chart {
	ch := &chart{Type: "line", Datasets: []dataset{{Label: label}}}
	for h := range 24 {
		ch.Labels = append(ch.Labels, pad2(uint64(h)))
		ch.Datasets[0].Data = append(ch.Datasets[0].Data, at(h))
	}
	return ch
}

// stateChart: the cards "in" at the end of each hour, each card's last
// stamp of action in or out so far being in (records in time order):
// inside (check-in, check-out), a bike out (hire, return).
func stateChart(d *appDay, label string, in, out apps.Action) *chart {
	state := map[apps.CardRef]bool{}
	var n int64
	i := 0
	return hourLine(label, func(h int) int64 {
		for ; i < len(d.Records) && stampHour(&d.Records[i]) <= h; i++ {
			r := &d.Records[i]
			if r.Action != in && r.Action != out {
				continue
			}
			if is := r.Action == in; is != state[r.Card] {
				state[r.Card] = is
				if is {
					n++
				} else {
					n--
				}
			}
		}
		return n
	})
}

// insideSection: the cards whose last stamp of the day is a check-in
// (a pupil not seen leaving, a car still parked), and how many were
// inside hour by hour.
func insideSection(d *appDay) appSection {
	return appSection{ID: "inside", Title: "Inside",
		Note:       "cards whose last stamp of the day is a check-in (a pupil not seen leaving, a car still parked); the line: those inside at the end of each hour (one in since the day before counts from its check-in again)",
		Figures:    []appFigure{{ID: "inside", Name: "inside at the day's end", N: int64(len(lastIn(d.Records, apps.CheckIn, apps.CheckOut))), Link: d.link("inside", "1")}},
		Chart:      stateChart(d, "cards inside", apps.CheckIn, apps.CheckOut),
		ChartLabel: "inside at the end of each hour"}
}

// flaggedSection: the school's records the back office flagged on
// filing them (apps.AppRecord.Flag: a canteen purchase past the pupil's
// daily limit), kept for review.
func flaggedSection(d *appDay) appSection {
	var n int64
	for i := range d.Records {
		if d.Records[i].Flag != "" {
			n++
		}
	}
	return appSection{ID: "flagged", Title: "Flagged for review",
		Note:    "records the back office flagged on filing them, kept: canteen_limit, a canteen purchase that took the day's spend past the pupil's daily limit (a card with an older, higher limit, or a POS that did not count)",
		Figures: []appFigure{{ID: "flagged", Name: "flagged records", N: n, Link: d.link("flagged", "1")}}}
}

// loansSection: the library's loans less its returns, through the day,
// and the cards that borrowed more than they returned that day.
func loansSection(d *appDay) appSection {
	var loans, returns int64
	for i := range d.Records {
		switch d.Records[i].Action {
		case apps.Loan:
			loans++
		case apps.Return:
			returns++
		}
	}
	return appSection{ID: "loans", Title: "Loans and returns",
		Note: "books the day's taps took out less those they brought back, and the cards that took out more than they brought back; the line: loans less returns so far that day",
		Figures: []appFigure{
			{ID: "netloans", Name: "loans less returns", N: loans - returns, Link: d.link()},
			{ID: "borrowers", Name: "cards with more out", N: int64(len(borrowerCards(d.Records))), Link: d.link("borrowers", "1")},
		},
		Chart:      runningChart(d, "loans less returns", apps.Loan, apps.Return),
		ChartLabel: "loans less returns at the end of each hour"}
}

// bikesOutSection: a bike operator's bikes out at the day's end (the
// cards whose last hire or return of the day is a hire) and hour by
// hour; and the bikes out now, as the back office knows them from what
// the docks uploaded (apps.Office.OpenRentals): each card with its hire,
// its dock and its minutes out, overdue past apps.BikeOutMaxDefault (at
// its return or its next hire the dock charges such a bike the day
// cap), linked to its records.
func bikesOutSection(d *appDay) appSection {
	sec := appSection{ID: "bikes", Title: "Bikes out",
		Note: "cards whose last hire or return of the day is a hire (a bike not seen back); the line: bikes out at the end of each hour. The table: the bikes out now, from the docks' uploads (a return a dock holds unsent still shows), overdue once out longer than " +
			strconv.Itoa(int(apps.BikeOutMaxDefault/time.Hour)) + " h: the next dock charges the fare feed's bike-not-returned fare",
		Chart:      stateChart(d, "bikes out", apps.Hire, apps.Return),
		ChartLabel: "bikes out at the end of each hour",
		Head:       []string{"card (hired at, dock)", "minutes out", "overdue"}, Empty: "no bike out now"}
	var overdue int64
	for _, rt := range d.Rentals {
		o := int64(0)
		if rt.Overdue {
			o, overdue = 1, overdue+1
		}
		if len(sec.Rows) < maxTableRows {
			sec.Rows = append(sec.Rows, appTableRow{
				Label: rt.Card.ASN.String() + " (" + rt.Hired.Format("01-02 15:04") + ", dock " + strconv.FormatUint(uint64(rt.Dock), 10) + ")",
				Link:  d.link("card", rt.Card.Issuer.String()+"/"+rt.Card.ASN.String()),
				Cells: []int64{int64(d.Now.Sub(rt.Hired) / time.Minute), o}})
		}
	}
	sec.Figures = []appFigure{
		{ID: "out", Name: "bikes out at the day's end", N: int64(len(lastIn(d.Records, apps.Hire, apps.Return))), Link: d.link("out", "1")},
		{ID: "outnow", Name: "bikes out now", N: int64(len(d.Rentals)), Note: "each in the table, linked to its card's records", Link: "#bikes"},
		{ID: "overdue", Name: "overdue now", N: overdue, Note: "out longer than the limit", Link: "#bikes"},
	}
	return sec
}

// lastIn are the cards whose last stamp of action in or out in recs is
// in: inside (check-in, check-out), a bike out (hire, return).
func lastIn(recs []apps.AppRecord, in, out apps.Action) map[apps.CardRef]bool {
	last := map[apps.CardRef]apps.Action{}
	for i := range recs {
		if a := recs[i].Action; a == in || a == out {
			last[recs[i].Card] = a
		}
	}
	is := map[apps.CardRef]bool{}
	for c, a := range last {
		if a == in {
			is[c] = true
		}
	}
	return is
}

// borrowerCards are the cards with more loans than returns in recs.
func borrowerCards(recs []apps.AppRecord) map[apps.CardRef]bool {
	net := map[apps.CardRef]int{}
	for i := range recs {
		switch recs[i].Action {
		case apps.Loan:
			net[recs[i].Card]++
		case apps.Return:
			net[recs[i].Card]--
		}
	}
	out := map[apps.CardRef]bool{}
	for c, n := range net {
		if n > 0 {
			out[c] = true
		}
	}
	return out
}

// readDay reads app's records of day (YYYY-MM-DD; "": the newest day
// its records carry, else today), scanning its records from the first,
// at most appScanMax, and its daily report; days gets every day seen.
func (c *Console) readDay(ctx context.Context, a apps.App, day string, days map[string]bool) (*appDay, error) {
	var bcd citycard.BCDDate
	if day != "" {
		t, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return nil, citycard.E("console.apps", citycard.Invalid, "day=%q: want YYYY-MM-DD", day)
		}
		bcd, _ = citycard.DateTime(t)
	}
	d := &appDay{App: a}
	var after int64
	for {
		recs, err := c.Apps.Records(ctx, a.ID, after, apps.RecordsPageMax)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if day == "" && bytes.Compare(r.Date[:], bcd[:]) > 0 {
				bcd, d.Records = r.Date, d.Records[:0] // a newer day
			}
			if r.Date == bcd {
				d.Records = append(d.Records, r)
			}
			if days != nil {
				days[dayOf(r.Date)] = true
			}
		}
		d.Scanned += int64(len(recs))
		if len(recs) < apps.RecordsPageMax {
			break
		}
		after = recs[len(recs)-1].Pos
		if d.Scanned >= appScanMax {
			// One read more to know whether there are more.
			more, err := c.Apps.Records(ctx, a.ID, after, 1)
			if err != nil {
				return nil, err
			}
			d.Cut = len(more) > 0
			break
		}
	}
	if bcd == (citycard.BCDDate{}) {
		bcd, _ = citycard.DateTime(c.Now().In(citycard.ChinaTime))
	}
	d.Day = dayOf(bcd)
	// In time order: a gate that uploaded late is journaled late.
	slices.SortStableFunc(d.Records, func(x, y apps.AppRecord) int { return bytes.Compare(x.Time[:], y.Time[:]) })
	var err error
	if d.Counts, err = c.Apps.Report(ctx, a.ID, bcd); err != nil {
		return nil, err
	}
	return d, nil
}

// dayOf writes a BCD date as YYYY-MM-DD.
func dayOf(d citycard.BCDDate) string {
	s := d.String()
	if len(s) != 8 {
		return s
	}
	return s[:4] + "-" + s[4:6] + "-" + s[6:]
}

// findApp returns the application of the path's {app}. Kind NotFound.
func (c *Console) findApp(ctx context.Context, id string) (apps.App, []apps.App, error) {
	if c.Apps == nil {
		return apps.App{}, nil, citycard.E("console.apps", citycard.NotFound, "no application systems here")
	}
	list, err := c.Apps.Apps(ctx)
	if err != nil {
		return apps.App{}, nil, err
	}
	for _, a := range list {
		if a.ID == id {
			return a, list, nil
		}
	}
	return apps.App{}, list, citycard.E("console.apps", citycard.NotFound, "no application %q", id)
}

type appPage struct {
	App      apps.App
	Day      string
	Days     []string
	Sections []appSection
	Scanned  int64
	Cut      bool
	Records  string // the day's records page
	Total    int64
}

// handleApp shows one application's day (?day=YYYY-MM-DD, else the
// newest day its records carry): every report of appReports that is for
// its kind.
func (c *Console) handleApp(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	a, _, err := c.findApp(ctx, r.PathValue("app"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	days := map[string]bool{}
	d, err := c.readDay(ctx, a, r.URL.Query().Get("day"), days)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	p := appPage{App: a, Day: d.Day, Scanned: d.Scanned, Cut: d.Cut, Records: d.link()}
	for k := range days {
		p.Days = append(p.Days, k)
	}
	slices.Sort(p.Days)
	p.Days = p.Days[max(0, len(p.Days)-14):]
	for _, c := range d.Counts {
		p.Total += c.Taps
	}
	if or, ok := c.Apps.(rentals); ok && a.Kind == card.AppBike {
		d.Now = c.Now()
		if d.Rentals, err = or.OpenRentals(ctx, a.ID, d.Now, 0); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	for _, rep := range appReports {
		if rep.kinds == nil || slices.Contains(rep.kinds, a.Kind) {
			p.Sections = append(p.Sections, rep.build(d))
		}
	}
	c.render(w, r, s, http.StatusOK, "app", a.Name, p)
}

type appRecordsPage struct {
	App     apps.App
	Day     string
	Filter  string
	Back    string
	Rows    []appRecordRow
	Matched int64
	Cut     bool
	Scanned int64
	ScanCut bool
}

type appRecordRow struct {
	Pos          int64
	Time, Action string
	Issuer, ASN  string
	Terminal     string
	Place, Uses  uint32
	Flag         string // apps.AppRecord.Flag: canteen_limit, "" for none
}

// handleAppRecords lists the records behind a figure of an
// application's day: ?day= and at most one of action=, hour=, place=,
// inside=1 (the cards inside at the day's end: their records of the
// day), borrowers=1 (likewise, the cards with more out), flagged=1 (the
// records the back office flagged on filing them: apps.AppRecord.Flag).
func (c *Console) handleAppRecords(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	a, _, err := c.findApp(ctx, r.PathValue("app"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	q := r.URL.Query()
	keep, filter, err := recordFilter(q)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d, err := c.readDay(ctx, a, q.Get("day"), nil)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var cards map[apps.CardRef]bool
	switch filter {
	case "inside":
		cards = lastIn(d.Records, apps.CheckIn, apps.CheckOut)
	case "out":
		cards = lastIn(d.Records, apps.Hire, apps.Return)
	case "borrowers":
		cards = borrowerCards(d.Records)
	case "presence":
		// The pupils of that presence (attendance.go), the day's.
		dq := url.Values{}
		for k, v := range q {
			dq[k] = v
		}
		dq.Set("day", d.Day) // the records' day, the newest when ?day= is not given
		aq, err := c.readAttendanceQuery(dq)
		if err == nil {
			cards, err = c.presenceCards(ctx, a.ID, &aq)
			filter = "the pupils " + aq.presence
			if aq.class != 0 {
				filter += " of class " + strconv.Itoa(int(aq.class))
			}
		}
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	p := appRecordsPage{App: a, Day: d.Day, Filter: filter, Back: "/apps/" + url.PathEscape(a.ID) + "?day=" + d.Day, Scanned: d.Scanned, ScanCut: d.Cut}
	for i := range d.Records {
		x := &d.Records[i]
		if !keep(x) || cards != nil && !cards[x.Card] {
			continue
		}
		p.Matched++
		if len(p.Rows) == maxTableRows {
			p.Cut = true
			continue
		}
		tm := x.Time.String()
		p.Rows = append(p.Rows, appRecordRow{Pos: x.Pos, Time: tm[:2] + ":" + tm[2:4] + ":" + tm[4:], Action: x.Action.String(),
			Issuer: x.Card.Issuer.String(), ASN: x.Card.ASN.String(), Terminal: x.Terminal.String(), Place: x.Place, Uses: x.Uses, Flag: x.Flag})
	}
	c.render(w, r, s, http.StatusOK, "apprecords", a.Name+": records", p)
}

// recordFilter reads the records page's narrowing: action=NAME, hour=H
// (0-23), place=N, inside=1, borrowers=1, flagged=1, card=ISSUER/ASN, presence=
// (a school's pupils present, late or absent, of class=N if given, late
// after late=; their check-ins and check-outs: attendance.go); at most
// one. Kind Invalid naming the parameter.
func recordFilter(q url.Values) (func(*apps.AppRecord) bool, string, error) {
	const op = "console.appRecords"
	all := func(*apps.AppRecord) bool { return true }
	var set []string
	for _, k := range []string{"action", "hour", "place", "inside", "out", "borrowers", "flagged", "card", "presence"} {
		if q.Has(k) {
			set = append(set, k)
		}
	}
	if len(set) > 1 {
		return nil, "", citycard.E(op, citycard.Invalid, "%s and %s: want at most one of action, hour, place, inside, out, borrowers, flagged, card, presence", set[0], set[1])
	}
	for _, k := range []string{"class", "late"} {
		if q.Has(k) && (len(set) == 0 || set[0] != "presence") {
			return nil, "", citycard.E(op, citycard.Invalid, "%s=%q: only with presence=", k, q.Get(k))
		}
	}
	if len(set) == 0 {
		return all, "", nil
	}
	v := q.Get(set[0])
	switch set[0] {
	case "action":
		for a := apps.CheckIn; a <= apps.Hire; a++ {
			if a.String() == v {
				return func(r *apps.AppRecord) bool { return r.Action == a }, "action " + v, nil
			}
		}
		return nil, "", citycard.E(op, citycard.Invalid, "action=%q: want check-in, check-out, admission, loan, return, canteen or hire", v)
	case "hour":
		h, err := strconv.Atoi(v)
		if err != nil || h < 0 || h > 23 {
			return nil, "", citycard.E(op, citycard.Invalid, "hour=%q: want 0 to 23", v)
		}
		return func(r *apps.AppRecord) bool { return stampHour(r) == h }, "hour " + pad2(uint64(h)) + ":00", nil
	case "place":
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, "", citycard.E(op, citycard.Invalid, "place=%q: want a gate's or site's number", v)
		}
		return func(r *apps.AppRecord) bool { return r.Place == uint32(n) }, "place " + v, nil
	case "card":
		cr, err := apps.ParseCard(v)
		if err != nil {
			return nil, "", citycard.E(op, citycard.Invalid, "card=%q: want ISSUER/ASN in hex", v)
		}
		return func(r *apps.AppRecord) bool { return r.Card == cr }, "card " + cr.ASN.String(), nil
	case "presence":
		// The pupils are found by the caller; their records here are
		// the gates' (a canteen's stamp is not attendance).
		return func(r *apps.AppRecord) bool { return r.Action == apps.CheckIn || r.Action == apps.CheckOut }, "presence", nil
	}
	if v != "1" {
		return nil, "", citycard.E(op, citycard.Invalid, "%s=%q: want 1", set[0], v)
	}
	if set[0] == "flagged" {
		return func(r *apps.AppRecord) bool { return r.Flag != "" }, "flagged for review", nil
	}
	return all, set[0], nil
}

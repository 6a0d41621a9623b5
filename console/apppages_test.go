package console

import (
	"context"
	"crypto/rand"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/sqlite"
)

// appsFixture is the console's fixture with the application systems
// over a SQLite store: one application of each kind, each with records
// filed on both of the fixture's days.
type appsFixture struct {
	*fixture
	o      *apps.Office
	list   []apps.App
	tokens map[string]string
	recs   map[string][]apps.AppRecord // by application, in journal order
	store  apps.Store
	pos    int64 // the last journal position filed
}

// appSpecs are the fixture's applications, one a kind.
var appSpecs = []apps.App{
	{ID: "nb-school-7", Name: "No. 7 Middle School", Kind: card.AppCampus, Scope: 7, Party: "nb-edu"},
	{ID: "nb-library", Name: "Ningbo Library", Kind: card.AppLibrary, Scope: 1, Party: "nb-library"},
	{ID: "nb-gym", Name: "Ningbo Gymnasium", Kind: card.AppVenue, Scope: 3, Party: "nb-sports"},
	{ID: "nb-sites", Name: "Tourist sites (annual pass)", Kind: card.AppSite, Scope: 1, Party: "nb-tourism"},
	{ID: "nb-parking-12", Name: "Zone 12 parking", Kind: card.AppParking, Scope: 12, Party: "nb-parking"},
	{ID: "nb-bike", Name: "Public bikes", Kind: card.AppBike, Scope: 1, Party: "nb-bike"},
}

// withApps gives f's console the application systems, each application
// with n + 10*day records a day of f's two days, at 3 places over the
// hours 07 to 18: a third as many cards, each stamped in turn, a
// check-in (loan) then a check-out (return) then in again, so that the
// cards stamped three times end the day inside.
func withApps(t *testing.T, f *fixture, n int) *appsFixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "apps.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	af := &appsFixture{fixture: f, o: apps.NewOffice(db.Apps(), func() time.Time { return f.now }, rand.Reader), tokens: map[string]string{}, recs: map[string][]apps.AppRecord{}}
	var all []apps.AppRecord
	var ids []string
	pos := int64(0)
	for _, spec := range appSpecs {
		a, tok, err := af.o.Add(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		af.list, af.tokens[a.ID] = append(af.list, a), tok
		ids = append(ids, a.ID)
	}
	for d, day := range f.days {
		date, err := apps.ParseDate(strings.ReplaceAll(day, "-", ""))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range af.list {
			// The gates' lanes: a school's canteen POS stamps too, but
			// the fixture's day is its gates'.
			acts := slices.DeleteFunc(slices.Clone(apps.Actions(a.Kind)), func(x apps.Action) bool { return x == apps.Canteen })
			count := n + 10*d
			cards := count/3 + 1
			for i := range count {
				// Card c's k-th stamp of the day: a check-in, then a
				// check-out, then in again (a loan, a return, a loan).
				c, k := i%cards, i/cards
				act := acts[k%len(acts)]
				pos++
				h, m := 7+i*12/count, i%60
				r := apps.AppRecord{Pos: pos, App: a.ID, Card: apps.CardRef{Issuer: sim.Issuer, ASN: citycard.ASN{7: byte(a.Kind), 8: byte(c >> 8), 9: byte(c)}},
					Terminal: citycard.TerminalID{0x31, 0x50, 0x09, byte(a.Kind), 0, byte(1 + i%3)}, TerminalSeq: uint32(pos), Action: act,
					Date: date, Time: citycard.BCDTime{bcdByte(h), bcdByte(m), 0}, Place: uint32(1 + i%3), Uses: 1, Counter: uint16(pos)}
				all = append(all, r)
				af.recs[a.ID] = append(af.recs[a.ID], r)
			}
		}
	}
	if err := db.Apps().ApplyRecords(ctx, pos, ids, all, nil); err != nil {
		t.Fatal(err)
	}
	af.store, af.pos = db.Apps(), pos
	f.c.Apps = af.o
	f.apps = af.o
	return af
}

func bcdByte(v int) byte { return byte(v/10<<4 | v%10) }

// dayRecords are app's fixture records of day (YYYY-MM-DD).
func (af *appsFixture) dayRecords(app, day string) []apps.AppRecord {
	var out []apps.AppRecord
	for _, r := range af.recs[app] {
		if dayOf(r.Date) == day {
			out = append(out, r)
		}
	}
	return out
}

var figureRe = regexp.MustCompile(`id="fig-([a-z-]+)" data-figure="[a-z-]+"><span class="name">[^<]*</span><span class="now">([0-9,]+)</span>`)

// figures reads an application page's figures by ID.
func figures(page string) map[string]int64 {
	out := map[string]int64{}
	for _, m := range figureRe.FindAllStringSubmatch(page, -1) {
		n, _ := strconv.ParseInt(strings.ReplaceAll(m[2], ",", ""), 10, 64)
		out[m[1]] = n
	}
	return out
}

// TestAppPages opens every application's page as an auditor, on both
// days: its daily report's figures are the store's report (the API's),
// each figure links to records that add up to it, the hours add up to
// the day's taps, and the campus's and parking's inside figure is the
// cards whose last stamp is a check-in. The list links every
// application.
func TestAppPages(t *testing.T) {
	f := newFixture(t)
	af := withApps(t, f, 40)
	cl := f.client(t)
	f.login(t, cl, RoleAuditor)
	_, list := f.get(t, cl, "/apps")
	for _, a := range af.list {
		if !strings.Contains(list, `<a href="/apps/`+a.ID+`" data-app="`+a.ID+`">`) {
			t.Errorf("the applications page does not link %s", a.ID)
		}
	}
	recordsRe := regexp.MustCompile(`<span id="matched">([0-9,]+)</span>`)
	matched := func(path string) int64 {
		t.Helper()
		resp, page := f.get(t, cl, path)
		m := recordsRe.FindStringSubmatch(page)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, page)
		}
		n, _ := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
		return n
	}
	for _, a := range af.list {
		for _, day := range f.days {
			day := day
			resp, page := f.get(t, cl, "/apps/"+a.ID+"?day="+day)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %d", a.ID, day, resp.StatusCode)
			}
			date, _ := apps.ParseDate(strings.ReplaceAll(day, "-", ""))
			report, err := af.o.Report(context.Background(), a.ID, date)
			if err != nil {
				t.Fatal(err)
			}
			recs := af.dayRecords(a.ID, day)
			figs := figures(page)
			var taps int64
			for _, c := range report {
				taps += c.Taps
				if figs["taps-"+c.Action.String()] != c.Taps || figs["cards-"+c.Action.String()] != c.Cards {
					t.Errorf("%s %s %v: page %d taps by %d cards, the report's %+v", a.ID, day, c.Action, figs["taps-"+c.Action.String()], figs["cards-"+c.Action.String()], c)
				}
				if n := matched("/apps/" + a.ID + "/records?day=" + day + "&action=" + c.Action.String()); n != c.Taps {
					t.Errorf("%s %s %v: %d records behind %d taps", a.ID, day, c.Action, n, c.Taps)
				}
			}
			if taps != int64(len(recs)) || taps == 0 {
				t.Errorf("%s %s: the report's %d taps, %d filed", a.ID, day, taps, len(recs))
			}
			// The hours' table adds up to the day, each hour's link to its records.
			hours := regexp.MustCompile(`<a href="/apps/`+a.ID+`/records\?day=`+day+`&amp;hour=(\d+)">`).FindAllStringSubmatch(page, -1)
			var byHour int64
			for _, h := range hours {
				byHour += matched("/apps/" + a.ID + "/records?day=" + day + "&hour=" + h[1])
			}
			if byHour != taps || len(hours) == 0 {
				t.Errorf("%s %s: %d hours hold %d records, the day %d", a.ID, day, len(hours), byHour, taps)
			}
			// The cards "in" at the day's end, whose last record is a
			// check-in (campus, parking) or a hire (bikes out), and the
			// records behind the figure.
			if st, ok := map[card.Application]struct {
				fig string
				in  apps.Action
			}{card.AppCampus: {"inside", apps.CheckIn}, card.AppParking: {"inside", apps.CheckIn}, card.AppBike: {"out", apps.Hire}}[a.Kind]; ok {
				last := map[apps.CardRef]apps.Action{}
				for _, r := range recs {
					last[r.Card] = r.Action
				}
				var in int64
				for _, act := range last {
					if act == st.in {
						in++
					}
				}
				if figs[st.fig] != in || in == 0 || in == int64(len(last)) {
					t.Errorf("%s %s: %d %s, want %d of %d cards", a.ID, day, figs[st.fig], st.fig, in, len(last))
				}
				if n := matched("/apps/" + a.ID + "/records?day=" + day + "&" + st.fig + "=1"); n == 0 || n >= taps {
					t.Errorf("%s %s: %d records of the cards %s of %d", a.ID, day, n, st.fig, taps)
				}
			}
			if a.Kind == card.AppBike {
				// Bikes out now: the office's open rentals, each a row
				// linking its card's records.
				rs, err := af.o.OpenRentals(context.Background(), a.ID, f.now, 0)
				if err != nil {
					t.Fatal(err)
				}
				var overdue int64
				for _, rt := range rs {
					if rt.Overdue {
						overdue++
					}
					if link := html.EscapeString("/apps/" + a.ID + "/records?card=" + url.QueryEscape(rt.Card.Issuer.String()+"/"+rt.Card.ASN.String()) + "&day=" + day); !strings.Contains(page, `<a href="`+link+`">`+rt.Card.ASN.String()) {
						t.Errorf("%s %s: the rental of %v is not listed with a link to its records (%s)", a.ID, day, rt.Card.ASN, link)
					}
				}
				if figs["outnow"] != int64(len(rs)) || len(rs) == 0 || figs["overdue"] != overdue {
					t.Errorf("%s %s: %d out now and %d overdue on the page, the office's %d and %d", a.ID, day, figs["outnow"], figs["overdue"], len(rs), overdue)
				}
			}
			if a.Kind == card.AppLibrary {
				var net int64
				for _, r := range recs {
					if r.Action == apps.Loan {
						net++
					} else {
						net--
					}
				}
				if figs["netloans"] != net || figs["borrowers"] == 0 {
					t.Errorf("%s %s: loans less returns %d (want %d), %d borrowers", a.ID, day, figs["netloans"], net, figs["borrowers"])
				}
			}
		}
	}
	// Without ?day= the newest day the records carry.
	if _, page := f.get(t, cl, "/apps/nb-gym"); !strings.Contains(page, `<strong id="day">`+f.days[1]+`</strong>`) {
		t.Errorf("the gym's page without a day does not show %s", f.days[1])
	}
	// A record links its card's page.
	recs := af.dayRecords("nb-gym", f.days[1])
	_, page := f.get(t, cl, "/apps/nb-gym/records?day="+f.days[1])
	if want := html.EscapeString(cardPath(recs[0].Card.ASN)); !strings.Contains(page, `<a href="`+want+`">`) {
		t.Errorf("the gym's records do not link %s", want)
	}
}

// TestAppPagesBadInput: a bad day, hour, action or two filters at once
// are a 422 page naming the parameter; an application that does not
// exist is a 404; a console without the application systems has none.
func TestAppPagesBadInput(t *testing.T) {
	f := newFixture(t)
	withApps(t, f, 5)
	cl := f.client(t)
	f.login(t, cl, RoleAuditor)
	for path, want := range map[string]string{
		"/apps/nb-gym?day=20261101":                                 "day=&#34;20261101&#34;",
		"/apps/nb-gym/records?day=" + f.days[0] + "&hour=24":        "hour=&#34;24&#34;",
		"/apps/nb-gym/records?day=" + f.days[0] + "&action=borrow":  "action=&#34;borrow&#34;",
		"/apps/nb-gym/records?day=" + f.days[0] + "&place=x":        "place=&#34;x&#34;",
		"/apps/nb-gym/records?day=" + f.days[0] + "&hour=7&place=1": "hour and place",
		"/apps/nb-gym/records?day=" + f.days[0] + "&inside=yes":     "inside=&#34;yes&#34;",
		"/apps/nb-gym/records?day=2026-13-01":                       "day=&#34;2026-13-01&#34;",
	} {
		resp, page := f.get(t, cl, path)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, want) {
			t.Errorf("%s: %d, want 422 naming %s: %s", path, resp.StatusCode, want, page)
		}
	}
	if resp, _ := f.get(t, cl, "/apps/nb-nothing"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown application: %d, want 404", resp.StatusCode)
	}
	f.c.Apps = noApps{}
	if _, page := f.get(t, cl, "/apps"); !strings.Contains(page, `id="noapps"`) || strings.Contains(page, `id="applist"`) {
		t.Errorf("no application yet: the applications page does not say so")
	}
	f.c.Apps = nil
	if resp, _ := f.get(t, cl, "/apps/nb-gym"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("no application systems: %d, want 404", resp.StatusCode)
	}
	if resp, page := f.get(t, cl, "/apps"); resp.StatusCode != http.StatusOK || strings.Contains(page, `id="applist"`) {
		t.Errorf("no application systems: the applications page %d, listing some", resp.StatusCode)
	}
}

// TestAppPagesScanBound: past appScanMax records the page reads no more
// and says so; the report's figures still count every record.
func TestAppPagesScanBound(t *testing.T) {
	f := newFixture(t)
	f.c.Apps = boundApps{n: appScanMax + 1, date: mustDate(t, f.days[0])}
	cl := f.client(t)
	f.login(t, cl, RoleAuditor)
	_, page := f.get(t, cl, "/apps/big?day="+f.days[0])
	if !strings.Contains(page, "first "+num(appScanMax)+" records only") {
		t.Errorf("past the bound the page does not say so")
	}
	if figs := figures(page); figs["taps-admission"] != appScanMax+1 {
		t.Errorf("the report's figure %d, want %d", figs["taps-admission"], appScanMax+1)
	}
	f.c.Apps = boundApps{n: appScanMax, date: mustDate(t, f.days[0])}
	if _, page := f.get(t, cl, "/apps/big?day="+f.days[0]); strings.Contains(page, "records only") {
		t.Errorf("at the bound the page says it cut")
	}
}

func mustDate(t *testing.T, day string) citycard.BCDDate {
	d, err := apps.ParseDate(strings.ReplaceAll(day, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// boundApps is one venue with n admissions on date, made as they are
// read.
type boundApps struct {
	n    int
	date citycard.BCDDate
}

func (b boundApps) Apps(context.Context) ([]apps.App, error) {
	return []apps.App{{ID: "big", Name: "Big venue", Kind: card.AppVenue, Scope: 1, Party: "big"}}, nil
}

func (b boundApps) Report(context.Context, string, citycard.BCDDate) ([]apps.ActionCount, error) {
	return []apps.ActionCount{{Action: apps.Admit, Taps: int64(b.n), Cards: 1}}, nil
}

func (b boundApps) Records(_ context.Context, _ string, after int64, limit int) ([]apps.AppRecord, error) {
	var out []apps.AppRecord
	for p := after + 1; p <= int64(b.n) && len(out) < limit; p++ {
		out = append(out, apps.AppRecord{Pos: p, App: "big", Action: apps.Admit, Date: b.date, Time: citycard.BCDTime{0x10}, Place: 1})
	}
	return out, nil
}

// noApps is the application systems without one application.
type noApps struct{ boundApps }

func (noApps) Apps(context.Context) ([]apps.App, error) { return nil, nil }

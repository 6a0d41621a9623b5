package console

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/sim"
)

// withClasses grants the fixture school's cards that stamped (asn
// low byte c) a place in class 301 (c even) or 302 (c odd), and one card
// that never stamped to class 302: an absent pupil every day.
func withClasses(t *testing.T, af *appsFixture) {
	t.Helper()
	ctx := context.Background()
	terms := func(class uint16) apps.Terms {
		return apps.Terms{ValidFrom: citycard.BCDDate{0x20, 0x25, 0x01, 0x01}, ValidTo: citycard.BCDDate{0x20, 0x29, 0x12, 0x31}, Class: class}
	}
	seen := map[apps.CardRef]bool{}
	for _, r := range af.recs["nb-school-7"] {
		seen[r.Card] = true
	}
	for c := range seen {
		if _, _, err := af.o.Grant(ctx, "nb-school-7", c, terms(301+uint16(c.ASN[9]%2))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := af.o.Grant(ctx, "nb-school-7", apps.CardRef{Issuer: sim.Issuer, ASN: citycard.ASN{7: 1, 8: 0xEE}}, terms(302)); err != nil {
		t.Fatal(err)
	}
}

var (
	attFigureRe  = regexp.MustCompile(`<a class="figure" href="([^"]*)" id="fig-([a-z0-9-]+)" data-figure="[a-z0-9-]+"><span class="name">[^<]*</span><span class="now">([0-9,]+)</span>`)
	attMatchedRe = regexp.MustCompile(`<span id="matched">([0-9,]+)</span>`)
	attRowRe     = regexp.MustCompile(`<tr data-presence="([a-z]+)"><td><a href="([^"]*)">`)
)

type attFigure struct {
	n    int
	link string
}

func attFigures(page string) map[string]attFigure {
	out := map[string]attFigure{}
	for _, m := range attFigureRe.FindAllStringSubmatch(page, -1) {
		n, _ := strconv.Atoi(strings.ReplaceAll(m[3], ",", ""))
		out[m[2]] = attFigure{n, html.UnescapeString(m[1])}
	}
	return out
}

// TestAttendancePage: the school's attendance page on each day holds a
// table a class whose figures are apps.Office.Attendance's (the API's
// report), the totals their sums, and a chart of the three by class;
// the present and late figures link to exactly those pupils' check-ins
// and check-outs, the absent to the table of those pupils, each pupil to
// its card's records of the day; a later late time moves pupils from
// late to present; ?class= narrows to one class; the school's page links
// it, the library's does not.
func TestAttendancePage(t *testing.T) {
	f := newFixture(t)
	af := withApps(t, f, 40)
	withClasses(t, af)
	cl := f.client(t)
	f.login(t, cl, RoleAuditor)
	ctx := context.Background()
	get := func(path string) string {
		t.Helper()
		resp, page := f.get(t, cl, path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, page)
		}
		return page
	}
	matched := func(path string) int {
		t.Helper()
		m := attMatchedRe.FindStringSubmatch(get(path))
		if m == nil {
			t.Fatalf("%s: no count of records", path)
		}
		n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
		return n
	}
	for _, day := range f.days {
		date := mustDate(t, day)
		page := get("/apps/nb-school-7/attendance?day=" + day)
		figs := attFigures(page)
		if !strings.Contains(page, "class 301") || !strings.Contains(page, "class 302") || !strings.Contains(page, `<canvas data-chart=`) {
			t.Errorf("%s: no chart of the two classes", day)
		}
		var total [3]int
		for _, class := range []uint16{301, 302} {
			rep, err := af.o.Attendance(ctx, "nb-school-7", class, date, citycard.BCDTime{})
			if err != nil {
				t.Fatal(err)
			}
			id := "c" + strconv.Itoa(int(class)) + "-"
			want := map[string]int{"present": rep.Present, "late": rep.Lates, "absent": rep.Absent}
			taps := map[string]int{}
			for _, p := range rep.Pupils {
				taps[p.Presence.String()] += p.Taps
			}
			if rep.Present == 0 || rep.Lates == 0 || rep.Absent == 0 && class == 302 {
				t.Fatalf("%s class %d: the fixture has %d present, %d late, %d absent: want some of each", day, class, rep.Present, rep.Lates, rep.Absent)
			}
			for _, presence := range []string{"present", "late", "absent"} {
				fig, ok := figs[id+presence]
				if !ok || fig.n != want[presence] {
					t.Errorf("%s class %d %s: the page's %v, the report's %d", day, class, presence, fig, want[presence])
					continue
				}
				if presence == "absent" {
					rows := attRowRe.FindAllStringSubmatch(get(fig.link), -1)
					if len(rows) != fig.n {
						t.Errorf("%s class %d: %d absent, the link lists %d pupils", day, class, fig.n, len(rows))
					}
					for _, r := range rows {
						if r[1] != "absent" {
							t.Errorf("%s class %d: the absent's table lists a pupil %s", day, class, r[1])
						}
					}
					continue
				}
				if n := matched(fig.link); n != taps[presence] {
					t.Errorf("%s class %d: the %s pupils' records %d, their taps %d (%s)", day, class, presence, n, taps[presence], fig.link)
				}
			}
			total[0], total[1], total[2] = total[0]+rep.Present, total[1]+rep.Lates, total[2]+rep.Absent
			// Each pupil's card links its records of the day.
			p := rep.Pupils[0]
			if n := matched("/apps/nb-school-7/records?day=" + day + "&card=" + p.Card.String()); n != p.Taps {
				t.Errorf("%s: card %v's records %d, its taps %d", day, p.Card, n, p.Taps)
			}
		}
		if figs["present"].n != total[0] || figs["late"].n != total[1] || figs["absent"].n != total[2] {
			t.Errorf("%s: totals %v %v %v, the classes' %v", day, figs["present"], figs["late"], figs["absent"], total)
		}
		if n := matched(figs["late"].link); n == 0 {
			t.Errorf("%s: the late pupils of every class have no record", day)
		}
		// A later late time: the same pupils checked in, more of them on time.
		later := attFigures(get("/apps/nb-school-7/attendance?day=" + day + "&late=12:00"))
		if later["present"].n <= total[0] || later["present"].n+later["late"].n != total[0]+total[1] || later["absent"].n != total[2] {
			t.Errorf("%s: late after 12:00 gives %v %v %v, after 08:00 %v", day, later["present"], later["late"], later["absent"], total)
		}
		one := get("/apps/nb-school-7/attendance?day=" + day + "&class=302")
		if strings.Contains(one, `id="class-301"`) || !strings.Contains(one, `id="class-302"`) {
			t.Errorf("%s: ?class=302 does not show class 302 alone", day)
		}
	}
	if page := get("/apps/nb-school-7?day=" + f.days[0]); !strings.Contains(page, `<a id="attendance" href="/apps/nb-school-7/attendance?day=`+f.days[0]+`">`) {
		t.Errorf("the school's page does not link its attendance")
	}
	if page := get("/apps/nb-library?day=" + f.days[0]); strings.Contains(page, `id="attendance"`) {
		t.Errorf("the library's page links an attendance")
	}
}

// TestAttendanceBadInput: a bad day, class, late time or presence on the
// attendance page, a class or late time without a presence on the
// records page, a bad card, two filters: a 422 page naming the
// parameter; the library's attendance is a 422, an unknown application
// a 404, and so is the page of a console whose application systems have
// no attendance.
func TestAttendanceBadInput(t *testing.T) {
	f := newFixture(t)
	af := withApps(t, f, 5)
	withClasses(t, af)
	cl := f.client(t)
	f.login(t, cl, RoleAuditor)
	d := f.days[0]
	for path, want := range map[string]string{
		"/apps/nb-school-7/attendance?day=20261101":                       "day=&#34;20261101&#34;",
		"/apps/nb-school-7/attendance?day=" + d + "&class=0":              "class=&#34;0&#34;",
		"/apps/nb-school-7/attendance?day=" + d + "&class=65536":          "class=&#34;65536&#34;",
		"/apps/nb-school-7/attendance?day=" + d + "&class=3a":             "class=&#34;3a&#34;",
		"/apps/nb-school-7/attendance?day=" + d + "&late=25:00":           "late=&#34;25:00&#34;",
		"/apps/nb-school-7/attendance?day=" + d + "&presence=sick":        "presence=&#34;sick&#34;",
		"/apps/nb-library/attendance?day=" + d:                            "attendance is a school",
		"/apps/nb-school-7/records?day=" + d + "&class=301":               "class=&#34;301&#34;: only with presence",
		"/apps/nb-school-7/records?day=" + d + "&late=09:00":              "late=&#34;09:00&#34;: only with presence",
		"/apps/nb-school-7/records?day=" + d + "&presence=sick":           "presence=&#34;sick&#34;",
		"/apps/nb-school-7/records?day=" + d + "&presence=late&class=0":   "class=&#34;0&#34;",
		"/apps/nb-school-7/records?day=" + d + "&card=zz":                 "card=&#34;zz&#34;",
		"/apps/nb-school-7/records?day=" + d + "&card=zz&presence=late":   "card and presence",
		"/apps/nb-library/records?day=" + d + "&presence=late":            "attendance is a school",
		"/apps/nb-school-7/attendance?day=" + d + "&class=301&class=oops": "", // the first counts: 200
	} {
		resp, page := f.get(t, cl, path)
		if want == "" {
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: %d, want 200", path, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, want) {
			t.Errorf("%s: %d, want 422 naming %s: %s", path, resp.StatusCode, want, page)
		}
	}
	// A class of the day with no pupil is a table saying so, not an error.
	if resp, page := f.get(t, cl, "/apps/nb-school-7/attendance?day="+d+"&class=999"); resp.StatusCode != http.StatusOK || !strings.Contains(page, "no pupil") {
		t.Errorf("a class with no pupil: %d", resp.StatusCode)
	}
	if resp, _ := f.get(t, cl, "/apps/nb-nothing/attendance"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown application: %d, want 404", resp.StatusCode)
	}
	f.c.Apps = boundApps{n: 1, date: mustDate(t, d)}
	if resp, _ := f.get(t, cl, "/apps/big/attendance?day="+d); resp.StatusCode != http.StatusNotFound {
		t.Errorf("application systems without attendance: %d, want 404", resp.StatusCode)
	}
}

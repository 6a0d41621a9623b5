package console

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/sim"
)

// TestAppRecordsFlag: a canteen record the back office flagged on filing
// (past the pupil's daily limit) shows its flag on the records page, the
// school's page counts the flagged records and links them, and
// flagged=1 lists those only; flagged=yes, or with another filter, is a
// 422 naming it. A library's page has no such figure.
func TestAppRecordsFlag(t *testing.T) {
	f := newFixture(t)
	af := withApps(t, f, 10)
	cl := f.client(t)
	f.login(t, cl, RoleAuditor)
	day := f.days[1]
	date, _ := apps.ParseDate(strings.ReplaceAll(day, "-", ""))
	pupil := apps.CardRef{Issuer: sim.Issuer, ASN: citycard.ASN{9: 0x77}}
	meal := func(pos int64, uses uint32, flag string) apps.AppRecord {
		return apps.AppRecord{Pos: pos, App: "nb-school-7", Card: pupil, Terminal: citycard.TerminalID{0x31, 0x50, 0x09, 0x0C, 0, 1}, TerminalSeq: uint32(pos),
			Action: apps.Canteen, Date: date, Time: citycard.BCDTime{0x12, byte(pos & 0x0F), 0}, Place: 1, Uses: uses, Counter: uint16(pos), Flag: flag}
	}
	recs := []apps.AppRecord{meal(af.pos+1, 1500, ""), meal(af.pos+2, 2600, apps.FlagCanteenLimit)}
	if err := af.store.ApplyRecords(context.Background(), af.pos+2, []string{"nb-school-7"}, recs, nil); err != nil {
		t.Fatal(err)
	}
	_, page := f.get(t, cl, "/apps/nb-school-7?day="+day)
	if figs := figures(page); figs["flagged"] != 1 || !strings.Contains(page, `href="/apps/nb-school-7/records?day=`+day+`&amp;flagged=1"`) {
		t.Fatalf("the school's page: flagged %d, want 1 linked to flagged=1", figs["flagged"])
	}
	_, page = f.get(t, cl, "/apps/nb-school-7/records?day="+day+"&flagged=1")
	if !strings.Contains(page, `<span id="matched">1</span>`) || strings.Count(page, `data-flag="canteen_limit"`) != 1 || !strings.Contains(page, "flagged for review") {
		t.Fatalf("flagged=1: want the one flagged record: %s", page)
	}
	_, page = f.get(t, cl, "/apps/nb-school-7/records?day="+day+"&action=canteen")
	if !strings.Contains(page, `<span id="matched">2</span>`) || strings.Count(page, `data-flag="canteen_limit"`) != 1 || !strings.Contains(page, "<th>flag</th>") {
		t.Fatalf("the canteen's records: want 2, one flagged: %s", page)
	}
	for path, want := range map[string]string{
		"/apps/nb-school-7/records?day=" + day + "&flagged=yes":       "flagged=&#34;yes&#34;",
		"/apps/nb-school-7/records?day=" + day + "&flagged=1&hour=12": "hour and flagged",
	} {
		if resp, page := f.get(t, cl, path); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, want) {
			t.Errorf("%s: %d, want 422 naming %s", path, resp.StatusCode, want)
		}
	}
	if _, page := f.get(t, cl, "/apps/nb-library?day="+day); strings.Contains(page, `id="fig-flagged"`) {
		t.Errorf("the library's page has a flagged figure")
	}
}

// TestAttendanceNoSchool: on a day the school's calendar makes a
// holiday, the attendance page says it is not a school day and counts
// nobody absent; on a school day it says nothing of the sort.
func TestAttendanceNoSchool(t *testing.T) {
	f := newFixture(t)
	af := withApps(t, f, 10)
	withClasses(t, af)
	cl := f.client(t)
	f.login(t, cl, RoleAuditor)
	if _, page := f.get(t, cl, "/apps/nb-school-7/attendance?day="+f.days[0]); strings.Contains(page, `id="noschool"`) || attFigures(page)["absent"].n == 0 {
		t.Fatalf("%s, a school day: the page says no school, or nobody absent", f.days[0])
	}
	holiday := mustDate(t, f.days[0])
	if _, err := af.o.SetCalendar(context.Background(), "nb-school-7", apps.Calendar{Holidays: []citycard.BCDDate{holiday}}); err != nil {
		t.Fatal(err)
	}
	_, page := f.get(t, cl, "/apps/nb-school-7/attendance?day="+f.days[0])
	if figs := attFigures(page); !strings.Contains(page, `id="noschool"`) || figs["absent"].n != 0 || figs["late"].n != 0 || figs["present"].n == 0 {
		t.Fatalf("%s, a holiday: want the notice, nobody absent or late, the pupils who came present: %v", f.days[0], figs)
	}
}

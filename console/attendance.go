package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// The attendance page of a school (考勤): for one day, a table a class,
// each pupil present, late or absent (apps.Office.Attendance, the API's
// GET /v1/apps/{app}/reports/attendance), and a chart of the three by
// class. Every figure links to what is behind it: the present and the
// late to their check-ins and check-outs on the records page
// (?presence=, with ?class=), the absent, who have no record that day,
// to the table of those pupils; each pupil's card to its records of the
// day (?card=).

// Attendances is what the attendance page reads of the application
// systems (*apps.Office has it): a console whose Apps lacks it has no
// attendance page (404).
type Attendances interface {
	Classes(ctx context.Context, app string, day citycard.BCDDate) ([]uint16, bool, error)
	Attendance(ctx context.Context, app string, class uint16, day citycard.BCDDate, late citycard.BCDTime) (apps.Attendance, error)
}

type attendancePage struct {
	App      apps.App
	Day      string
	Late     string // HH:MM:SS
	Presence string // the table's filter; "" for every pupil
	Figures  []appFigure
	Chart    *chart
	Classes  []attendanceClass
	Cut      bool // more classes than apps.AttendanceClassesMax
	Back     string
	NoSchool bool // not a school day of the school's calendar: nobody absent or late
}

type attendanceClass struct {
	Class   uint16
	Figures []appFigure
	Pupils  []attendancePupil
	Shown   int // pupils in the table after the filter
}

type attendancePupil struct {
	Issuer, ASN, Presence, In, Out string
	Taps                           int
	Link                           string
}

// attendanceQuery is what the attendance page and the records page's
// presence filter read of a query: the day (YYYY-MM-DD; "": today, China
// time), class=N (1-65535; "": every class of the day), late=HH:MM or
// HH:MM:SS (default apps.AttendanceLateDefault) and presence=present,
// late or absent. Kind Invalid naming the parameter.
type attendanceQuery struct {
	day      citycard.BCDDate
	class    uint16 // 0: every class
	late     citycard.BCDTime
	presence string
}

func (c *Console) readAttendanceQuery(q url.Values) (attendanceQuery, error) {
	const op = "console.attendance"
	var a attendanceQuery
	if d := q.Get("day"); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return a, citycard.E(op, citycard.Invalid, "day=%q: want YYYY-MM-DD", d)
		}
		a.day, _ = citycard.DateTime(t)
	} else {
		a.day, _ = citycard.DateTime(c.Now().In(citycard.ChinaTime))
	}
	if q.Has("class") {
		n, err := strconv.ParseUint(q.Get("class"), 10, 16)
		if err != nil || n == 0 {
			return a, citycard.E(op, citycard.Invalid, "class=%q: want 1 to 65535", q.Get("class"))
		}
		a.class = uint16(n)
	}
	a.late = apps.AttendanceLateDefault
	if l := q.Get("late"); l != "" {
		t, err := time.Parse("15:04:05", l)
		if err != nil {
			t, err = time.Parse("15:04", l)
		}
		if err != nil {
			return a, citycard.E(op, citycard.Invalid, "late=%q: want HH:MM or HH:MM:SS", l)
		}
		_, a.late = citycard.DateTime(t)
	}
	if q.Has("presence") {
		switch p := q.Get("presence"); p {
		case apps.Present.String(), apps.Late.String(), apps.Absent.String():
			a.presence = p
		default:
			return a, citycard.E(op, citycard.Invalid, "presence=%q: want present, late or absent", p)
		}
	}
	return a, nil
}

// link is the query of aq's page narrowed by the pairs (class, presence)
// over day and late.
func (aq *attendanceQuery) link(path string, kv ...string) string {
	q := url.Values{"day": {dayOf(aq.day)}}
	if aq.late != apps.AttendanceLateDefault {
		q.Set("late", timeOf(aq.late))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return path + "?" + q.Encode()
}

// timeOf writes a BCD time as HH:MM:SS.
func timeOf(t citycard.BCDTime) string {
	s := t.String()
	return s[:2] + ":" + s[2:4] + ":" + s[4:]
}

// attendances returns the console's Attendances, and the school a of
// the path's {app}. Kinds: NotFound (no such application, or none of
// attendance here), Invalid (an application that is not a school's).
func (c *Console) attendances(ctx context.Context, id string) (Attendances, apps.App, error) {
	const op = "console.attendance"
	a, _, err := c.findApp(ctx, id)
	if err != nil {
		return nil, a, err
	}
	at, ok := c.Apps.(Attendances)
	if !ok {
		return nil, a, citycard.E(op, citycard.NotFound, "no attendance here")
	}
	if a.Kind != card.AppCampus {
		return nil, a, citycard.E(op, citycard.Invalid, "application %s is a %v: attendance is a school's (campus)", a.ID, a.Kind)
	}
	return at, a, nil
}

// classDays returns the attendance of aq's class, or of every class of
// the day (and whether there were more than apps.AttendanceClassesMax).
func classDays(ctx context.Context, at Attendances, app string, aq *attendanceQuery) ([]apps.Attendance, bool, error) {
	classes, cut := []uint16{aq.class}, false
	if aq.class == 0 {
		var err error
		if classes, cut, err = at.Classes(ctx, app, aq.day); err != nil {
			return nil, false, err
		}
	}
	out := make([]apps.Attendance, 0, len(classes))
	for _, cl := range classes {
		rep, err := at.Attendance(ctx, app, cl, aq.day, aq.late)
		if err != nil {
			return nil, false, err
		}
		out = append(out, rep)
	}
	return out, cut, nil
}

// handleAttendance shows a school's attendance of a day: ?day=,
// ?class=, ?late=, ?presence= (attendanceQuery).
func (c *Console) handleAttendance(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	at, a, err := c.attendances(ctx, r.PathValue("app"))
	var aq attendanceQuery
	if err == nil {
		aq, err = c.readAttendanceQuery(r.URL.Query())
	}
	var reps []apps.Attendance
	p := attendancePage{App: a, Day: dayOf(aq.day), Late: timeOf(aq.late), Presence: aq.presence, Back: "/apps/" + url.PathEscape(a.ID) + "?day=" + dayOf(aq.day)}
	if err == nil {
		reps, p.Cut, err = classDays(ctx, at, a.ID, &aq)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	self := "/apps/" + url.PathEscape(a.ID) + "/attendance"
	records := "/apps/" + url.PathEscape(a.ID) + "/records"
	figs := func(id string, class string, present, late, absent int) []appFigure {
		kv := func(presence string) []string {
			if class == "" {
				return []string{"presence", presence}
			}
			return []string{"class", class, "presence", presence}
		}
		return []appFigure{
			{ID: id + "present", Name: "present", Note: "first check-in by " + p.Late, N: int64(present), Link: aq.link(records, kv("present")...)},
			{ID: id + "late", Name: "late", Note: "first check-in after " + p.Late, N: int64(late), Link: aq.link(records, kv("late")...)},
			{ID: id + "absent", Name: "absent", Note: "no check-in", N: int64(absent), Link: aq.link(self, kv("absent")...)},
		}
	}
	ch := &chart{Type: "bar", Datasets: []dataset{{Label: "present"}, {Label: "late"}, {Label: "absent"}}}
	var present, late, absent int
	for _, rep := range reps {
		cl := strconv.Itoa(int(rep.Class))
		ac := attendanceClass{Class: rep.Class, Figures: figs("c"+cl+"-", cl, rep.Present, rep.Lates, rep.Absent)}
		for _, pd := range rep.Pupils {
			if aq.presence != "" && pd.Presence.String() != aq.presence {
				continue
			}
			pu := attendancePupil{Issuer: pd.Card.Issuer.String(), ASN: pd.Card.ASN.String(), Presence: pd.Presence.String(), Taps: pd.Taps,
				Link: aq.link(records, "card", pd.Card.String())}
			if pd.CheckedIn {
				pu.In = timeOf(pd.In)
			}
			if pd.CheckedOut {
				pu.Out = timeOf(pd.Out)
			}
			ac.Pupils = append(ac.Pupils, pu)
		}
		ac.Shown = len(ac.Pupils)
		p.Classes = append(p.Classes, ac)
		present, late, absent = present+rep.Present, late+rep.Lates, absent+rep.Absent
		ch.Labels = append(ch.Labels, "class "+cl)
		ch.Datasets[0].Data = append(ch.Datasets[0].Data, int64(rep.Present))
		ch.Datasets[1].Data = append(ch.Datasets[1].Data, int64(rep.Lates))
		ch.Datasets[2].Data = append(ch.Datasets[2].Data, int64(rep.Absent))
	}
	p.Figures = figs("", "", present, late, absent)
	if aq.class != 0 {
		p.Figures = nil // the class's own figures say it
	}
	if len(reps) > 0 {
		p.Chart, p.NoSchool = ch, !reps[0].SchoolDay
	}
	c.render(w, r, s, http.StatusOK, "attendance", a.Name+": attendance", p)
}

// presenceCards returns the cards of aq's presence in aq's class (every
// class of the day when 0), for the records page's presence filter.
func (c *Console) presenceCards(ctx context.Context, app string, aq *attendanceQuery) (map[apps.CardRef]bool, error) {
	at, _, err := c.attendances(ctx, app)
	if err != nil {
		return nil, err
	}
	reps, _, err := classDays(ctx, at, app, aq)
	if err != nil {
		return nil, err
	}
	out := map[apps.CardRef]bool{}
	for _, rep := range reps {
		for _, pd := range rep.Pupils {
			if pd.Presence.String() == aq.presence {
				out[pd.Card] = true
			}
		}
	}
	return out, nil
}

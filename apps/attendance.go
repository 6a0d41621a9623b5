package apps

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// Attendance per class and day (考勤): a school sees, for one class on one
// day, each pupil present, late or absent, from its gates' check-in and
// check-out records (IndexRecords files them). A pupil of the class is a
// card whose grant of the school's campus application carries the class
// and covers the day, active or blocked (a pupil whose card is lost is
// still a pupil; a revoked grant is a pupil gone, and a replaced card's
// pupil is the new card's grant): the class as its grants stand now.
// The pupil is present when the day's first check-in is at or before
// the late time, late after it, and absent without a check-in that day;
// the first check-in and the last check-out are shown with it. That is
// on a school day of the school's calendar (Calendar: weekdays, but for
// its holidays, and its make-up days). On any other day nobody is absent
// or late: a pupil who checked in (a Saturday's club) is present, one
// who did not has no school (NoSchool), and the report says the day is
// not a school day (SchoolDay false).
const (
	AttendancePupilsMax  = 1000  // pupils a class report holds; a larger "class" is refused
	AttendanceRecordsMax = 20000 // a class's records of one day the report reads; more are refused
)

// AttendanceLateDefault is the late time when the school names none:
// 08:00:00, a check-in at 08:00:00 on time, at 08:00:01 late.
var AttendanceLateDefault = citycard.BCDTime{0x08, 0x00, 0x00}

// Presence is a pupil's day: present, late or absent.
type Presence uint8

// The presences.
const (
	Absent   Presence = iota // no check-in that day
	Present                  // the first check-in at or before the late time
	Late                     // the first check-in after it
	NoSchool                 // not a school day, no check-in: not absent
)

var presenceNames = [...]string{Absent: "absent", Present: "present", Late: "late", NoSchool: "no_school"}

// String gives the presence's name: absent, present, late, no_school.
func (p Presence) String() string {
	if int(p) < len(presenceNames) {
		return presenceNames[p]
	}
	return fmt.Sprintf("presence(%d)", uint8(p))
}

// PupilDay is one pupil's line of an attendance report.
type PupilDay struct {
	Card                  CardRef
	Presence              Presence
	In                    citycard.BCDTime // the day's first check-in (when CheckedIn)
	Out                   citycard.BCDTime // the day's last check-out (when CheckedOut)
	Taps                  int              // the day's check-ins and check-outs
	CheckedIn, CheckedOut bool
}

// Attendance is a class's day: a line a pupil, by card, and the counts.
type Attendance struct {
	App                    string
	Class                  uint16
	Date                   citycard.BCDDate
	Late                   citycard.BCDTime // the late time the report used
	SchoolDay              bool             // a school day of the school's calendar: else nobody is absent or late
	Pupils                 []PupilDay
	Present, Lates, Absent int
}

// Attendance returns the attendance of class (1 to 65535) of campus
// application app on day, late after late (zero: AttendanceLateDefault),
// by the school's calendar (on a day that is not a school day nobody is
// absent or late).
// Kinds: NotFound for no such application; Invalid for an application
// that is not a campus's, class 0, a late time that is not a time of
// day, a class of more than AttendancePupilsMax pupils or a day of more
// than AttendanceRecordsMax of its records; the store's otherwise.
func (o *Office) Attendance(ctx context.Context, app string, class uint16, day citycard.BCDDate, late citycard.BCDTime) (Attendance, error) {
	const op = "apps.Office.Attendance"
	if late == (citycard.BCDTime{}) {
		late = AttendanceLateDefault
	}
	rep := Attendance{App: app, Class: class, Date: day, Late: late}
	if class == 0 {
		return rep, citycard.E(op, citycard.Invalid, "class 0: want 1 to 65535")
	}
	if _, err := citycard.TimeOf(day, late, citycard.ChinaTime); err != nil {
		return rep, citycard.E(op, citycard.Invalid, "date %v, late %X: want a day and a time of day", day, late[:])
	}
	a, err := o.store.App(ctx, app)
	if err != nil {
		return rep, citycard.Wrap(op, citycard.Other, err)
	}
	if a.Kind != card.AppCampus {
		return rep, citycard.E(op, citycard.Invalid, "application %s is a %v's: attendance is a school's (campus)", app, a.Kind)
	}
	cal, err := o.store.Calendar(ctx, app)
	if err != nil {
		return rep, citycard.Wrap(op, citycard.Other, err)
	}
	rep.SchoolDay = cal.SchoolDay(day)
	grants, err := o.store.ClassGrants(ctx, app, class, day, AttendancePupilsMax+1)
	if err != nil {
		return rep, citycard.Wrap(op, citycard.Other, err)
	}
	if len(grants) > AttendancePupilsMax {
		return rep, citycard.E(op, citycard.Invalid, "class %d has more than %d pupils: a report is one class's", class, AttendancePupilsMax)
	}
	recs, err := o.store.ClassRecords(ctx, app, class, day, AttendanceRecordsMax+1)
	if err != nil {
		return rep, citycard.Wrap(op, citycard.Other, err)
	}
	if len(recs) > AttendanceRecordsMax {
		return rep, citycard.E(op, citycard.Invalid, "class %d has more than %d records on %v", class, AttendanceRecordsMax, day)
	}
	rep.Pupils = make([]PupilDay, len(grants))
	at := make(map[CardRef]int, len(grants))
	for i := range grants {
		rep.Pupils[i].Card = grants[i].Card
		at[grants[i].Card] = i
	}
	for _, r := range recs {
		i, ok := at[r.Card]
		if !ok || r.Date != day {
			continue
		}
		p := &rep.Pupils[i]
		switch r.Action {
		case CheckIn:
			if !p.CheckedIn || bytes.Compare(r.Time[:], p.In[:]) < 0 {
				p.In, p.CheckedIn = r.Time, true
			}
		case CheckOut:
			if !p.CheckedOut || bytes.Compare(r.Time[:], p.Out[:]) > 0 {
				p.Out, p.CheckedOut = r.Time, true
			}
		default:
			continue
		}
		p.Taps++
	}
	for i := range rep.Pupils {
		p := &rep.Pupils[i]
		switch {
		case !p.CheckedIn && !rep.SchoolDay:
			p.Presence = NoSchool
		case !rep.SchoolDay:
			p.Presence = Present
			rep.Present++
		case !p.CheckedIn:
			p.Presence = Absent
			rep.Absent++
		case bytes.Compare(p.In[:], late[:]) <= 0:
			p.Presence = Present
			rep.Present++
		default:
			p.Presence = Late
			rep.Lates++
		}
	}
	return rep, nil
}

// AttendanceClassesMax bounds Classes: the classes of one school's day
// a page of attendance lists.
const AttendanceClassesMax = 200

// Classes returns campus application app's classes on day: those with a
// pupil (a grant active or blocked, whose validity covers day), by
// class, at most AttendanceClassesMax, and whether there are more. Kinds
// as Attendance's (Invalid for an application that is not a campus's).
func (o *Office) Classes(ctx context.Context, app string, day citycard.BCDDate) ([]uint16, bool, error) {
	const op = "apps.Office.Classes"
	a, err := o.store.App(ctx, app)
	if err != nil {
		return nil, false, citycard.Wrap(op, citycard.Other, err)
	}
	if a.Kind != card.AppCampus {
		return nil, false, citycard.E(op, citycard.Invalid, "application %s is a %v's: classes are a school's (campus)", app, a.Kind)
	}
	cs, err := o.store.Classes(ctx, app, day, AttendanceClassesMax+1)
	if err != nil {
		return nil, false, citycard.Wrap(op, citycard.Other, err)
	}
	if len(cs) > AttendanceClassesMax {
		return cs[:AttendanceClassesMax], true, nil
	}
	return cs, false, nil
}

// AttendanceHeader is the header of WriteCSV's rows.
var AttendanceHeader = []string{"app", "class", "date", "issuer", "asn", "presence", "first_check_in", "last_check_out", "taps"}

// Rows returns the report's lines as text, in AttendanceHeader's order:
// times HHMMSS, empty for none.
func (a *Attendance) Rows() [][]string {
	out := make([][]string, 0, len(a.Pupils))
	for _, p := range a.Pupils {
		out = append(out, []string{a.App, strconv.Itoa(int(a.Class)), a.Date.String(), p.Card.Issuer.String(), p.Card.ASN.String(),
			p.Presence.String(), timeText(p.In, p.CheckedIn), timeText(p.Out, p.CheckedOut), strconv.Itoa(p.Taps)})
	}
	return out
}

// WriteCSV writes the report as CSV: AttendanceHeader, then a row a
// pupil.
func (a *Attendance) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(AttendanceHeader)
	cw.WriteAll(a.Rows())
	return cw.Error()
}

// timeText is t as HHMMSS, empty for none.
func timeText(t citycard.BCDTime, ok bool) string {
	if !ok {
		return ""
	}
	return t.String()
}

package apps_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// classStore is a school of one class of n pupils, each checked in once
// at 07:45, and r records in all; the rest of apps.Store is not called.
type classStore struct {
	apps.Store
	n, r int
}

func (s classStore) App(_ context.Context, id string) (apps.App, error) {
	return apps.App{ID: id, Kind: card.AppCampus, Scope: 7}, nil
}

func (s classStore) Calendar(context.Context, string) (apps.Calendar, error) {
	return apps.Calendar{}, nil
}

func (s classStore) pupil(i int) apps.CardRef {
	c, _ := apps.ParseCard(fmt.Sprintf("3301000000000000/%020d", i+1))
	return c
}

func (s classStore) ClassGrants(_ context.Context, app string, class uint16, day citycard.BCDDate, limit int) ([]apps.Grant, error) {
	var out []apps.Grant
	for i := 0; i < s.n && i < limit; i++ {
		out = append(out, apps.Grant{App: app, Card: s.pupil(i), State: apps.Active})
	}
	return out, nil
}

func (s classStore) ClassRecords(_ context.Context, app string, class uint16, day citycard.BCDDate, limit int) ([]apps.AppRecord, error) {
	var out []apps.AppRecord
	for i := 0; i < s.r && i < limit; i++ {
		out = append(out, apps.AppRecord{Pos: int64(i + 1), App: app, Card: s.pupil(i % max(s.n, 1)), Action: apps.CheckIn, Date: day, Time: citycard.BCDTime{0x07, 0x45, 0x00}})
	}
	return out, nil
}

// TestAttendanceBounds: a class of AttendancePupilsMax pupils and a day
// of AttendanceRecordsMax records are reported, one more of either is
// refused, naming the bound.
func TestAttendanceBounds(t *testing.T) {
	ctx := context.Background()
	day := citycard.BCDDate{0x20, 0x25, 0x03, 0x03}
	office := func(n, r int) *apps.Office {
		return apps.NewOffice(classStore{n: n, r: r}, time.Now, strings.NewReader(""))
	}
	rep, err := office(apps.AttendancePupilsMax, apps.AttendanceRecordsMax).Attendance(ctx, "school", 301, day, citycard.BCDTime{})
	if err != nil || len(rep.Pupils) != apps.AttendancePupilsMax || rep.Present != apps.AttendancePupilsMax || rep.Pupils[0].Taps != apps.AttendanceRecordsMax/apps.AttendancePupilsMax {
		t.Fatalf("%d pupils, %d records: %d pupils, %d present, %v", apps.AttendancePupilsMax, apps.AttendanceRecordsMax, len(rep.Pupils), rep.Present, err)
	}
	if _, err := office(apps.AttendancePupilsMax+1, 0).Attendance(ctx, "school", 301, day, citycard.BCDTime{}); citycard.KindOf(err) != citycard.Invalid || !strings.Contains(err.Error(), "more than 1000 pupils") {
		t.Errorf("%d pupils: %v, want invalid naming the bound", apps.AttendancePupilsMax+1, err)
	}
	if _, err := office(10, apps.AttendanceRecordsMax+1).Attendance(ctx, "school", 301, day, citycard.BCDTime{}); citycard.KindOf(err) != citycard.Invalid || !strings.Contains(err.Error(), "more than 20000 records") {
		t.Errorf("%d records: %v, want invalid naming the bound", apps.AttendanceRecordsMax+1, err)
	}
}

func TestAttendanceCSV(t *testing.T) {
	rep, err := apps.NewOffice(classStore{n: 2, r: 1}, time.Now, strings.NewReader("")).Attendance(context.Background(), "school", 301, citycard.BCDDate{0x20, 0x25, 0x03, 0x03}, citycard.BCDTime{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	want := "app,class,date,issuer,asn,presence,first_check_in,last_check_out,taps\n" +
		"school,301,20250303,3301000000000000,0000000000000001,present,074500,,1\n" +
		"school,301,20250303,3301000000000000,0000000000000002,absent,,,0\n"
	if b.String() != want {
		t.Fatalf("CSV:\n%s\nwant:\n%s", b.String(), want)
	}
}

// FuzzParseTime: a time ParseTime takes is a real time of day, and it
// prints back as it was read.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"080000", "235959", "240000", "0800", "08:00:00", "", "12345a", "075960"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := apps.ParseTime(s)
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("%q: %v, want Invalid", s, err)
			}
			return
		}
		if tm.String() != s {
			t.Fatalf("%q read as %v", s, tm)
		}
		if _, err := citycard.TimeOf(citycard.BCDDate{0x20, 0x25, 0x01, 0x01}, tm, time.UTC); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	})
}

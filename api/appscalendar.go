package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// A school's calendar on the application API (apps.Calendar): its
// holidays and make-up days, which attendance counts school days by.

// maxCalendarBody bounds a school's calendar: apps.CalendarDaysMax dates
// of 11 bytes each ("20250303",) with room for white space.
const maxCalendarBody = 16 << 10

type calendarJSON struct {
	App        string   `json:"app"`
	Holidays   []string `json:"holidays"`     // YYYYMMDD, weekdays with no school
	MakeUpDays []string `json:"make_up_days"` // YYYYMMDD, a Saturday or Sunday of school (调休)
}

func newCalendarJSON(app string, c *apps.Calendar) calendarJSON {
	out := calendarJSON{App: app, Holidays: []string{}, MakeUpDays: []string{}}
	for _, d := range c.Holidays {
		out.Holidays = append(out.Holidays, d.String())
	}
	for _, d := range c.MakeUpDays {
		out.MakeUpDays = append(out.MakeUpDays, d.String())
	}
	return out
}

// handleAppCalendar answers the school's calendar, each list by date.
func (s *Server) handleAppCalendar(w http.ResponseWriter, r *http.Request, a apps.App) {
	c, err := s.Apps.Calendar(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, citycard.Wrap("api.appCalendar", citycard.Other, err))
		return
	}
	s.reply(w, r, http.StatusOK, newCalendarJSON(a.ID, &c))
}

// handleAppSetCalendar replaces the school's calendar: {"holidays":
// ["20251001", ...], "make_up_days": ["20250928", ...]}, at most
// apps.CalendarDaysMax dates in all; [] and [] for none (weekdays only).
func (s *Server) handleAppSetCalendar(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appSetCalendar"
	var c apps.Calendar
	err := readBody(w, r, op, "calendar", maxCalendarBody, []field{{"holidays", readDates(&c.Holidays)}, {"make_up_days", readDates(&c.MakeUpDays)}})
	if err == nil {
		c, err = s.Apps.SetCalendar(r.Context(), a.ID, c)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.Logger.Info("school calendar set", "app", a.ID, "holidays", len(c.Holidays), "make_up_days", len(c.MakeUpDays))
	s.reply(w, r, http.StatusOK, newCalendarJSON(a.ID, &c))
}

// readDates reads an array of at most apps.CalendarDaysMax dates,
// YYYYMMDD each.
func readDates(dst *[]citycard.BCDDate) func(*json.Decoder) error {
	return func(dec *json.Decoder) error {
		tok, err := dec.Token()
		if err != nil {
			return notJSON(err)
		}
		if tok != json.Delim('[') {
			return fmt.Errorf("want an array of dates, have %v", tok)
		}
		*dst = []citycard.BCDDate{}
		for dec.More() {
			i := len(*dst)
			if i == apps.CalendarDaysMax {
				return fmt.Errorf("more than %d dates", apps.CalendarDaysMax)
			}
			var s string
			if err := readString(&s)(dec); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
			d, err := apps.ParseDate(s)
			if err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
			*dst = append(*dst, d)
		}
		_, err = dec.Token() // the closing bracket
		return notJSONOrNil(err)
	}
}

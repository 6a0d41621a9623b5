package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// The application rules of the back office on the application API: the
// daily canteen limit a school's app sets for the parents, and a
// venue's periods with their capacity (package apps).

// maxPeriodsBody bounds a venue's periods: apps.PeriodsMax objects of
// about 60 bytes each, with room for white space.
const maxPeriodsBody = 16 << 10

// handleAppCanteenLimit sets the pupil's daily canteen limit:
// {"limit_fen": 0 to 65535} (0: none). The school's app calls it for the
// parents (apps.Office.SetCanteenLimit says why there); the answer is
// the grant, its limit the new one, with the card's file version.
func (s *Server) handleAppCanteenLimit(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appCanteenLimit"
	c, err := appCard(r, op)
	var limit int64
	if err == nil {
		err = readBody(w, r, op, "canteen limit", maxAppBody, []field{{"limit_fen", readInt(&limit, 0, apps.CanteenLimitMaxFen)}})
	}
	var g apps.Grant
	var v uint32
	if err == nil {
		g, v, err = s.Apps.SetCanteenLimit(r.Context(), a.ID, c, limit)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.Logger.Info("canteen limit set", "app", a.ID, "card", c.String(), "limit_fen", limit, "file_version", v)
	s.reply(w, r, http.StatusOK, NewEntitlementJSON(&g, v))
}

// periodJSON is one of a venue's periods.
type periodJSON struct {
	Start    string `json:"start"` // HHMMSS
	End      string `json:"end"`   // HHMMSS, or 240000 for midnight
	Capacity int64  `json:"capacity"`
}

type periodsJSON struct {
	App     string       `json:"app"`
	Periods []periodJSON `json:"periods"`
}

func newPeriodsJSON(app string, ps []apps.Period) periodsJSON {
	out := periodsJSON{App: app, Periods: []periodJSON{}}
	for _, p := range ps {
		out.Periods = append(out.Periods, periodJSON{Start: p.Start.String(), End: p.End.String(), Capacity: p.Capacity})
	}
	return out
}

// handleAppPeriods answers the venue's periods, by start.
func (s *Server) handleAppPeriods(w http.ResponseWriter, r *http.Request, a apps.App) {
	ps, err := s.Apps.Periods(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, citycard.Wrap("api.appPeriods", citycard.Other, err))
		return
	}
	s.reply(w, r, http.StatusOK, newPeriodsJSON(a.ID, ps))
}

// handleAppSetPeriods replaces the venue's periods: {"periods": [{"start":
// "080000", "end": "100000", "capacity": 200}, ...]}, at most
// apps.PeriodsMax, by start, none overlapping; [] for none.
func (s *Server) handleAppSetPeriods(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appSetPeriods"
	var ps []apps.Period
	err := readBody(w, r, op, "periods", maxPeriodsBody, []field{{"periods", readPeriods(&ps)}})
	if err == nil {
		err = s.Apps.SetPeriods(r.Context(), a.ID, ps)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.Logger.Info("venue periods set", "app", a.ID, "periods", len(ps))
	s.reply(w, r, http.StatusOK, newPeriodsJSON(a.ID, ps))
}

// readPeriods reads an array of at most apps.PeriodsMax periods, each a
// strict object (readObject) of start, end and capacity.
func readPeriods(dst *[]apps.Period) func(*json.Decoder) error {
	return func(dec *json.Decoder) error {
		tok, err := dec.Token()
		if err != nil {
			return notJSON(err)
		}
		if tok != json.Delim('[') {
			return fmt.Errorf("want an array of periods, have %v", tok)
		}
		*dst = []apps.Period{}
		for dec.More() {
			i := len(*dst)
			if i == apps.PeriodsMax {
				return fmt.Errorf("more than %d periods", apps.PeriodsMax)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("periods[%d]: %w", i, notJSON(err))
			}
			var start, end string
			var p apps.Period
			inner := json.NewDecoder(bytes.NewReader(raw))
			inner.UseNumber()
			if err := readObject(inner, []field{{"start", readString(&start)}, {"end", readString(&end)},
				{"capacity", readInt(&p.Capacity, 1, apps.PeriodCapacityMax)}}); err != nil {
				return fmt.Errorf("periods[%d]: %w", i, err)
			}
			if p.Start, err = apps.ParseTime(start); err != nil {
				return fmt.Errorf("periods[%d]: start: %w", i, err)
			}
			if p.End, err = apps.ParsePeriodEnd(end); err != nil {
				return fmt.Errorf("periods[%d]: end: %w", i, err)
			}
			*dst = append(*dst, p)
		}
		_, err = dec.Token() // the closing bracket
		return notJSONOrNil(err)
	}
}

package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// OpenRentalsJSON is a bike operator's bikes out (apps.Office.OpenRentals),
// as the API and citycard app rentals --json show them.
type OpenRentalsJSON struct {
	App           string       `json:"app"`
	At            string       `json:"at"`              // RFC 3339, China time: the report's moment
	OutMaxMinutes int64        `json:"out_max_minutes"` // a bike out longer is overdue
	Overdue       int          `json:"overdue"`         // how many of the rentals are
	Rentals       []RentalJSON `json:"rentals"`
}

// RentalJSON is one bike out.
type RentalJSON struct {
	Issuer   string `json:"issuer"`
	ASN      string `json:"asn"`
	Hired    string `json:"hired"` // RFC 3339, China time
	Dock     uint32 `json:"dock"`  // the dock's number (the hire record's place)
	Terminal string `json:"terminal"`
	Overdue  bool   `json:"overdue"`
}

// NewOpenRentalsJSON returns the open rentals' answer.
func NewOpenRentalsJSON(app string, at time.Time, outMax time.Duration, rs []apps.Rental) OpenRentalsJSON {
	out := OpenRentalsJSON{App: app, At: at.In(citycard.ChinaTime).Format(time.RFC3339), OutMaxMinutes: int64(outMax / time.Minute), Rentals: make([]RentalJSON, 0, len(rs))}
	for _, r := range rs {
		if r.Overdue {
			out.Overdue++
		}
		out.Rentals = append(out.Rentals, RentalJSON{Issuer: r.Card.Issuer.String(), ASN: r.Card.ASN.String(), Hired: r.Hired.In(citycard.ChinaTime).Format(time.RFC3339),
			Dock: r.Dock, Terminal: r.Terminal.String(), Overdue: r.Overdue})
	}
	return out
}

// handleAppOpenRentals answers a bike operator's bikes out now
// (apps.Office.OpenRentals): ?out_max_minutes=N (1 to 1440, default
// 1440: apps.BikeOutMaxDefault), the docks' limit past which a bike is
// overdue. 422 for a limit out of range or an application that is not
// a bike operator's.
func (s *Server) handleAppOpenRentals(w http.ResponseWriter, r *http.Request, a apps.App) {
	const op = "api.appOpenRentals"
	outMax := apps.BikeOutMaxDefault
	var err error
	if v := r.URL.Query().Get("out_max_minutes"); v != "" {
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < int64(apps.BikeOutMaxMin/time.Minute) || n > int64(apps.BikeOutMaxMax/time.Minute) {
			err = citycard.E(op, citycard.Invalid, "out_max_minutes=%q: want %d to %d", v, apps.BikeOutMaxMin/time.Minute, apps.BikeOutMaxMax/time.Minute)
		}
		outMax = time.Duration(n) * time.Minute
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now()
	var rs []apps.Rental
	if err == nil {
		rs, err = s.Apps.OpenRentals(r.Context(), a.ID, at, outMax)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.reply(w, r, http.StatusOK, NewOpenRentalsJSON(a.ID, at, outMax, rs))
}

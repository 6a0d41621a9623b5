package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/terminal"
)

// What the interconnection gives terminals: the other issuers' blacklists
// (fed into the terminals' blacklist, which they download as ever) and
// the interconnected cities (in their parameters).

// citiesJSON is the interconnected cities in a terminal's parameters: our
// city, whose cards are always accepted, and every change of the others
// with its effective date (YYYYMMDD), which the terminal applies on its
// day by its own clock.
type citiesJSON struct {
	Own     string           `json:"own"` // 4 hex digits
	Changes []cityChangeJSON `json:"changes"`
}

type cityChangeJSON struct {
	City      string `json:"city"`   // 4 hex digits
	Action    string `json:"action"` // add or remove
	Effective string `json:"effective"`
}

func newCitiesJSON(own [2]byte, cs []terminal.CityChange) *citiesJSON {
	j := &citiesJSON{Own: fmt.Sprintf("%X", own[:]), Changes: make([]cityChangeJSON, 0, len(cs))}
	for _, c := range cs {
		a := "remove"
		if c.Add {
			a = "add"
		}
		j.Changes = append(j.Changes, cityChangeJSON{City: fmt.Sprintf("%X", c.City[:]), Action: a, Effective: fmt.Sprintf("%X", c.Effective[:])})
	}
	return j
}

func (j *citiesJSON) cities() (own [2]byte, out []terminal.CityChange, err error) {
	code := func(s string) ([2]byte, error) {
		var c [2]byte
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 2 {
			return c, fmt.Errorf("city %q: want 4 hex digits", s)
		}
		return [2]byte(b), nil
	}
	if own, err = code(j.Own); err != nil {
		return own, nil, err
	}
	for _, c := range j.Changes {
		cc := terminal.CityChange{Add: c.Action == "add"}
		if cc.City, err = code(c.City); err != nil {
			return own, nil, err
		}
		if c.Action != "add" && c.Action != "remove" {
			return own, nil, fmt.Errorf("city %s: action %q: want add or remove", c.City, c.Action)
		}
		t, err := time.Parse("20060102", c.Effective)
		if err != nil {
			return own, nil, fmt.Errorf("city %s: effective %q: want YYYYMMDD", c.City, c.Effective)
		}
		cc.Effective, _ = citycard.DateTime(t)
		out = append(out, cc)
	}
	return own, out, nil
}

// today is the server's civil day in China time.
func (s *Server) today() clearing.Day {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	y, m, d := now().In(citycard.ChinaTime).Date()
	return clearing.DayOf(y, m, d)
}

// FeedInterop brings the terminals' blacklist to the other issuers' BLK
// listings in force today (interop.Interop.FeedBlacklist): after a BLK
// file's import, and once a day for the listings that take effect later
// (citycard serve does). It returns the changes made.
func (s *Server) FeedInterop(ctx context.Context) (int, error) {
	if s.Interop == nil || s.Blacklist == nil {
		return 0, nil
	}
	n, err := s.Interop.FeedBlacklist(ctx, s.Blacklist, s.today())
	if n > 0 {
		s.Logger.Info("other issuers' blacklists fed to the terminals' blacklist", "changes", n)
	}
	return n, err
}

// SyncConcessions brings a fare terminal's concession categories to the
// back office's (its parameters' concessions: Terminal.SetConcessions).
// Kind IO for an answer that does not decode, or a category out of 0 to
// 255.
func (c *Client) SyncConcessions(ctx context.Context, t *terminal.Terminal) error {
	const op = "api.Client.SyncConcessions"
	j, err := c.parameters(ctx, op)
	if err != nil {
		return err
	}
	m := make(map[uint8]uint8, len(j.Concessions))
	for _, k := range j.Concessions {
		if k.Category < 0 || k.Category > 0xFF || k.Lapsed < 0 || k.Lapsed > 0xFF {
			return citycard.E(op, citycard.IO, "answer: concession %d lapsing to %d: want 0 to 255", k.Category, k.Lapsed)
		}
		m[uint8(k.Category)] = uint8(k.Lapsed)
	}
	t.SetConcessions(m)
	return nil
}

// parameters downloads the terminal's parameters. Kinds IO, and the
// answer's.
func (c *Client) parameters(ctx context.Context, op string) (parametersJSON, error) {
	var j parametersJSON
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/terminals/%v/parameters", c.BaseURL, c.Terminal), nil)
	if err != nil {
		return j, citycard.E(op, citycard.Invalid, "%w", err)
	}
	resp, err := c.do(req)
	if err != nil {
		return j, citycard.E(op, citycard.IO, "%w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return j, errorFromResponse(op, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&j); err != nil {
		return j, citycard.E(op, citycard.IO, "answer: %w", err)
	}
	return j, nil
}

// SyncCities brings a terminal's list of interconnected cities to the
// back office's (its parameters' cities). Kind Unavailable when the back
// office serves none; IO for an answer that does not decode.
func (c *Client) SyncCities(ctx context.Context, cs *terminal.Cities) error {
	const op = "api.Client.SyncCities"
	j, err := c.parameters(ctx, op)
	if err != nil {
		return err
	}
	if j.Cities == nil {
		return citycard.E(op, citycard.Unavailable, "the back office serves no interconnected cities")
	}
	own, changes, err := j.Cities.cities()
	if err != nil {
		return citycard.E(op, citycard.IO, "answer: %w", err)
	}
	return cs.Set(own, changes)
}

package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// ParamVersionsShownMax bounds the versions one parameters route answers:
// the latest ones (by party, then effective day, the first ones are cut),
// with more true when some were left out.
const ParamVersionsShownMax = 1000

// ClearingParams is what the read-only parameter routes need:
// *clearing.Cycles reads them from its stores.
type ClearingParams interface {
	FeeSchedules(ctx context.Context) ([]clearing.FeeVersion, error)
	Concessions(ctx context.Context) ([]clearing.ConcessionVersion, error)
	Commissions(ctx context.Context) ([]clearing.FeeVersion, error)
	Caps(ctx context.Context) ([]clearing.CapVersion, error)
}

// The JSON of the parameter routes, and of citycard clear fees,
// concessions, commissions and caps show --json: one form of each.
type (
	// FeeRuleJSON is a fee (or commission) rule.
	FeeRuleJSON struct {
		Name      string   `json:"name"`
		Products  []uint16 `json:"products"`   // empty: any
		CardTypes []int    `json:"card_types"` // empty: any ([]uint8 would be base64)
		Channels  []string `json:"channels"`   // terminal types; empty: any
		RatePPM   int64    `json:"rate_ppm"`
		FixedFen  int64    `json:"fixed_fen"`
		MinFen    int64    `json:"min_fen"`
		MaxFen    int64    `json:"max_fen"` // 0: no cap
	}
	// FeeVersionJSON is a fee (or commission) schedule version.
	FeeVersionJSON struct {
		Party     string        `json:"party"`
		Effective string        `json:"effective"` // YYYY-MM-DD
		Rules     []FeeRuleJSON `json:"rules"`
	}
	// ConcessionShareJSON is a concession share.
	ConcessionShareJSON struct {
		Kind          string `json:"kind"`
		RiderCategory string `json:"rider_category"` // 0 to 255, or * for any
		Operator      string `json:"operator"`       // * for every operator
		SharePPM      int64  `json:"share_ppm"`
	}
	// ConcessionVersionJSON is a funder's concession shares version.
	ConcessionVersionJSON struct {
		Funder    string                `json:"funder"`
		Effective string                `json:"effective"`
		Shares    []ConcessionShareJSON `json:"shares"`
	}
	// CapJSON is a net debit cap version.
	CapJSON struct {
		Party     string `json:"party"`
		Effective string `json:"effective"`
		CapFen    int64  `json:"cap_fen"`
	}
	paramVersionsJSON[T any] struct {
		Versions []T  `json:"versions"`
		More     bool `json:"more"` // earlier versions were left out (ParamVersionsShownMax)
	}
)

// FeeVersionsJSON returns vs's JSON form.
func FeeVersionsJSON(vs []clearing.FeeVersion) []FeeVersionJSON {
	out := make([]FeeVersionJSON, 0, len(vs))
	for _, v := range vs {
		j := FeeVersionJSON{Party: v.Schedule.Party, Effective: v.Effective.String(), Rules: []FeeRuleJSON{}}
		for _, r := range v.Schedule.Rules {
			jr := FeeRuleJSON{Name: r.Name, Products: append([]uint16{}, r.Products...), CardTypes: []int{}, Channels: []string{},
				RatePPM: r.RatePPM, FixedFen: r.FixedFen, MinFen: r.MinFen, MaxFen: r.MaxFen}
			for _, ct := range r.CardTypes {
				jr.CardTypes = append(jr.CardTypes, int(ct))
			}
			for _, tt := range r.TerminalTypes {
				jr.Channels = append(jr.Channels, tt.String())
			}
			j.Rules = append(j.Rules, jr)
		}
		out = append(out, j)
	}
	return out
}

// lastShown is the last ParamVersionsShownMax of vs, and whether any was
// left out.
func lastShown[T any](vs []T) ([]T, bool) {
	if len(vs) > ParamVersionsShownMax {
		return vs[len(vs)-ParamVersionsShownMax:], true
	}
	return vs, false
}

// paramsRoute answers GET of one kind of parameters: read by read, shown
// by show. No query.
func paramsRoute[V, J any](op string, read func(ClearingParams, context.Context) ([]V, error), show func([]V) []J, s *Server) func(w http.ResponseWriter, r *http.Request, _ Staff) {
	return func(w http.ResponseWriter, r *http.Request, _ Staff) {
		if s.ClearingParams == nil {
			s.fail(w, r, citycard.E(op, citycard.Unavailable, "the clearing parameters are not served here"))
			return
		}
		if err := onlyQuery(op, r); err != nil {
			s.fail(w, r, err)
			return
		}
		vs, err := read(s.ClearingParams, r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		shown, more := lastShown(vs)
		out := paramVersionsJSON[J]{Versions: show(shown), More: more}
		if out.Versions == nil {
			out.Versions = []J{}
		}
		s.reply(w, r, http.StatusOK, out)
	}
}

func (s *Server) handleParamsFees() func(w http.ResponseWriter, r *http.Request, _ Staff) {
	return paramsRoute("api.paramsFees", ClearingParams.FeeSchedules, FeeVersionsJSON, s)
}

func (s *Server) handleParamsCommissions() func(w http.ResponseWriter, r *http.Request, _ Staff) {
	return paramsRoute("api.paramsCommissions", ClearingParams.Commissions, FeeVersionsJSON, s)
}

func (s *Server) handleParamsConcessions() func(w http.ResponseWriter, r *http.Request, _ Staff) {
	return paramsRoute("api.paramsConcessions", ClearingParams.Concessions, ConcessionVersionsJSON, s)
}

func (s *Server) handleParamsCaps() func(w http.ResponseWriter, r *http.Request, _ Staff) {
	return paramsRoute("api.paramsCaps", ClearingParams.Caps, CapVersionsJSON, s)
}

// ConcessionVersionsJSON returns vs's JSON form: a rider category or
// operator of * matches any.
func ConcessionVersionsJSON(vs []clearing.ConcessionVersion) []ConcessionVersionJSON {
	out := make([]ConcessionVersionJSON, 0, len(vs))
	for _, v := range vs {
		j := ConcessionVersionJSON{Funder: v.Funder, Effective: v.Effective.String(), Shares: []ConcessionShareJSON{}}
		for _, sh := range v.Shares {
			js := ConcessionShareJSON{Kind: sh.Kind.String(), RiderCategory: "*", Operator: "*", SharePPM: sh.SharePPM}
			if sh.RiderCategory != clearing.AnyCategory {
				js.RiderCategory = strconv.Itoa(sh.RiderCategory)
			}
			if sh.Operator != "" {
				js.Operator = sh.Operator
			}
			j.Shares = append(j.Shares, js)
		}
		out = append(out, j)
	}
	return out
}

// CapVersionsJSON returns vs's JSON form.
func CapVersionsJSON(vs []clearing.CapVersion) []CapJSON {
	out := make([]CapJSON, 0, len(vs))
	for _, v := range vs {
		out = append(out, CapJSON{Party: v.Party, Effective: v.Effective.String(), CapFen: v.CapFen})
	}
	return out
}

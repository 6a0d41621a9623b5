package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/registry"
)

// fakeParams serves n versions of each kind of parameter (n of the
// funder's concessions, caps, fee and commission schedules), each
// effective a day later than the one before, or err.
type fakeParams struct {
	n   int
	err error
}

func (f fakeParams) FeeSchedules(context.Context) ([]clearing.FeeVersion, error) {
	var out []clearing.FeeVersion
	for i := range f.n {
		out = append(out, clearing.FeeVersion{Effective: clearing.DayOf(2026, 1, 1) + clearing.Day(i), Schedule: clearing.FeeSchedule{Party: "nb-bus",
			Rules: []clearing.FeeRule{{Name: "bus", CardTypes: []uint8{2}, TerminalTypes: []registry.TerminalType{registry.TerminalBusValidator}, RatePPM: 5000, MinFen: 1}}}})
	}
	return out, f.err
}

func (f fakeParams) Commissions(ctx context.Context) ([]clearing.FeeVersion, error) {
	return f.FeeSchedules(ctx)
}

func (f fakeParams) Concessions(context.Context) ([]clearing.ConcessionVersion, error) {
	var out []clearing.ConcessionVersion
	for i := range f.n {
		out = append(out, clearing.ConcessionVersion{Effective: clearing.DayOf(2026, 1, 1) + clearing.Day(i), Funder: "nb-transport",
			Shares: []clearing.ConcessionShare{{Kind: clearing.ConcessionCategory, RiderCategory: clearing.AnyCategory, SharePPM: 1000000}, {Kind: clearing.ConcessionTransfer, RiderCategory: 2, Operator: "nb-bus", SharePPM: 500000}}})
	}
	return out, f.err
}

func (f fakeParams) Caps(context.Context) ([]clearing.CapVersion, error) {
	var out []clearing.CapVersion
	for i := range f.n {
		out = append(out, clearing.CapVersion{Effective: clearing.DayOf(2026, 1, 1) + clearing.Day(i), Party: "nb-bus", CapFen: int64(i)})
	}
	return out, f.err
}

// paramsShapeRequests are the parameter routes' requests for
// TestResponseShapes.
func paramsShapeRequests(x *cmsFix) map[string][]shapeRequest {
	x.s.ClearingParams = fakeParams{n: 2}
	out := map[string][]shapeRequest{}
	for _, k := range []string{"fees", "concessions", "commissions", "caps"} {
		out["GET /v1/clearing/params/"+k] = []shapeRequest{{token: x.tokens["auditor"]}}
	}
	return out
}

// TestClearingParamsRoutes: each parameter route answers the versions
// stored, at most ParamVersionsShownMax (the last ones, more telling
// earlier ones were left out); a query is refused; without the
// parameters served, 503; a store's fault is its error, never an empty
// answer.
func TestClearingParamsRoutes(t *testing.T) {
	f := newFixture(t)
	x := withCMS(t, f)
	aud := x.tokens["auditor"]
	const p = "/v1/clearing/params/"
	kinds := []string{"fees", "concessions", "commissions", "caps"}
	for _, k := range kinds {
		if code, b := f.do(t, "GET", p+k, aud, "", nil, nil); code != http.StatusServiceUnavailable {
			t.Errorf("%s without the parameters: %d %s, want 503", k, code, b)
		}
	}
	type page struct {
		Versions []map[string]any `json:"versions"`
		More     bool             `json:"more"`
	}
	for _, n := range []int{0, ParamVersionsShownMax, ParamVersionsShownMax + 1} {
		x.s.ClearingParams = fakeParams{n: n}
		for _, k := range kinds {
			code, b := f.do(t, "GET", p+k, aud, "", nil, nil)
			var v page
			if code != http.StatusOK || json.Unmarshal(b, &v) != nil {
				t.Fatalf("%s of %d versions: %d %s", k, n, code, b)
			}
			want := min(n, ParamVersionsShownMax)
			if len(v.Versions) != want || v.More != (n > ParamVersionsShownMax) {
				t.Errorf("%s of %d versions: %d shown, more %v; want %d, more %v", k, n, len(v.Versions), v.More, want, n > ParamVersionsShownMax)
			}
			if n > ParamVersionsShownMax && v.Versions[0]["effective"] != (clearing.DayOf(2026, 1, 1)+1).String() {
				t.Errorf("%s: the first shown is %v, want the second stored (the first one cut)", k, v.Versions[0]["effective"])
			}
		}
	}
	x.s.ClearingParams = fakeParams{n: 1}
	code, b := f.do(t, "GET", p+"concessions", aud, "", nil, nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"funder":"nb-transport"`) || !strings.Contains(string(b), `"rider_category":"*"`) ||
		!strings.Contains(string(b), `"rider_category":"2","operator":"nb-bus","share_ppm":500000`) {
		t.Errorf("concessions: %d %s", code, b)
	}
	code, b = f.do(t, "GET", p+"fees", aud, "", nil, nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"card_types":[2],"channels":["bus_validator"],"rate_ppm":5000,"fixed_fen":0,"min_fen":1,"max_fen":0`) {
		t.Errorf("fees: %d %s", code, b)
	}
	if code, b := f.do(t, "GET", p+"caps?party=nb-bus", aud, "", nil, nil); code != 422 {
		t.Errorf("caps with a query: %d %s, want 422", code, b)
	}
	x.s.ClearingParams = fakeParams{n: 1, err: citycard.E("test", citycard.Unavailable, "the store is down")}
	if code, b := f.do(t, "GET", p+"caps", aud, "", nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("caps of a store down: %d %s, want 503", code, b)
	}
}

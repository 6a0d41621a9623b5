package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// withVenue adds a venue (nb-pool, scope 3) to ap, with its token.
func withVenue(t testing.TB, ap *appsFix) {
	t.Helper()
	_, tok, err := ap.o.Add(context.Background(), apps.App{ID: "nb-pool", Name: "Ningbo Pool", Kind: card.AppVenue, Scope: 3, Party: "nb-sport"})
	if err != nil {
		t.Fatal(err)
	}
	ap.tokens["nb-pool"] = tok
}

// appRulesShapeRequests are the shape test's requests of appsrules.go.
func appRulesShapeRequests(t *testing.T, ap *appsFix) map[string][]shapeRequest {
	withVenue(t, ap)
	withBike(t, ap)
	c := apps.CardRef{Issuer: testIssuer, ASN: citycard.ASN{9: 2}}
	if _, _, err := ap.o.Grant(context.Background(), "nb-school-7", c, apps.Terms{ValidFrom: [4]byte{0x20, 0x24, 0x09, 0x01}, ValidTo: [4]byte{0x20, 0x25, 0x07, 0x31}, Class: 3}); err != nil {
		t.Fatal(err)
	}
	return map[string][]shapeRequest{
		"POST /v1/apps/{app}/cards/{issuer}/{asn}/canteen-limit": {{path: "/v1/apps/nb-school-7/cards/" + c.Issuer.String() + "/" + c.ASN.String() + "/canteen-limit",
			token: ap.tokens["nb-school-7"], ctype: "application/json", body: []byte(`{"limit_fen":1500}`)}},
		"GET /v1/apps/{app}/periods": {{path: "/v1/apps/nb-pool/periods", token: ap.tokens["nb-pool"]}},
		"PUT /v1/apps/{app}/periods": {{path: "/v1/apps/nb-pool/periods", token: ap.tokens["nb-pool"], ctype: "application/json",
			body: []byte(`{"periods":[{"start":"080000","end":"100000","capacity":200}]}`)}},
		"GET /v1/apps/{app}/calendar":             {{path: "/v1/apps/nb-school-7/calendar", token: ap.tokens["nb-school-7"]}},
		"GET /v1/apps/{app}/reports/open-rentals": {{path: "/v1/apps/nb-bike/reports/open-rentals", token: ap.tokens["nb-bike"]}},
		"PUT /v1/apps/{app}/calendar": {{path: "/v1/apps/nb-school-7/calendar", token: ap.tokens["nb-school-7"], ctype: "application/json",
			body: []byte(`{"holidays":["20251001"],"make_up_days":["20250928"]}`)}},
	}
}

// TestAppCanteenLimit: the school sets a pupil's daily canteen limit for
// the parents (0 and 65535 taken, -1, 65536 and every other bad body a
// 4xx that changes nothing); the library may not (422), nor the school
// on a card it has no grant on (404).
func TestAppCanteenLimit(t *testing.T) {
	f := newFixture(t)
	ap := withApps(t, withCMS(t, f))
	if code, v := ap.call(t, "POST", "nb-school-7", testAppASN+"/grant", `{"valid_from":"20240901","valid_to":"20250731","class":3,"limit":0}`); code != http.StatusOK {
		t.Fatalf("grant: %d %v", code, v)
	}
	for i, limit := range []int{0, apps.CanteenLimitMaxFen, 1000} {
		code, v := ap.call(t, "POST", "nb-school-7", testAppASN+"/canteen-limit", fmt.Sprintf(`{"limit_fen":%d}`, limit))
		if code != http.StatusOK || v["limit"] != float64(limit) || v["class"] != 3.0 || v["file_version"] != float64(2+i) {
			t.Fatalf("a limit of %d: %d %v", limit, code, v)
		}
	}
	for _, c := range []struct {
		name, app, path, body string
		want                  int
	}{
		{"a limit of -1", "nb-school-7", testAppASN, `{"limit_fen":-1}`, 422},
		{"a limit of 65536", "nb-school-7", testAppASN, `{"limit_fen":65536}`, 422},
		{"a limit in yuan", "nb-school-7", testAppASN, `{"limit_fen":10.5}`, 422},
		{"a limit as a string", "nb-school-7", testAppASN, `{"limit_fen":"1000"}`, 422},
		{"no limit", "nb-school-7", testAppASN, `{}`, 422},
		{"another key", "nb-school-7", testAppASN, `{"limit_fen":10,"class":4}`, 422},
		{"no body", "nb-school-7", testAppASN, ``, 422},
		{"a card with no grant", "nb-school-7", "31500000000000000802", `{"limit_fen":10}`, 404},
		{"at the library, before any grant", "nb-library", testAppASN, `{"limit_fen":10}`, 422},
	} {
		if code, v := ap.call(t, "POST", c.app, c.path+"/canteen-limit", c.body); code != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, code, v, c.want)
		}
	}
	if code, v := ap.call(t, "POST", "nb-library", testAppASN+"/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":10}`); code != http.StatusOK {
		t.Fatalf("the library's grant: %d %v", code, v)
	}
	if code, v := ap.call(t, "POST", "nb-library", testAppASN+"/canteen-limit", `{"limit_fen":10}`); code != 422 || !strings.Contains(fmt.Sprint(v), "campus") {
		t.Errorf("a canteen limit at the library: %d %v, want 422 naming the campus", code, v)
	}
	f2, err := ap.o.File(context.Background(), apps.CardRef{Issuer: testIssuer, ASN: asnOf(t, testAppASN)}, 1)
	if err != nil || f2.Version != 5 || f2.Slots[1].App != card.AppCampus || f2.Slots[1].Limit != 1000 {
		t.Fatalf("the card's file: %+v, %v; want version 5 (3 limits and the library's grant), the limit 1000", f2, err)
	}
}

// TestAppPeriodsAndCapacity: a venue sets its periods and reads them
// back; the admission check refuses venue_full once the period's
// admissions received reach its capacity (the 2nd of 2 allowed before
// it is received, venue_full after); bad periods and bad times are a
// 4xx that changes nothing.
func TestAppPeriodsAndCapacity(t *testing.T) {
	f := newFixture(t)
	ap := withApps(t, withCMS(t, f))
	withVenue(t, ap)
	put := func(app, body string) (int, map[string]any) {
		t.Helper()
		code, b := ap.do(t, "PUT", "/v1/apps/"+app+"/periods", ap.tokens[app], "application/json", []byte(body), nil)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%d %s", code, b)
		}
		return code, v
	}
	good := `{"periods":[{"start":"080000","end":"100000","capacity":2},{"start":"200000","end":"240000","capacity":1}]}`
	if code, v := put("nb-pool", good); code != http.StatusOK || len(v["periods"].([]any)) != 2 || v["periods"].([]any)[1].(map[string]any)["end"] != "240000" {
		t.Fatalf("periods: %d %v", code, v)
	}
	many := make([]string, apps.PeriodsMax+1)
	for i := range many {
		many[i] = `{"start":"080000","end":"080001","capacity":1}`
	}
	for _, c := range []struct{ name, app, body string }{
		{"overlapping", "nb-pool", `{"periods":[{"start":"080000","end":"100000","capacity":2},{"start":"090000","end":"110000","capacity":2}]}`},
		{"49 periods", "nb-pool", `{"periods":[` + strings.Join(many, ",") + `]}`},
		{"capacity 0", "nb-pool", `{"periods":[{"start":"080000","end":"100000","capacity":0}]}`},
		{"capacity past the most", "nb-pool", `{"periods":[{"start":"080000","end":"100000","capacity":1000001}]}`},
		{"25 o'clock", "nb-pool", `{"periods":[{"start":"080000","end":"250000","capacity":1}]}`},
		{"a period with no end", "nb-pool", `{"periods":[{"start":"080000","capacity":1}]}`},
		{"a period with another key", "nb-pool", `{"periods":[{"start":"080000","end":"100000","capacity":1,"price_fen":500}]}`},
		{"not an array", "nb-pool", `{"periods":{"start":"080000"}}`},
		{"a school", "nb-school-7", `{"periods":[]}`},
	} {
		if code, v := put(c.app, c.body); code != 422 {
			t.Errorf("%s: %d %v, want 422", c.name, code, v)
		}
	}
	code, b := ap.do(t, "GET", "/v1/apps/nb-pool/periods", ap.tokens["nb-pool"], "", nil, nil)
	if code != http.StatusOK || strings.Count(string(b), `"capacity"`) != 2 {
		t.Fatalf("periods after the bad input: %d %s, want the 2 good ones", code, b)
	}

	if code, v := ap.call(t, "POST", "nb-pool", testAppASN+"/grant", `{"valid_from":"20250101","valid_to":"20251231","class":0,"limit":30}`); code != http.StatusOK {
		t.Fatalf("grant: %d %v", code, v)
	}
	day, _ := apps.ParseDate("20250301")
	admit := func(pos int64, tm citycard.BCDTime) {
		t.Helper()
		r := apps.AppRecord{Pos: pos, App: "nb-pool", Card: apps.CardRef{Issuer: testIssuer, ASN: citycard.ASN{9: byte(pos)}},
			Terminal: citycard.TerminalID{5: 3}, TerminalSeq: uint32(pos), Action: apps.Admit, Date: day, Time: tm, Place: 1, Uses: 1, Counter: 1}
		if err := ap.db.Apps().ApplyRecords(context.Background(), pos, []string{"nb-pool"}, []apps.AppRecord{r}, nil); err != nil {
			t.Fatal(err)
		}
	}
	check := func(query, reason string, want int) {
		t.Helper()
		code, v := ap.call(t, "GET", "nb-pool", testAppASN+"/check?action=admission&date=20250301"+query, "")
		if code != want || want == http.StatusOK && v["reason"] != reason {
			t.Errorf("check%s: %d %v, want %d %s", query, code, v, want, reason)
		}
	}
	admit(1, citycard.BCDTime{0x08})
	check("&time=095959", "allowed", 200) // the 2nd of 2
	admit(2, citycard.BCDTime{0x09, 0x59, 0x59})
	check("&time=080000", "venue_full", 200)
	check("&time=100000", "allowed", 200) // in no period
	check("&time=235959", "allowed", 200)
	check("", "", 422)             // no time at a venue with periods
	check("&time=2500", "", 422)   // not HHMMSS
	check("&time=240000", "", 422) // not a time of day
	check("&time=08000a", "", 422)
}

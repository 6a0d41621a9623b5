package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
)

type appsFix struct {
	*cmsFix
	o      *apps.Office
	tokens map[string]string
}

// withApps adds the application systems over x's store: the library
// (scope 1) and a school (scope 7), each with its token.
func withApps(t testing.TB, x *cmsFix) *appsFix {
	t.Helper()
	ap := &appsFix{cmsFix: x, o: apps.NewOffice(x.db.Apps(), func() time.Time { return time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC) }, rand.Reader), tokens: map[string]string{}}
	for _, a := range []apps.App{
		{ID: "nb-library", Name: "Ningbo Library", Kind: card.AppLibrary, Scope: 1, Party: "nb-library"},
		{ID: "nb-school-7", Name: "No. 7 Middle School", Kind: card.AppCampus, Scope: 7, Party: "nb-edu"},
	} {
		_, tok, err := ap.o.Add(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		ap.tokens[a.ID] = tok
	}
	x.fixture.s.Apps = ap.o
	return ap
}

func (ap *appsFix) call(t *testing.T, method, app, path, body string) (int, map[string]any) {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	code, b := ap.do(t, method, "/v1/apps/"+app+"/cards/"+testIssuer.String()+"/"+path, ap.tokens[app], ctype, []byte(body), nil)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: %d %s: %v", method, path, code, b, err)
	}
	return code, v
}

const testAppASN = "31500000000000000801"

// TestAppGrantCheckRevoke: the library grants a card borrowing, asks
// whether it may borrow (within the validity: allowed; after it:
// expired; a return after it: allowed, apps doc "Rules"), revokes it
// (wrong_application since); each change moves the card's file version;
// the school, which has no grant on the card, gets 404 for it on every
// route and changes nothing.
func TestAppGrantCheckRevoke(t *testing.T) {
	f := newFixture(t)
	ap := withApps(t, withCMS(t, f))
	code, g := ap.call(t, "POST", "nb-library", testAppASN+"/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":10}`)
	if code != http.StatusOK || g["file_version"] != 1.0 || g["state"] != "active" || g["kind"] != "library" || g["limit"] != 10.0 || g["valid_to"] != "20260228" {
		t.Fatalf("grant: %d %v", code, g)
	}
	for _, c := range []struct {
		query, reason string
	}{
		{"action=loan&date=20250301", "allowed"},   // the first day, included
		{"action=loan&date=20260228", "allowed"},   // the last day, included
		{"action=loan&date=20260301", "expired"},   // the day after
		{"action=return&date=20260301", "allowed"}, // a return never refused
		{"action=check-in&date=20250301", "wrong_application"},
	} {
		code, v := ap.call(t, "GET", "nb-library", testAppASN+"/check?"+c.query, "")
		if code != http.StatusOK || v["reason"] != c.reason || v["allowed"] != (c.reason == "allowed") {
			t.Errorf("check %s: %d %v, want %s", c.query, code, v, c.reason)
		}
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", testAppASN + "/entitlement", ""},
		{"GET", testAppASN + "/check?action=check-in&date=20250301", ""},
		{"POST", testAppASN + "/revoke", ""},
	} {
		if code, v := ap.call(t, c.method, "nb-school-7", c.path, c.body); code != http.StatusNotFound {
			t.Errorf("the school, %s %s: %d %v, want 404", c.method, c.path, code, v)
		}
	}
	code, g = ap.call(t, "POST", "nb-library", testAppASN+"/revoke", "")
	if code != http.StatusOK || g["file_version"] != 2.0 || g["state"] != "revoked" {
		t.Fatalf("revoke: %d %v", code, g)
	}
	if code, v := ap.call(t, "GET", "nb-library", testAppASN+"/check?action=loan&date=20250301", ""); code != http.StatusOK || v["reason"] != "wrong_application" {
		t.Errorf("check after the revocation: %d %v", code, v)
	}
	if code, v := ap.call(t, "POST", "nb-library", testAppASN+"/revoke", ""); code != http.StatusConflict {
		t.Errorf("a second revocation: %d %v, want 409", code, v)
	}
	f2, err := ap.o.File(context.Background(), apps.CardRef{Issuer: testIssuer, ASN: asnOf(t, testAppASN)}, 1)
	if err != nil || f2.Version != 2 || len(f2.Slots) != 0 {
		t.Fatalf("the card's file: %+v, %v; want version 2, no slot", f2, err)
	}
}

// TestAppBadInput: each route's bad input is a 4xx naming the fault (422
// for a malformed one, errors.go), and
// changes nothing (the file version stays at the one grant's 1).
func TestAppBadInput(t *testing.T) {
	f := newFixture(t)
	ap := withApps(t, withCMS(t, f))
	if code, _ := ap.call(t, "POST", "nb-library", testAppASN+"/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":10}`); code != http.StatusOK {
		t.Fatal(code)
	}
	long := `{"valid_from":"` + strings.Repeat("2", maxAppBody) + `","valid_to":"20260228","class":0,"limit":10}`
	for _, c := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"a bad ASN", "GET", "12/entitlement", "", 422},
		{"no action", "GET", testAppASN + "/check?date=20250301", "", 422},
		{"an unknown action", "GET", testAppASN + "/check?action=dance&date=20250301", "", 422},
		{"a date not YYYYMMDD", "GET", testAppASN + "/check?action=loan&date=2025-03-01", "", 422},
		{"no body", "POST", testAppASN + "/grant", "", 422},
		{"a field missing", "POST", testAppASN + "/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0}`, 422},
		{"an unknown field", "POST", testAppASN + "/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":10,"extra":1}`, 422},
		{"a limit over 65535", "POST", testAppASN + "/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":65536}`, 422},
		{"a class on a library grant", "POST", testAppASN + "/grant", `{"valid_from":"20250301","valid_to":"20260228","class":3,"limit":10}`, 422},
		{"valid to before valid from", "POST", testAppASN + "/grant", `{"valid_from":"20250301","valid_to":"20250228","class":0,"limit":10}`, 422},
		{"a body over the bound", "POST", testAppASN + "/grant", long, 422},
		{"a revocation of no grant", "POST", "31500000000000000802/revoke", "", 404},
	} {
		if code, v := ap.call(t, c.method, "nb-library", c.path, c.body); code != c.want || v["error"] == nil ||
			c.body == long && !strings.Contains(v["error"].(string), "too large") {
			t.Errorf("%s: %d %v, want %d with an error", c.name, code, v, c.want)
		}
	}
	// A body of maxAppBody bytes exactly (padded with spaces) is read.
	exact := `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":10}`
	exact += strings.Repeat(" ", maxAppBody-len(exact))
	if code, v := ap.call(t, "POST", "nb-library", testAppASN+"/grant", exact); code != http.StatusOK || v["file_version"] != 2.0 {
		t.Fatalf("a body of %d bytes: %d %v, want 200 at version 2 (the refused ones changed nothing)", len(exact), code, v)
	}
	// The limit at its bound, 65535, is taken: the version moves to 3.
	if code, v := ap.call(t, "POST", "nb-library", testAppASN+"/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":65535}`); code != http.StatusOK || v["file_version"] != 3.0 || v["limit"] != 65535.0 {
		t.Fatalf("the limit at 65535: %d %v, want 200 at version 3", code, v)
	}
}

// TestAppLifecycleFromCMS: card management's own audit log carried to the
// applications (issue 11: "the lost card's entitlements are blocked, the
// new card inherits them"): the library's grant on a card reported lost
// at the counter is blocked (a loan: blacklisted); after the replacement
// it is on the new card, active, and the old card's is revoked; a card
// lost before it had any grant is refused one (409).
func TestAppLifecycleFromCMS(t *testing.T) {
	f := newFixture(t)
	x := withCMS(t, f)
	ap := withApps(t, x)
	ctx := context.Background()
	ap.o.WithCards(CMSCards{Store: x.db.CMS()})
	// A card lost before any grant: card management refuses it (409).
	lost := x.lost(t, "31500000000000000903")
	if code, v := ap.call(t, "POST", "nb-library", lost.String()+"/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":10}`); code != http.StatusConflict {
		t.Fatalf("a grant on a lost card: %d %v, want 409", code, v)
	}
	old := x.issued(t, "31500000000000000901", 1000)
	oldRef := apps.CardRef{Issuer: testIssuer, ASN: old}
	if code, v := ap.call(t, "POST", "nb-library", old.String()+"/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":10}`); code != http.StatusOK {
		t.Fatalf("grant: %d %v", code, v)
	}
	log := CMSLifecycle{Store: x.db.CMS()}
	if _, err := x.m.Move(ctx, cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}, testIssuer, old, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ap.o.Follow(ctx, log); err != nil {
		t.Fatal(err)
	}
	if code, v := ap.call(t, "GET", "nb-library", old.String()+"/check?action=loan&date=20250302", ""); code != http.StatusOK || v["reason"] != "blacklisted" {
		t.Fatalf("a loan on the lost card: %d %v, want blacklisted", code, v)
	}
	nu := asnOf(t, "31500000000000000902")
	if code, v := x.call(t, "POST", cardURL(old, "replace"), "clerk", `{`+cash("replace-apps")+`,"new_asn":"`+nu.String()+`"}`); code != http.StatusOK {
		t.Fatalf("replace: %d %v", code, v)
	}
	if _, _, err := ap.o.Follow(ctx, log); err != nil {
		t.Fatal(err)
	}
	if code, v := ap.call(t, "GET", "nb-library", nu.String()+"/entitlement", ""); code != http.StatusOK || v["state"] != "active" || v["limit"] != 10.0 {
		t.Fatalf("the new card's entitlement: %d %v, want active, limit 10", code, v)
	}
	if g, err := ap.o.Entitlement(ctx, "nb-library", oldRef); err != nil || g.State != apps.Revoked {
		t.Fatalf("the old card's grant: %+v, %v; want revoked", g, err)
	}
}

// appShapeRequests are the application routes' requests for
// TestResponseShapes, on the card routePath fills in, which the library
// has a grant on.
func appShapeRequests(t *testing.T, x *cmsFix) map[string][]shapeRequest {
	ap := withApps(t, x)
	c := apps.CardRef{Issuer: testIssuer, ASN: citycard.ASN{9: 1}}
	if _, _, err := ap.o.Grant(context.Background(), "nb-library", c, apps.Terms{ValidFrom: [4]byte{0x20, 0x25, 0x03, 0x01}, ValidTo: [4]byte{0x20, 0x26, 0x02, 0x28}, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	tok := ap.tokens["nb-library"]
	base := "/v1/apps/nb-library/cards/" + c.Issuer.String() + "/" + c.ASN.String()
	// The first upload's terminal, as a library gate.
	gates := acquire.TerminalMap{}
	u := x.fixture.ups[0]
	gates[u.Terminal.ID] = acquire.TerminalInfo{ID: u.Terminal.ID, Operator: "nb-library", Active: true}
	x.fixture.s.Gates = gates
	gateTok := x.fixture.toks[u.Terminal.ID]
	reqs := appRulesShapeRequests(t, ap)
	for k, v := range map[string][]shapeRequest{
		"GET /v1/terminals/{terminal}/entitlement-versions":   {{path: "/v1/terminals/" + u.Terminal.ID.String() + "/entitlement-versions?kind=library&scope=1", token: gateTok}},
		"GET /v1/apps/{app}/events":                           {{token: tok}},
		"GET /v1/apps/{app}/cards/{issuer}/{asn}/entitlement": {{token: tok}},
		"GET /v1/apps/{app}/cards/{issuer}/{asn}/check":       {{path: base + "/check?action=loan&date=20250301", token: tok}},
		"POST /v1/apps/{app}/cards/{issuer}/{asn}/grant": {{token: tok, ctype: "application/json",
			body: []byte(`{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":10}`)}},
		"POST /v1/apps/{app}/cards/{issuer}/{asn}/revoke": {{token: tok}},
		"GET /v1/apps/{app}/records":                      {{token: tok}},
		"GET /v1/apps/{app}/reports/{day}":                {{path: "/v1/apps/nb-library/reports/20250301", token: tok}},
		"GET /v1/apps/{app}/reports/attendance":           {{path: "/v1/apps/nb-school-7/reports/attendance?date=20250301&class=301", token: ap.tokens["nb-school-7"]}},
	} {
		reqs[k] = v
	}
	return reqs
}

// TestAppRecordsAndReport: the records route pages an application's own
// records (limit 1 to 1000, both bounds taken, 0 and 1001 refused;
// next the after of the next page), the school sees none of the
// library's; the report counts taps and distinct cards by action.
func TestAppRecordsAndReport(t *testing.T) {
	f := newFixture(t)
	ap := withApps(t, withCMS(t, f))
	day, _ := apps.ParseDate("20250301")
	var recs []apps.AppRecord
	for i := int64(1); i <= 3; i++ {
		recs = append(recs, apps.AppRecord{Pos: i, App: "nb-library", Card: apps.CardRef{Issuer: testIssuer, ASN: citycard.ASN{9: byte(i % 2)}},
			Terminal: citycard.TerminalID{5: 1}, TerminalSeq: uint32(i), Action: apps.Loan, Date: day, Place: 3, Uses: 1, Counter: uint16(i)})
	}
	if err := ap.db.Apps().ApplyRecords(context.Background(), 3, []string{"nb-library"}, recs, nil); err != nil {
		t.Fatal(err)
	}
	get := func(app, path string) (int, map[string]any) {
		t.Helper()
		code, b := ap.do(t, "GET", "/v1/apps/"+app+path, ap.tokens[app], "", nil, nil)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %d %s", path, code, b)
		}
		return code, v
	}
	code, v := get("nb-library", "/records?limit=2")
	if rs, _ := v["records"].([]any); code != http.StatusOK || len(rs) != 2 || v["next"] != 2.0 || rs[0].(map[string]any)["action"] != "loan" || rs[0].(map[string]any)["date"] != "20250301" {
		t.Fatalf("the first page: %d %v", code, v)
	}
	code, v = get("nb-library", "/records?after=2&limit=1000")
	if rs, _ := v["records"].([]any); code != http.StatusOK || len(rs) != 1 || v["next"] != nil {
		t.Fatalf("the last page: %d %v", code, v)
	}
	if code, v := get("nb-library", "/records?limit=1"); code != http.StatusOK || v["next"] != 1.0 {
		t.Errorf("limit=1: %d %v", code, v)
	}
	for _, q := range []string{"limit=0", "limit=1001", "after=-1", "after=x"} {
		if code, v := get("nb-library", "/records?"+q); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", q, code, v)
		}
	}
	if code, v := get("nb-school-7", "/records"); code != http.StatusOK || len(v["records"].([]any)) != 0 {
		t.Errorf("the school's records: %d %v, want none", code, v)
	}
	code, v = get("nb-library", "/reports/20250301")
	lines, _ := v["actions"].([]any)
	if code != http.StatusOK || len(lines) != 1 || lines[0].(map[string]any)["taps"] != 3.0 || lines[0].(map[string]any)["cards"] != 2.0 {
		t.Fatalf("the report: %d %v; want 3 loans by 2 cards", code, v)
	}
	if code, v := get("nb-library", "/reports/2025-03-01"); code != http.StatusUnprocessableEntity {
		t.Errorf("a day not YYYYMMDD: %d %v, want 422", code, v)
	}
	// The outbox a school polls: bad queries 422, another's 403, none
	// of them changing it; the bounds taken.
	ev := apps.Event{App: "nb-school-7", Key: "record-9", Type: apps.EventCheckIn, Body: `{"type":"campus.check_in"}`, NextAt: apps.PollOnly}
	if err := ap.db.Apps().ApplyRecords(context.Background(), 9, []string{"nb-school-7"}, nil, []apps.Event{ev}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"limit=0", "limit=1001", "after=-1", "after=x"} {
		if code, v := get("nb-school-7", "/events?"+q); code != http.StatusUnprocessableEntity {
			t.Errorf("events %s: %d %v, want 422", q, code, v)
		}
	}
	if code, _ := ap.do(t, "GET", "/v1/apps/nb-library/events", ap.tokens["nb-school-7"], "", nil, nil); code != http.StatusForbidden {
		t.Errorf("the school polling the library's events: %d, want 403", code)
	}
	for _, q := range []string{"limit=1", "limit=1000"} {
		code, v := get("nb-school-7", "/events?"+q)
		evs, _ := v["events"].([]any)
		if code != http.StatusOK || len(evs) != 1 || evs[0].(map[string]any)["body"].(map[string]any)["type"] != "campus.check_in" || evs[0].(map[string]any)["delivered_at"] != "" {
			t.Errorf("events %s: %d %v, want the one check-in", q, code, v)
		}
	}
}

// TestAppAttendance: the school's attendance route answers a class's
// day (a check-in at the late time present, a second after late, none
// absent); class 1 and 65535 taken, 0 and 65536 refused; a date, class
// or late time missing or malformed 422, as the library's report of a
// class (not a school); another application's 403.
func TestAppAttendance(t *testing.T) {
	ap := withApps(t, withCMS(t, newFixture(t)))
	ctx := context.Background()
	day, _ := apps.ParseDate("20250303")
	terms := apps.Terms{ValidFrom: [4]byte{0x20, 0x24, 0x09, 0x01}, ValidTo: [4]byte{0x20, 0x25, 0x07, 0x15}, Class: 301}
	var recs []apps.AppRecord
	for i, tm := range []citycard.BCDTime{{0x08, 0x00, 0x00}, {0x08, 0x00, 0x01}, {}} {
		c := apps.CardRef{Issuer: testIssuer, ASN: citycard.ASN{9: byte(i + 1)}}
		if _, _, err := ap.o.Grant(ctx, "nb-school-7", c, terms); err != nil {
			t.Fatal(err)
		}
		if tm != (citycard.BCDTime{}) {
			recs = append(recs, apps.AppRecord{Pos: int64(i + 1), App: "nb-school-7", Card: c, Terminal: citycard.TerminalID{5: 1}, TerminalSeq: uint32(i + 1), Action: apps.CheckIn, Date: day, Time: tm, Place: 1, Counter: 1})
		}
	}
	if err := ap.db.Apps().ApplyRecords(ctx, 3, []string{"nb-school-7"}, recs, nil); err != nil {
		t.Fatal(err)
	}
	get := func(app, query string) (int, map[string]any) {
		t.Helper()
		code, b := ap.do(t, "GET", "/v1/apps/"+app+"/reports/attendance?"+query, ap.tokens[app], "", nil, nil)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %d %s", query, code, b)
		}
		return code, v
	}
	code, v := get("nb-school-7", "date=20250303&class=301")
	pupils, _ := v["pupils"].([]any)
	if code != http.StatusOK || v["present"] != 1.0 || v["late"] != 1.0 || v["absent"] != 1.0 || v["late_after"] != "080000" || len(pupils) != 3 {
		t.Fatalf("class 301: %d %v; want 1 present, 1 late, 1 absent", code, v)
	}
	if p := pupils[0].(map[string]any); p["presence"] != "present" || p["first_check_in"] != "080000" || p["last_check_out"] != "" || p["taps"] != 1.0 {
		t.Errorf("the first pupil: %v", p)
	}
	if code, v := get("nb-school-7", "date=20250303&class=301&late=080001"); code != http.StatusOK || v["present"] != 2.0 || v["late"] != 0.0 {
		t.Errorf("late after 08:00:01: %d %v, want 2 present", code, v)
	}
	for _, q := range []string{"date=20250303&class=1", "date=20250303&class=65535"} {
		if code, v := get("nb-school-7", q); code != http.StatusOK || v["absent"] != 0.0 {
			t.Errorf("%s: %d %v, want 200, no pupils", q, code, v)
		}
	}
	for _, q := range []string{"class=301", "date=2025-03-03&class=301", "date=20250303", "date=20250303&class=0", "date=20250303&class=65536", "date=20250303&class=x",
		"date=20250303&class=301&late=2500", "date=20250303&class=301&late=250000", "date=20250303&class=301&late=0800"} {
		if code, v := get("nb-school-7", q); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", q, code, v)
		}
	}
	if code, v := get("nb-library", "date=20250303&class=301"); code != http.StatusUnprocessableEntity {
		t.Errorf("the library's attendance: %d %v, want 422", code, v)
	}
	if code, _ := ap.do(t, "GET", "/v1/apps/nb-school-7/reports/attendance?date=20250303&class=301", ap.tokens["nb-library"], "", nil, nil); code != http.StatusForbidden {
		t.Errorf("the library asking the school's attendance: %d, want 403", code)
	}
}

package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/terminal"
)

// gateFix is the application fixture with a library gate registered as
// a terminal of the library's operator, and its copy of the gate
// versions.
type gateFix struct {
	*appsFix
	w      *gateWorld
	gate   *worldGate
	vs     *terminal.MinVersions
	client *Client
}

func withGate(t *testing.T) *gateFix {
	t.Helper()
	ap := withApps(t, withCMS(t, newFixture(t)))
	w := newGateWorld(t, testIssuer, time.Date(2025, 3, 1, 9, 0, 0, 0, citycard.ChinaTime))
	vs := terminal.NewMinVersions(0)
	g := w.gate(card.AppLibrary, 1, 1, apps.Loan, nil, vs)
	ap.fixture.toks[g.id] = "gate-token"
	school := w.gate(card.AppCampus, 7, 1, apps.CheckIn, nil, nil)
	ap.fixture.toks[school.id] = "school-gate-token"
	ap.fixture.s.Gates = acquire.TerminalMap{
		g.id:      {ID: g.id, PSAM: g.psam, Operator: "nb-library", Active: true},
		school.id: {ID: school.id, PSAM: school.psam, Operator: "nb-edu", Active: true},
	}
	return &gateFix{appsFix: ap, w: w, gate: g, vs: vs, client: &Client{BaseURL: ap.fixture.srv.URL, Terminal: g.id, Token: "gate-token"}}
}

func (gf *gateFix) tap(t *testing.T, cd *card.Card, want apps.Reason) terminal.GateResult {
	t.Helper()
	if _, err := gf.client.SyncGateVersions(context.Background(), card.AppLibrary, 1, gf.vs); err != nil {
		t.Fatal(err)
	}
	res, err := gf.gate.Tap(cd)
	if err != nil || res.Reason != want {
		t.Fatalf("tap: %v %v (%s), want %v", res.Reason, err, res.Detail, want)
	}
	return res
}

// TestGateVersionsEndToEnd (issue 11: "offline entitlement files (stale,
// forged, expired)"): the versions the store keeps reach the gate
// through its parameters, and the gate refuses an older file stale with
// the versions in its detail until the card's next online contact
// rewrites it; a file whose version was raised by hand to pass is
// forged; a grant narrowed to have ended yesterday, rewritten, is
// expired; renewed and rewritten, allowed again.
func TestGateVersionsEndToEnd(t *testing.T) {
	gf := withGate(t)
	ctx := context.Background()
	c := apps.CardRef{Issuer: testIssuer, ASN: gf.w.asn(1)}
	grant := func(body string) {
		t.Helper()
		code, v := gf.call(t, "POST", "nb-library", c.ASN.String()+"/grant", body)
		if code != http.StatusOK {
			t.Fatalf("grant %s: %d %v", body, code, v)
		}
	}
	grant(`{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":3}`)
	cd := gf.w.card(gf.o, 1, 0)
	gf.tap(t, cd, apps.Allowed)
	if gf.vs.MinVersion(c.Issuer, c.ASN) != 1 || gf.vs.Len() != 1 {
		t.Fatalf("the gate's copy: card at %d, %d cards; want 1, 1", gf.vs.MinVersion(c.Issuer, c.ASN), gf.vs.Len())
	}

	// Revoked: the card's file (version 1) is stale at the gate.
	if code, v := gf.call(t, "POST", "nb-library", c.ASN.String()+"/revoke", ""); code != http.StatusOK {
		t.Fatalf("revoke: %d %v", code, v)
	}
	res := gf.tap(t, cd, apps.Stale)
	if !strings.Contains(res.Detail, "file version 1, the back office requires 2") {
		t.Errorf("stale detail %q", res.Detail)
	}
	// The file's version raised by hand, the grant MAC not: forged.
	genuine := *cd.State().Entitlements
	forged := genuine
	forged.Version = 2
	if err := cd.SetEntitlements(forged); err != nil {
		t.Fatal(err)
	}
	gf.tap(t, cd, apps.Forged)
	if err := cd.SetEntitlements(genuine); err != nil {
		t.Fatal(err)
	}

	// Granted again, narrowed to have ended yesterday, and rewritten at
	// a counter: the file is current, and expired.
	grant(`{"valid_from":"20250201","valid_to":"20250228","class":0,"limit":3}`)
	gf.tap(t, cd, apps.Stale)
	gf.w.rewrite(gf.o, cd)
	gf.tap(t, cd, apps.Expired)
	grant(`{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":3}`)
	gf.tap(t, cd, apps.Stale)
	gf.w.rewrite(gf.o, cd)
	res = gf.tap(t, cd, apps.Allowed)
	if res.After.Uses != 2 || cd.State().Entitlements.Version != 4 {
		t.Fatalf("after the rewrite: %d loans out, file version %d; want the first loan kept (2 now), version 4", res.After.Uses, cd.State().Entitlements.Version)
	}
	if err := gf.w.verifier().Verify(&res.Record); err != nil {
		t.Fatalf("the back office refuses the loan's record: %v", err)
	}
	// The school's grant on the card moves the card's file version, not
	// what the library's gates require.
	if code, v := gf.call(t, "POST", "nb-school-7", c.ASN.String()+"/grant", `{"valid_from":"20240901","valid_to":"20250731","class":3,"limit":0}`); code != http.StatusOK {
		t.Fatalf("the school's grant: %d %v", code, v)
	}
	gf.tap(t, cd, apps.Allowed)
	if f, err := gf.o.File(ctx, c, 1); err != nil || f.Version != 5 || gf.vs.MinVersion(c.Issuer, c.ASN) != 4 {
		t.Fatalf("file version %d (%v), the library's gates require %d; want 5, 4", f.Version, err, gf.vs.MinVersion(c.Issuer, c.ASN))
	}
}

// TestGateVersionsBadInput: the gate versions route answers a clear 4xx
// for a query it cannot read, a terminal of another operator (404, as
// no such application), no token (401); nothing changes.
func TestGateVersionsBadInput(t *testing.T) {
	gf := withGate(t)
	c := apps.CardRef{Issuer: testIssuer, ASN: gf.w.asn(1)}
	if code, _ := gf.call(t, "POST", "nb-library", c.ASN.String()+"/grant", `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":3}`); code != http.StatusOK {
		t.Fatal(code)
	}
	path := "/v1/terminals/" + gf.gate.id.String() + "/entitlement-versions?"
	var school citycard.TerminalID
	for id, tok := range gf.fixture.toks {
		if tok == "school-gate-token" {
			school = id
		}
	}
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"no kind", path + "scope=1", "gate-token", http.StatusUnprocessableEntity},
		{"a kind that is none", path + "kind=zoo&scope=1", "gate-token", http.StatusUnprocessableEntity},
		{"no scope", path + "kind=library", "gate-token", http.StatusUnprocessableEntity},
		{"a scope over 32 bits", path + "kind=library&scope=4294967296", "gate-token", http.StatusUnprocessableEntity},
		{"a negative after", path + "kind=library&scope=1&after=-1", "gate-token", http.StatusUnprocessableEntity},
		{"after not a number", path + "kind=library&scope=1&after=x", "gate-token", http.StatusUnprocessableEntity},
		{"a page of 0", path + "kind=library&scope=1&limit=0", "gate-token", http.StatusUnprocessableEntity},
		{"a page over the bound", path + "kind=library&scope=1&limit=10001", "gate-token", http.StatusUnprocessableEntity},
		{"another operator's terminal", "/v1/terminals/" + school.String() + "/entitlement-versions?kind=library&scope=1", "school-gate-token", http.StatusNotFound},
		{"an application of no one", path + "kind=library&scope=2", "gate-token", http.StatusNotFound},
		{"no token", path + "kind=library&scope=1", "", http.StatusUnauthorized},
		{"the page at the bound", path + "kind=library&scope=1&limit=10000", "gate-token", http.StatusOK},
	} {
		if code, b := gf.do(t, "GET", c.path, c.token, "", nil, nil); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, b, c.want)
		}
	}
	if vs, err := gf.o.GateVersions(context.Background(), "nb-library", card.AppLibrary, 1, 0, 10); err != nil || len(vs) != 1 || vs[0].Version != 1 {
		t.Fatalf("the versions after the bad queries: %+v, %v; want the one grant's", vs, err)
	}
	// Without the terminals' registrations: 503.
	g := gf.fixture.with(t, func(s *Server) { s.Gates = nil })
	if code, b := g.do(t, "GET", path+"kind=library&scope=1", "gate-token", "", nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("without Gates: %d %s, want 503", code, b)
	}
}

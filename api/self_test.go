package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/citycard/citycard/cms"
)

// TestSelfService follows issue 9's public service: a cardholder
// registers with their card and ID, then sees their balance and last
// transactions and reports a loss with their own credentials, and never
// reaches another's card (404 alike for another's and for none, nothing
// changed).
func TestSelfService(t *testing.T) {
	x := withCMS(t, newFixture(t))
	ctx := context.Background()
	own := x.issued(t, "31500000000000000801", 2500)
	born, _ := cms.ParseDate("1980-03-05")
	other, err := x.m.Register(ctx, cms.Actor{Who: "clerk", ServicePoint: "p"}, cms.Cardholder{Name: "王五", DocType: cms.ResidentID, DocNumber: "330205198003050026", DateOfBirth: born})
	if err != nil {
		t.Fatal(err)
	}
	theirs := x.issued(t, "31500000000000000802", 1000) // the test holder's, for now
	if _, err := x.m.Apply(ctx, cms.Actor{Who: "clerk", ServicePoint: "p"}, testIssuer, asnOf(t, "31500000000000000803"), "citizen", other.ID); err != nil {
		t.Fatal(err)
	}
	another := asnOf(t, "31500000000000000803")
	reg := func(card, doc string) (int, map[string]any) {
		return x.call(t, "POST", "/v1/self/register", "", `{"issuer":"`+testIssuer.String()+`","asn":"`+card+`","doc_type":"resident_id","doc_number":"`+doc+`","password":"`+staffPass+`"}`)
	}
	// Someone else's card with my ID, my card with someone else's ID, a card that is none: 403 alike.
	for _, c := range [][2]string{{another.String(), testIDNumber}, {own.String(), "330205198003050026"}, {"31500000000000000899", testIDNumber}} {
		if code, v := reg(c[0], c[1]); code != http.StatusForbidden {
			t.Errorf("register %v: %d %v, want 403", c, code, v)
		}
	}
	if code, v := reg(own.String(), testIDNumber); code != http.StatusCreated || v["holder_id"] != 1.0 {
		t.Fatalf("register: %d %v", code, v)
	}
	if code, _ := reg(own.String(), testIDNumber); code != http.StatusConflict {
		t.Errorf("register twice: %d, want 409", code)
	}
	code, v := x.call(t, "POST", "/v1/self/login", "", `{"doc_type":"resident_id","doc_number":"`+testIDNumber+`","password":"`+staffPass+`"}`)
	if code != http.StatusOK || v["token"] == nil {
		t.Fatalf("login: %d %v", code, v)
	}
	x.tokens["me"] = v["token"].(string)
	if code, _ := x.call(t, "POST", "/v1/self/login", "", `{"doc_type":"resident_id","doc_number":"330205198003050026","password":"`+staffPass+`"}`); code != http.StatusUnauthorized {
		t.Errorf("login without an account: %d, want 401", code)
	}
	selfURL := func(a string, action string) string {
		u := "/v1/self/cards/" + testIssuer.String() + "/" + a
		if action != "" {
			u += "/" + action
		}
		return u
	}
	code, v = x.call(t, "GET", selfURL(own.String(), ""), "me", "")
	if code != http.StatusOK || v["balance_fen"] != 2500.0 || len(v["transactions"].([]any)) != 1 {
		t.Fatalf("my card: %d %v", code, v)
	}
	code, b := x.do(t, "GET", "/v1/self/cards", x.tokens["me"], "", nil, nil)
	if code != http.StatusOK || !containsAll(string(b), own.String(), theirs.String()) || containsAll(string(b), another.String()) {
		t.Errorf("my cards: %d %s", code, b)
	}
	n := x.auditLen(t)
	for _, a := range []string{another.String(), "31500000000000000899"} {
		if code, _ := x.call(t, "GET", selfURL(a, ""), "me", ""); code != http.StatusNotFound {
			t.Errorf("GET another's card %s: %d, want 404", a, code)
		}
		if code, _ := x.call(t, "POST", selfURL(a, "loss"), "me", ""); code != http.StatusNotFound {
			t.Errorf("loss of another's card %s: %d, want 404", a, code)
		}
	}
	if got := x.card(t, another); got.State != cms.Applied || x.auditLen(t) != n {
		t.Errorf("another's card moved: %v, audit %d was %d", got.State, x.auditLen(t), n)
	}
	// A staff token is not a cardholder's.
	if code, _ := x.call(t, "GET", selfURL(own.String(), ""), "admin", ""); code != http.StatusUnauthorized {
		t.Errorf("a staff token on self service: %d, want 401", code)
	}
	if code, v := x.call(t, "POST", selfURL(own.String(), "loss"), "me", ""); code != http.StatusOK || v["state"] != "lost" {
		t.Fatalf("my loss: %d %v", code, v)
	}
	d, _ := x.bl.Page(0, nil, 1000)
	listed := false
	for _, c := range d.Cards {
		listed = listed || c.ASN == own
	}
	if !listed {
		t.Error("my lost card is not on the blacklist")
	}
	// The routes that read the document number (register, login, the
	// refused ones with another's) never log it, nor the password.
	log := x.log.String()
	if !strings.Contains(log, "card lost, reported by its holder") {
		t.Fatalf("the log lacks the loss report:\n%s", log)
	}
	for _, pii := range []string{testIDNumber, "330205198003050026", staffPass} {
		if strings.Contains(log, pii) {
			t.Errorf("the log holds %q", pii)
		}
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

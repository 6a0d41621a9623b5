package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// A senior (70 and over): a resident ID number with GB 11643's check
// character (storetest's).
const (
	seniorIDNumber = "11010519491231002X"
	seniorBorn     = "1949-12-31"
)

// advance moves the fixture's clock on by d, and logs the staff in
// again (their sessions ended meanwhile).
func (x *cmsFix) advance(t testing.TB, d time.Duration) {
	t.Helper()
	x.mu.Lock()
	x.at = x.at.Add(d)
	x.mu.Unlock()
	for name := range x.tokens {
		s, err := x.st.Login(context.Background(), name, staffPass)
		if err != nil {
			t.Fatal(err)
		}
		x.tokens[name] = s.Token
	}
}

// concession applies for, personalizes, sells and activates a card of
// product for the cardholder of doc (registered once, born on born,
// with school and studies end for a student).
func (x *cmsFix) concession(t testing.TB, asn, product, doc, born, school, studiesEnd string) citycard.ASN {
	t.Helper()
	ctx := context.Background()
	by := cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}
	h, err := x.m.FindHolder(ctx, cms.ResidentID, doc)
	if err != nil {
		b, _ := cms.ParseDate(born)
		nh := cms.Cardholder{Name: "周老", DocType: cms.ResidentID, DocNumber: cms.DocNumber(doc), DateOfBirth: b, School: school}
		if studiesEnd != "" {
			nh.StudiesEnd, _ = cms.ParseDate(studiesEnd)
		}
		if h, err = x.m.Register(ctx, by, nh); err != nil {
			t.Fatal(err)
		}
	}
	return x.sold(t, asn, product, h.ID, 0)
}

// pastExpiry is an active citizen card whose expiry is put back to
// yesterday in the store, as the fixture's clock moves a second a call.
func (x *cmsFix) pastExpiry(t testing.TB, asn string) citycard.ASN {
	t.Helper()
	a := x.issued(t, asn, 0)
	c := x.card(t, a)
	c.Expiry = cms.Today(x.at).AddDate(0, 0, -1)
	c.Version++
	if err := x.db.CMS().UpdateCard(context.Background(), &c, &cms.AuditRecord{At: time.Now(), Actor: "test", ServicePoint: "test", Subject: "card:" + c.String(), Action: "backdate expiry"}); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestCardReviewExpireRenew runs the annual review, expiry and renewal
// over the API: a senior card reviewed (its review_due a year from the
// review), a card without a review 422, a student whose studies ended
// 403, a lost card 409; a card expired before its last day 409, the day
// after 200, renewed with its new expiry; the moves a state forbids 409
// naming the state and the move; the clock's run a supervisor's.
func TestCardReviewExpireRenew(t *testing.T) {
	x := withCMS(t, newFixture(t))
	senior := x.concession(t, "31500000000000000601", "senior", seniorIDNumber, seniorBorn, "", "")
	if c := x.card(t, senior); c.ReviewDue.String() != "2026-03-01" {
		t.Fatalf("first review due %v", c.ReviewDue)
	}
	x.advance(t, 400*24*time.Hour) // 2026-04-05: past the review and its grace
	code, got := x.call(t, "POST", cardURL(senior, "review"), "clerk", "")
	if code != http.StatusOK || got["review_due"] != "2027-04-05" || got["state"] != "active" {
		t.Fatalf("review: %d %v", code, got)
	}
	citizen := x.issued(t, "31500000000000000602", 0)
	if code, got := x.call(t, "POST", cardURL(citizen, "review"), "clerk", ""); code != http.StatusUnprocessableEntity || !strings.Contains(got["error"].(string), "no annual review") {
		t.Errorf("review of a citizen card: %d %v", code, got)
	}
	student := x.concession(t, "31500000000000000603", "student", "330205195612020048", "1956-12-02", "宁波大学", "2026-06-30")
	x.advance(t, 100*24*time.Hour) // 2026-07-14: studies over
	before := x.card(t, student)
	if code, got := x.call(t, "POST", cardURL(student, "review"), "clerk", ""); code != http.StatusForbidden || !strings.Contains(got["error"].(string), "studies ended") {
		t.Errorf("review after the studies: %d %v", code, got)
	}
	if c := x.card(t, student); c.Version != before.Version || c.ReviewDue != before.ReviewDue {
		t.Errorf("a refused review moved the card: %+v", c)
	}
	lost := x.concession(t, "31500000000000000604", "senior", seniorIDNumber, seniorBorn, "", "")
	if _, err := x.m.Move(t.Context(), cms.Actor{Who: "clerk", ServicePoint: "p"}, testIssuer, lost, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	if code, got := x.call(t, "POST", cardURL(lost, "review"), "clerk", ""); code != http.StatusConflict || !strings.Contains(got["error"].(string), "is lost: only a card issued or active is reviewed") {
		t.Errorf("review of a lost card: %d %v", code, got)
	}

	// Expiry and renewal.
	if code, got := x.call(t, "POST", cardURL(citizen, "expire"), "clerk", ""); code != http.StatusConflict || !strings.Contains(got["error"].(string), "valid until "+x.card(t, citizen).Expiry.String()) {
		t.Errorf("expire before the expiry: %d %v", code, got)
	}
	due := x.pastExpiry(t, "31500000000000000605")
	code, got = x.call(t, "POST", cardURL(due, "expire"), "clerk", "")
	if code != http.StatusOK || got["state"] != "expired" {
		t.Fatalf("expire: %d %v", code, got)
	}
	want := cms.Today(x.at).AddDate(10, 0, 0).String()
	if code, got := x.call(t, "POST", cardURL(due, "renew"), "clerk", ""); code != http.StatusOK || got["state"] != "active" || got["expiry"] != want {
		t.Fatalf("renew: %d %v, want expiry %s", code, got, want)
	}
	applied := asnOf(t, "31500000000000000606")
	if _, err := x.m.Apply(t.Context(), cms.Actor{Who: "clerk", ServicePoint: "p"}, testIssuer, applied, "citizen", x.holder(t)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		card       citycard.ASN
		move, name string
		wantMsg    string
	}{
		{applied, "expire", "applied", "expire is allowed only from issued or active"},
		{applied, "renew", "applied", "renew is allowed only from active or expired"},
		{lost, "expire", "lost", "expire is allowed only from issued or active"},
		{lost, "renew", "lost", "renew is allowed only from active or expired"},
	} {
		code, got := x.call(t, "POST", cardURL(c.card, c.move), "clerk", "")
		if msg, _ := got["error"].(string); code != http.StatusConflict || !strings.Contains(msg, "is "+c.name+": "+c.wantMsg) {
			t.Errorf("%s of a card %s: %d %v", c.move, c.name, code, got)
		}
	}

	// The clock's run: a supervisor's.
	late := x.pastExpiry(t, "31500000000000000607")
	if code, _ := x.call(t, "POST", "/v1/cards/expire-due", "clerk", ""); code != http.StatusForbidden {
		t.Errorf("a clerk runs the expiry: %d", code)
	}
	if code, got := x.call(t, "POST", "/v1/cards/expire-due", "super", ""); code != http.StatusOK || got["expired"] != 1.0 || got["more"] != false {
		t.Fatalf("expire-due: %d %v", code, got)
	}
	if c := x.card(t, late); c.State != cms.Expired {
		t.Errorf("after the run: %v", c.State)
	}
	if code, got := x.call(t, "POST", "/v1/cards/expire-due", "super", ""); code != http.StatusOK || got["expired"] != 0.0 {
		t.Errorf("again: %d %v", code, got)
	}
}

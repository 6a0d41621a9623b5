package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim"
)

// TestCardReviewExpireRenew: a clerk reviews a senior's card from its
// page (the next review due shown), renews it (the new expiry shown),
// and expires it once past its last day, when alone the page offers
// that; an auditor is refused and offered none of them.
func TestCardReviewExpireRenew(t *testing.T) {
	cf := newCardsFixture(t)
	ctx := context.Background()
	born, _ := cms.ParseDate("1949-12-31")
	h, err := cf.m.Register(ctx, counter, cms.Cardholder{Name: "周老", DocType: cms.ResidentID, DocNumber: "11010519491231002X", DateOfBirth: born})
	if err != nil {
		t.Fatal(err)
	}
	a := cf.issueTo(t, citycard.ASN{8: 0x07, 9: 0x01}, "senior", h.ID, 0, 0)
	form := func(tok, move string) url.Values {
		return url.Values{"csrf": {tok}, "issuer": {sim.Issuer.String()}, "asn": {a.String()}, "move": {move}}
	}
	aud := cf.client(t)
	atok := cf.login(t, aud, RoleAuditor)
	if _, page := cf.get(t, aud, cardPath(a)); strings.Contains(page, `id="review"`) || strings.Contains(page, `id="renew"`) {
		t.Error("an auditor is offered a review or a renewal")
	}
	for _, mv := range []string{"review", "renew", "expire"} {
		if resp, _ := cf.post(t, aud, "/cards/move", form(atok, mv)); resp.StatusCode != http.StatusForbidden {
			t.Errorf("an auditor's %s: %d, want 403", mv, resp.StatusCode)
		}
	}
	clerk := cf.client(t)
	tok := cf.login(t, clerk, RoleClerk)
	_, page := cf.get(t, clerk, cardPath(a))
	if !strings.Contains(page, `id="review"`) || !strings.Contains(page, `id="renew"`) || strings.Contains(page, `id="expire"`) ||
		!strings.Contains(page, `id="reviewdue">2026-03-01<`) || !strings.Contains(page, `id="expiry">2035-03-01<`) {
		t.Fatalf("the clerk's page of a senior card in use: %s", page)
	}
	resp, page := cf.post(t, clerk, "/cards/move", form(tok, "review"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "reviewed, next review due 2026-03-01") || cf.lastAudit(t).Action != "review" {
		t.Fatalf("the review: %d %s", resp.StatusCode, page)
	}
	resp, page = cf.post(t, clerk, "/cards/move", form(tok, "renew"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "renewed, valid until 2045-03-01") || !strings.Contains(page, `id="expiry">2045-03-01<`) {
		t.Fatalf("the renewal: %d %s", resp.StatusCode, page)
	}
	resp, page = cf.post(t, clerk, "/cards/move", form(tok, "expire"))
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "is valid until 2045-03-01") {
		t.Fatalf("an expiry before the last day: %d %s", resp.StatusCode, page)
	}
	// Past its last day (put back in the store, before both the
	// console's today and card management's): expire offered, and made.
	c, _ := cf.m.Card(ctx, sim.Issuer, a)
	c.Expiry, c.Version = cms.Date{Year: 2025, Month: 2, Day: 27}, c.Version+1
	if err := cf.db.CMS().UpdateCard(ctx, &c, &cms.AuditRecord{At: time.Now(), Actor: "test", ServicePoint: "test", Subject: "card:" + c.String(), Action: "backdate expiry"}); err != nil {
		t.Fatal(err)
	}
	if _, page := cf.get(t, clerk, cardPath(a)); !strings.Contains(page, `id="expire"`) {
		t.Fatalf("a card past its last day is not offered its expiry: %s", page)
	}
	resp, page = cf.post(t, clerk, "/cards/move", form(tok, "expire"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="state">expired<`) || strings.Contains(page, `id="review"`) || !strings.Contains(page, `id="renew"`) {
		t.Fatalf("the expiry: %d %s", resp.StatusCode, page)
	}
}

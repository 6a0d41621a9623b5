package cms_test

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// TestDormantReport: of registered cards issued four years ago, the one
// unused since and the one last used more than three years ago are
// reported (the citizen card's dormant_years is 3), with their balance
// left on them; the one used a year ago, an anonymous card, a lost card
// and a card issued a year ago are not. Pages of one walk the same cards.
func TestDormantReport(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	born := cms.Date{Year: 1990, Month: 1, Day: 1}
	h, err := r.m.Register(ctx, clerk, cms.Cardholder{Name: "张三丰", DocType: cms.ResidentID, DocNumber: "330203199001011236", DateOfBirth: born})
	if err != nil {
		t.Fatal(err)
	}
	sell := func(n byte, product string, holder int64, loadFen int64) citycard.ASN {
		asn := citycard.ASN{0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, n}
		if _, err := r.m.Apply(ctx, clerk, issuer, asn, product, holder); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Move(ctx, clerk, issuer, asn, cms.Personalize); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Sell(ctx, clerk, "sale-"+asn.String(), issuer, asn, cash, loadFen); err != nil {
			t.Fatal(err)
		}
		return asn
	}
	never := sell(1, "citizen", h.ID, 3000)
	longAgo := sell(2, "citizen", h.ID, 0)
	recent := sell(3, "citizen", h.ID, 0)
	anon := sell(4, "transit", 0, 0)
	lost := sell(5, "citizen", h.ID, 0)
	if _, err := r.m.Move(ctx, clerk, issuer, lost, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	issued := r.clk.read()
	r.clk.advance(4 * 365 * 24 * time.Hour)
	young := sell(6, "citizen", h.ID, 0)
	now := r.clk.read()
	uses := map[citycard.ASN]time.Time{longAgo: issued.AddDate(0, 2, 0), recent: now.AddDate(-1, 0, 0), anon: issued}
	asked := 0
	lastUse := func(_ context.Context, cards []cms.Card) (map[citycard.ASN]time.Time, error) {
		asked += len(cards)
		out := map[citycard.ASN]time.Time{}
		for _, c := range cards {
			if c.ASN == young {
				t.Errorf("asked about card %v, issued a year ago", c.ASN)
			}
			if u, ok := uses[c.ASN]; ok {
				out[c.ASN] = u
			}
		}
		return out, nil
	}
	page, err := r.m.Dormant(ctx, citycard.IssuerCode{}, citycard.ASN{}, cms.DormantPageMax, lastUse)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Cards) != 2 || page.More || page.Cards[0].Card.ASN != never || page.Cards[1].Card.ASN != longAgo {
		t.Fatalf("dormant: %+v", page)
	}
	if d := page.Cards[0]; d.BookFen != 3000 || !d.LastUse.IsZero() || !d.Since.Equal(d.Card.IssuedAt.AddDate(3, 0, 0)) {
		t.Errorf("the card never used: %+v", d)
	}
	if d := page.Cards[1]; !d.LastUse.Equal(uses[longAgo]) || !d.Since.Equal(uses[longAgo].AddDate(3, 0, 0)) {
		t.Errorf("the card used long ago: %+v", d)
	}
	if bal, err := r.m.BookBalance(ctx, issuer, never); err != nil || bal != 3000 {
		t.Errorf("the report moved money: %d %v", bal, err)
	}
	// Pages of one.
	var walked []citycard.ASN
	var p cms.DormantPage
	for p.More || walked == nil {
		p, err = r.m.Dormant(ctx, p.NextIssuer, p.NextASN, 1, lastUse)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Cards {
			walked = append(walked, d.Card.ASN)
		}
		if walked == nil {
			walked = []citycard.ASN{}
		}
		if len(walked) > 3 {
			t.Fatalf("walked %v", walked)
		}
	}
	if len(walked) != 2 || walked[0] != never || walked[1] != longAgo {
		t.Fatalf("pages of one: %v", walked)
	}
	for _, n := range []int{0, cms.DormantPageMax + 1} {
		if _, err := r.m.Dormant(ctx, citycard.IssuerCode{}, citycard.ASN{}, n, lastUse); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("a page of %d: %v", n, err)
		}
	}
}

package api

import (
	"context"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim"
)

// TestStaffClientTopUps pays a remote top-up through the staff client,
// retries it (replayed, the same top-up), reads it back as the server
// stores it, and sees the server's refusals keep their kinds: the key
// reused for another amount (Conflict), a clerk's sweep (Permission).
func TestStaffClientTopUps(t *testing.T) {
	r := newKioskRig(t)
	ctx := context.Background()
	asn := r.city.Cards[0].State().ASN
	c := &StaffClient{BaseURL: r.srv.URL, Token: r.clerk}
	payer := cms.Channel{Type: cms.ThirdParty, Party: "alipay", Reference: "ref-1"}
	tu, replayed, err := c.PayTopUp(ctx, "pay-1", sim.Issuer, asn, payer, 3000)
	if err != nil || replayed || tu.ID != cms.TopUpID("pay-1") || tu.State != cms.TopUpPending || tu.AmountFen != 3000 || tu.Payer != payer || tu.ASN != asn || tu.ClaimBy.IsZero() {
		t.Fatalf("paid: %+v, replayed %v, %v", tu, replayed, err)
	}
	again, replayed, err := c.PayTopUp(ctx, "pay-1", sim.Issuer, asn, payer, 3000)
	if err != nil || !replayed || again.ID != tu.ID {
		t.Fatalf("paid again: %+v, replayed %v, %v; want the same top-up, replayed", again, replayed, err)
	}
	read, err := c.TopUp(ctx, tu.ID)
	if err != nil || read.ID != tu.ID || read.State != cms.TopUpPending || !read.ClaimBy.Equal(tu.ClaimBy) {
		t.Fatalf("read: %+v %v", read, err)
	}
	if _, _, err := c.PayTopUp(ctx, "pay-1", sim.Issuer, asn, payer, 4000); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("the key again for another amount: %v, want Conflict", err)
	}
	if _, err := c.SweepTopUps(ctx); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("a clerk's sweep: %v, want Permission", err)
	}
	if _, err := c.TopUp(ctx, "0000000000000001"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("an unknown top-up: %v, want NotFound", err)
	}
}

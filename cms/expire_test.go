package cms_test

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// expireFaults is a Store whose CardsExpired and UpdateCard fail as
// told.
type expireFaults struct {
	cms.Store
	list, update error
}

func (s *expireFaults) CardsExpired(ctx context.Context, before cms.Date, limit int) ([]cms.Card, error) {
	if s.list != nil {
		return nil, s.list
	}
	return s.Store.CardsExpired(ctx, before, limit)
}

func (s *expireFaults) UpdateCard(ctx context.Context, c *cms.Card, a *cms.AuditRecord) error {
	if s.update != nil {
		return s.update
	}
	return s.Store.UpdateCard(ctx, c, a)
}

// TestExpireDueFaults: the store failing to list the cards due or to
// write one is the run's error (kind IO), the card as it was; a card
// another move came first to (Conflict) is passed over, left for the
// next run, which expires it.
func TestExpireDueFaults(t *testing.T) {
	ctx := context.Background()
	f := &expireFaults{}
	r := newRig(t, func(s cms.Store) cms.Store { f.Store = s; return f })
	asn := citycard.ASN{0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0x70}
	if _, err := r.m.Apply(ctx, clerk, issuer, asn, "transit", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, asn, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-expire", issuer, asn, cash, 0); err != nil {
		t.Fatal(err)
	}
	r.clk.advance(11 * 365 * 24 * time.Hour)
	fault := citycard.E("test", citycard.IO, "the disk is gone")
	f.list = fault
	if _, _, err := r.m.ExpireDue(ctx, clerk, cms.ExpireDueMax); !citycard.IsKind(err, citycard.IO) {
		t.Errorf("listing fails: %v", err)
	}
	f.list, f.update = nil, fault
	if n, more, err := r.m.ExpireDue(ctx, clerk, cms.ExpireDueMax); !citycard.IsKind(err, citycard.IO) || n != 0 || !more {
		t.Errorf("writing fails: %d, more %v, %v", n, more, err)
	}
	f.update = citycard.E("test", citycard.Conflict, "another move came first")
	if n, more, err := r.m.ExpireDue(ctx, clerk, cms.ExpireDueMax); err != nil || n != 0 || more {
		t.Errorf("a card moved meanwhile: %d, more %v, %v", n, more, err)
	}
	if c, _ := r.m.Card(ctx, issuer, asn); c.State != cms.Issued {
		t.Fatalf("a failed run moved the card: %v", c.State)
	}
	f.update = nil
	if n, more, err := r.m.ExpireDue(ctx, clerk, cms.ExpireDueMax); err != nil || n != 1 || more {
		t.Errorf("the next run: %d, more %v, %v", n, more, err)
	}
	if c, _ := r.m.Card(ctx, issuer, asn); c.State != cms.Expired {
		t.Errorf("after the run: %v", c.State)
	}
}

// TestReplacementKeepsReview: a senior's card replaced after its review
// lapsed keeps the old card's review due, issued or not: a loss report
// is no annual review (the eligibility is not checked again).
func TestReplacementKeepsReview(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	h, err := r.m.Register(ctx, clerk, cms.Cardholder{Name: "周老", DocType: cms.ResidentID, DocNumber: "11010519491231002X", DateOfBirth: cms.Date{Year: 1949, Month: 12, Day: 31}})
	if err != nil {
		t.Fatal(err)
	}
	old := citycard.ASN{0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0x71}
	nu := citycard.ASN{0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0x72}
	if _, err := r.m.Apply(ctx, clerk, issuer, old, "senior", h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, old, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-old", issuer, old, cash, 0); err != nil {
		t.Fatal(err)
	}
	first, _ := r.m.Card(ctx, issuer, old)
	r.clk.advance(400 * 24 * time.Hour)
	if _, err := r.m.Move(ctx, clerk, issuer, old, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Replace(ctx, clerk, "replace-old", issuer, old, nu, cash); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.m.Card(ctx, issuer, nu); c.ReviewDue != first.ReviewDue {
		t.Errorf("the replacement applied for: review due %v, want %v", c.ReviewDue, first.ReviewDue)
	}
	if _, err := r.m.Move(ctx, clerk, issuer, nu, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-new", issuer, nu, cash, 0); err != nil {
		t.Fatal(err)
	}
	c, _ := r.m.Card(ctx, issuer, nu)
	p, _ := cms.DefaultProducts().Product("senior")
	if c.ReviewDue != first.ReviewDue || p.CategoryOn(c.ReviewDue, cms.Today(r.clk.read())).Name != "adult" {
		t.Errorf("the replacement issued: review due %v, want %v (lapsed)", c.ReviewDue, first.ReviewDue)
	}
}

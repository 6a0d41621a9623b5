package city

import (
	"strings"
	"testing"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
)

// The cardholders the city registers are ones card management accepts:
// valid resident ID numbers (GB 11643-1999, their check character by ISO
// 7064 MOD 11-2, the date of birth inside), eligible for the product on
// the first day of the run (a senior card from 70, a student card with a
// school and studies not ended: products.conf), and each number unique.
func TestHoldersValidEligibleUnique(t *testing.T) {
	cfg := Config{Seed: 3, Cards: 1, Days: 1, Dir: t.TempDir()}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	c := &City{cfg: cfg}
	products := cms.DefaultProducts()
	rng := rngFor(cfg.Seed, "cardholders")
	seen := map[cms.DocNumber]int{}
	for ri := 0; ri < 5000; ri++ {
		id := []string{"citizen", "transit", "mot", "student", "senior"}[ri%5]
		h := c.holderFor(rng, ri, id)
		if err := h.Validate(); err != nil {
			t.Fatalf("rider %d (%s): %v", ri, id, err)
		}
		p, err := products.Product(id)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.CheckEligible(h.Facts(), cms.Today(cfg.Start)); err != nil {
			t.Fatalf("rider %d (%s): %v", ri, id, err)
		}
		// The shapes cmd/citycard's test scans the report for.
		if !strings.HasPrefix(h.DocNumber.Plain(), "330203") || !strings.HasPrefix(h.Phone.Plain(), "1390574") || len(h.Phone.Plain()) != 11 {
			t.Fatalf("rider %d: a number not of the city's shape", ri)
		}
		if prev, ok := seen[h.DocNumber]; ok {
			t.Fatalf("riders %d and %d share a document number", prev, ri)
		}
		seen[h.DocNumber] = ri
	}
}

// The check character, against card management's own check of the
// number: the published example of GB 11643-1999 (11010519491231002X)
// and a number one digit off, which the check refuses.
func TestResidentIDCheck(t *testing.T) {
	if got := residentIDCheck("11010519491231002"); got != 'X' {
		t.Fatalf("check character %c, want X", got)
	}
	if err := cms.CheckDocNumber(cms.ResidentID, "11010519491231002X"); err != nil {
		t.Fatal(err)
	}
	if err := cms.CheckDocNumber(cms.ResidentID, "110105194912310021"); err == nil {
		t.Fatal("a wrong check character passed")
	}
}

// Each card is sold as the product of its profile and category
// (products.conf): a concession product only where the catalog has one,
// and every product's card profile the card's.
func TestProductOf(t *testing.T) {
	products := cms.DefaultProducts()
	for _, tc := range []struct {
		profile  card.Profile
		category uint8
		want     string
	}{
		{card.ProfileCitizen, catAdult, "citizen"},
		{card.ProfileCitizen, catSenior, "citizen"},
		{card.ProfileMoT, catStudent, "mot"},
		{card.ProfileMOHURD, catStudent, "student"},
		{card.ProfileMOHURD, catSenior, "senior"},
		{card.ProfileMOHURD, catSenior60, "transit"},
		{card.ProfileMOHURD, catDisabled, "transit"},
		{card.ProfileMOHURD, catAdult, "transit"},
	} {
		r := &rider{profile: tc.profile, category: tc.category}
		got := productOf(r)
		if got != tc.want {
			t.Errorf("%v, category %d: %s, want %s", tc.profile, tc.category, got, tc.want)
		}
		if p, err := products.Product(got); err != nil || p.Profile != tc.profile {
			t.Errorf("%v, category %d: product %s: %v, %v", tc.profile, tc.category, got, p, err)
		}
	}
}

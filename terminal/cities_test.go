package terminal

import (
	"testing"
	"time"

	"github.com/citycard/citycard"
)

func bcdDay(y int, m time.Month, d int) citycard.BCDDate {
	b, _ := citycard.DateTime(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
	return b
}

// TestCitiesAccepts: our city's cards always; another city's from the day
// its addition takes effect to the day before its removal's; every card
// before a list is set; a list past CitiesMax refused, the old one kept.
func TestCitiesAccepts(t *testing.T) {
	var cs Cities
	other := citycard.IssuerCode{0x20, 0, 0, 1}
	ours := citycard.IssuerCode{0x31, 0x50, 0, 1}
	if !cs.Accepts(other, bcdDay(2025, 12, 1)) {
		t.Fatal("no list set: a card refused")
	}
	// Given out of order: Set orders by effective day.
	if err := cs.Set([2]byte{0x31, 0x50}, []CityChange{
		{City: [2]byte{0x20, 0}, Add: false, Effective: bcdDay(2025, 12, 20)},
		{City: [2]byte{0x20, 0}, Add: true, Effective: bcdDay(2025, 12, 10)},
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		issuer citycard.IssuerCode
		day    citycard.BCDDate
		want   bool
	}{
		{other, bcdDay(2025, 12, 9), false},
		{other, bcdDay(2025, 12, 10), true},
		{other, bcdDay(2025, 12, 19), true},
		{other, bcdDay(2025, 12, 20), false},
		{ours, bcdDay(2025, 12, 9), true},
		{citycard.IssuerCode{0x10, 0}, bcdDay(2025, 12, 15), false},
	} {
		if got := cs.Accepts(c.issuer, c.day); got != c.want {
			t.Errorf("%v on %X: %v, want %v", c.issuer, c.day, got, c.want)
		}
	}
	if err := cs.Set([2]byte{}, make([]CityChange, CitiesMax+1)); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("%d changes: %v, want Invalid", CitiesMax+1, err)
	}
	if err := cs.Set([2]byte{0x31, 0x50}, make([]CityChange, CitiesMax)); err != nil {
		t.Fatalf("%d changes (the bound): %v", CitiesMax, err)
	}
}

package terminal

import (
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// TestMinVersions: pages apply in order, all or nothing; a page out of
// order or over the bound changes nothing; a card's last change wins.
func TestMinVersions(t *testing.T) {
	c := func(n byte) apps.CardRef { return apps.CardRef{Issuer: ourIssuer, ASN: citycard.ASN{9: n}} }
	m := NewMinVersions(2)
	if err := m.Apply([]apps.GateVersion{{Seq: 1, Card: c(1), Version: 1}, {Seq: 3, Card: c(2), Version: 4}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name string
		page []apps.GateVersion
		kind citycard.Kind
	}{
		{"a page applied again", []apps.GateVersion{{Seq: 3, Card: c(2), Version: 4}}, citycard.Invalid},
		{"out of order within the page", []apps.GateVersion{{Seq: 5, Card: c(1), Version: 2}, {Seq: 4, Card: c(2), Version: 5}}, citycard.Invalid},
		{"a third card over the bound of 2", []apps.GateVersion{{Seq: 4, Card: c(1), Version: 2}, {Seq: 5, Card: c(3), Version: 1}}, citycard.Unavailable},
	} {
		if err := m.Apply(bad.page); citycard.KindOf(err) != bad.kind {
			t.Errorf("%s: %v, want %v", bad.name, err, bad.kind)
		}
		if m.Seq() != 3 || m.MinVersion(ourIssuer, c(1).ASN) != 1 || m.Len() != 2 {
			t.Fatalf("%s changed the copy: seq %d, card 1 at %d, %d cards", bad.name, m.Seq(), m.MinVersion(ourIssuer, c(1).ASN), m.Len())
		}
	}
	if err := m.Apply([]apps.GateVersion{{Seq: 7, Card: c(1), Version: 3}}); err != nil || m.MinVersion(ourIssuer, c(1).ASN) != 3 || m.Seq() != 7 {
		t.Fatalf("card 1's next change: %v, at %d, seq %d", err, m.MinVersion(ourIssuer, c(1).ASN), m.Seq())
	}
	if m.MinVersion(ourIssuer, c(9).ASN) != 0 {
		t.Error("a card the copy does not name: want 0")
	}
}

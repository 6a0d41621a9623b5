package cms_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/terminal"
)

// withCardKeys adds the purchase and maintenance master keys of version
// 1 to the rig's key store (it holds the load and TAC keys), so that a
// chip can be personalized with the whole key set.
func withCardKeys(t *testing.T, r *rig) {
	t.Helper()
	for i, typ := range []keys.KeyType{keys.KeyPurchase, keys.KeyMaintenance} {
		k := make([]byte, keys.KeyLen)
		for j := range k {
			k[j] = byte(0x80 + 16*i + j)
		}
		if _, err := r.ks.Put(keys.Ref{Issuer: issuer, Type: typ, Version: 1}, keys.Alg3DES, k, "test", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPersonalizeByProduct: a MoT product's card is personalized under
// the MoT profile (JT/T 978: its AID, a 10-byte ASN) with its product's
// data and the key store's keys diversified by its ASN, which the load
// host then checks a load of the virtual card under; a chip or an ASN
// that does not fit the product's profile is refused, naming both, and
// leaves the card applied for, as does a key version the store lacks.
func TestPersonalizeByProduct(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	withCardKeys(t, r)
	mot := citycard.ASN{0x31, 0x50, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}
	short := citycard.ASN{0, 0, 0x31, 0x50, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02}
	for _, asn := range []citycard.ASN{mot, short} {
		if _, err := r.m.Apply(ctx, clerk, issuer, asn, "mot", 0); err != nil {
			t.Fatal(err)
		}
	}
	p, err := r.m.Product("mot")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		asn  citycard.ASN
		chip card.Profile
		vers []uint8
		kind citycard.Kind
		want []string
	}{
		{"a MOHURD chip", mot, card.ProfileMOHURD, []uint8{1}, citycard.Invalid, []string{"product mot", "a mot card", "a mohurd one"}},
		{"a citizen chip", mot, card.ProfileCitizen, []uint8{1}, citycard.Invalid, []string{"a mot card", "a citizen one"}},
		{"an 8-byte ASN", short, card.ProfileMoT, []uint8{1}, citycard.Invalid, []string{"product mot", "ASN is 10 bytes", "this one is 8"}},
		{"no chip profile", mot, 0, []uint8{1}, citycard.Invalid, []string{"chip profile"}},
		{"no key version", mot, card.ProfileMoT, nil, citycard.Invalid, []string{"key versions"}},
		{"a version twice", mot, card.ProfileMoT, []uint8{1, 1}, citycard.Invalid, []string{"given twice"}},
		{"a version the store lacks", mot, card.ProfileMoT, []uint8{2, 1}, citycard.KeyMissing, nil},
	} {
		_, _, err := r.m.PersonalizeCard(ctx, clerk, issuer, c.asn, c.chip, r.ks, c.vers)
		if !citycard.IsKind(err, c.kind) {
			t.Errorf("%s: %v, want kind %v", c.what, err, c.kind)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.what, err, w)
			}
		}
		if got, err := r.m.Card(ctx, issuer, c.asn); err != nil || got.State != cms.Applied {
			t.Errorf("%s: the card is %v (%v), want still applied", c.what, got.State, err)
		}
	}

	cfg, after, err := r.m.PersonalizeCard(ctx, clerk, issuer, mot, card.ProfileMoT, r.ks, []uint8{1})
	if err != nil {
		t.Fatal(err)
	}
	if after.State != cms.Personalized {
		t.Errorf("after personalization the card is %v", after.State)
	}
	want, err := card.DeriveKeySet(r.ks, issuer, mot, 1)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Profile != card.ProfileMoT || cfg.CardType != p.CardType || cfg.RiderCategory != p.Category.Code ||
		cfg.BalanceMaxFen != uint32(p.BalanceMaxFen) || len(cfg.KeySets) != 1 || cfg.KeySets[0] != want {
		t.Errorf("the chip's data: %+v, want the mot product's and its key set", cfg)
	}
	if _, _, err := r.m.PersonalizeCard(ctx, clerk, issuer, mot, card.ProfileMoT, r.ks, []uint8{1}); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("personalized twice: %v, want Conflict", err)
	}
	if again, err := r.m.Personalization(ctx, issuer, mot, card.ProfileMoT, r.ks, []uint8{1}); err != nil || again.KeySets[0] != want {
		t.Errorf("the chip written again: %v", err)
	}

	// The chip the personalization writes is a MoT card whose keys are
	// the host's: a load on it verifies (MAC1, then its TAC).
	cd, err := card.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st := cd.State(); st.Profile != card.ProfileMoT || st.ASN != mot {
		t.Errorf("the chip: %v %v", st.Profile, st.ASN)
	}
	if _, err := r.m.Sell(ctx, clerk, "sale-mot", issuer, mot, cash, 0); err != nil {
		t.Fatal(err)
	}
	host := cms.TerminalHost{Host: r.host, Actor: clerk, Channel: cash}
	res, err := terminal.PhoneLoad(cd, citycard.TerminalID{1, 2, 3, 4, 5, 6}, []uint8{1}, r.clk.read(), 500, host)
	if err != nil {
		t.Fatalf("a load on the MoT chip: %v", err)
	}
	if res.Card.Profile != card.ProfileMoT || cd.State().BalanceFen != 500 {
		t.Errorf("after the load: %+v, the chip holds %d", res.Card, cd.State().BalanceFen)
	}
	if open, err := r.db.CMS().UnconfirmedLoads(ctx, "", 10); err != nil || len(open) != 0 {
		t.Errorf("the load's TAC not confirmed: %+v %v", open, err)
	}
}

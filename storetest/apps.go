package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// RunApps runs the suite of apps.Store, each test in parallel on the
// store open returns (its own cleanup registered).
func RunApps(t *testing.T, open func(t *testing.T) apps.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s apps.Store)
	}{
		{"Apps", testApps},
		{"Grants", testGrants},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func appsOffice(s apps.Store, at *time.Time) *apps.Office {
	// A counter as randomness: each credential differs, tests repeat.
	var n byte
	return apps.NewOffice(s, func() time.Time { return *at }, readerFunc(func(p []byte) (int, error) {
		n++
		for i := range p {
			p[i] = n
		}
		return len(p), nil
	}))
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

var (
	library = apps.App{ID: "nb-library", Name: "Ningbo Library", Kind: card.AppLibrary, Scope: 1, Party: "nb-library"}
	campus  = apps.App{ID: "nb-school-7", Name: "No. 7 Middle School", Kind: card.AppCampus, Scope: 7, Party: "nb-edu"}
)

// testApps: an application stored with the SHA-256 of its token (never
// the token), found by it, one an ID and one a kind and scope, listed by
// ID.
func testApps(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	lib, token, err := o.Add(ctx, library)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != 2*apps.CredentialBytes || lib.Credential != apps.HashToken(token) {
		t.Fatalf("token %q, credential %X: want 64 hex digits, credential its SHA-256", token, lib.Credential)
	}
	got, err := o.Authenticate(ctx, token)
	if err != nil || got.ID != lib.ID || !got.CreatedAt.Equal(at) || got.Kind != card.AppLibrary || got.Scope != 1 || got.Party != "nb-library" {
		t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, lib)
	}
	for _, tok := range []string{"", token[1:], token + "0"} {
		if _, err := o.Authenticate(ctx, tok); citycard.KindOf(err) != citycard.Unauthenticated {
			t.Errorf("Authenticate(%q): %v, want unauthenticated", tok, err)
		}
	}
	if _, _, err := o.Add(ctx, library); citycard.KindOf(err) != citycard.Exists {
		t.Errorf("the same ID again: %v, want exists", err)
	}
	other := library
	other.ID = "nb-library-2"
	if _, _, err := o.Add(ctx, other); citycard.KindOf(err) != citycard.Exists {
		t.Errorf("the same kind and scope again: %v, want exists", err)
	}
	if _, _, err := o.Add(ctx, campus); err != nil {
		t.Fatal(err)
	}
	list, err := o.Apps(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "nb-library" || list[1].ID != "nb-school-7" {
		t.Fatalf("Apps = %+v, %v; want nb-library, nb-school-7", list, err)
	}
	if _, err := s.App(ctx, "nb-none"); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("App(nb-none): %v, want not found", err)
	}
}

func date(t *testing.T, s string) citycard.BCDDate {
	t.Helper()
	d, err := apps.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testGrants: a grant and a revocation each move the card's file version
// by one; the file holds the active grants only; an application sees its
// own grants, not another's (not found); terms the slot refuses change
// nothing.
func testGrants(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	for _, a := range []apps.App{library, campus} {
		if _, _, err := o.Add(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	c, err := apps.ParseCard("3301000000000000/33010000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	year := apps.Terms{ValidFrom: date(t, "20250301"), ValidTo: date(t, "20260228"), Limit: 10}
	g, v, err := o.Grant(ctx, library.ID, c, year)
	if err != nil || v != 1 || g.State != apps.Active || g.Slot.Limit != 10 || g.Slot.App != card.AppLibrary {
		t.Fatalf("Grant = %+v, %d, %v; want active, version 1", g, v, err)
	}
	if _, err := o.Entitlement(ctx, campus.ID, c); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("the school's view of a library card: %v, want not found", err)
	}
	if _, _, err := o.Revoke(ctx, campus.ID, c); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("the school revokes the library's grant: %v, want not found", err)
	}
	// card.Entitlement.Validate: a class on a library entitlement is refused.
	bad := year
	bad.Class = 3
	if _, _, err := o.Grant(ctx, library.ID, c, bad); citycard.KindOf(err) != citycard.Invalid {
		t.Errorf("a class on a library grant: %v, want invalid", err)
	}
	if _, _, err := o.Grant(ctx, "nb-none", c, year); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("a grant of no application: %v, want not found", err)
	}
	pupil := apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250731"), Class: 3}
	at = at.Add(time.Hour)
	if _, v, err := o.Grant(ctx, campus.ID, c, pupil); err != nil || v != 2 {
		t.Fatalf("the school's grant: version %d, %v; want 2", v, err)
	}
	f, err := o.File(ctx, c, 1)
	if err != nil || f.Version != 2 || len(f.Slots) != 2 || f.Slots[0].App != card.AppLibrary || f.Slots[1].App != card.AppCampus || f.Slots[1].Class != 3 {
		t.Fatalf("File = %+v, %v; want version 2, library then campus", f, err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	r, _, err := o.Revoke(ctx, library.ID, c)
	if err != nil || r.State != apps.Revoked {
		t.Fatalf("Revoke = %+v, %v", r, err)
	}
	if _, _, err := o.Revoke(ctx, library.ID, c); citycard.KindOf(err) != citycard.Conflict {
		t.Errorf("a second revocation: %v, want conflict", err)
	}
	f, err = o.File(ctx, c, 1)
	if err != nil || f.Version != 3 || len(f.Slots) != 1 || f.Slots[0].App != card.AppCampus {
		t.Fatalf("File after the revocation = %+v, %v; want version 3, campus alone", f, err)
	}
	g, err = o.Entitlement(ctx, library.ID, c)
	if err != nil || g.State != apps.Revoked || !g.ChangedAt.Equal(at) || !bytes.Equal(g.Slot.ValidTo[:], year.ValidTo[:]) {
		t.Fatalf("Entitlement after the revocation = %+v, %v", g, err)
	}
	// Another card has no file yet: version 0, no slots.
	c2 := c
	c2.ASN[9] = 2
	if f, err := o.File(ctx, c2, 1); err != nil || f.Version != 0 || len(f.Slots) != 0 {
		t.Fatalf("File of a card without grants = %+v, %v", f, err)
	}
}

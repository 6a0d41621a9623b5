package apps_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// bikeStore is a bike operator (nb-bike, zone 3) with its records in
// journal order, a grant on every card asked, and faults to inject; the
// rest of apps.Store is not called.
type bikeStore struct {
	apps.Store
	recs       []apps.AppRecord
	failPage   int // the Records call of this number (1-based) fails
	failLast   bool
	pages, put int
}

var errDisk = citycard.E("bikeStore", citycard.IO, "disk I/O error")

func (s *bikeStore) App(_ context.Context, id string) (apps.App, error) {
	switch id {
	case "nb-bike":
		return apps.App{ID: id, Kind: card.AppBike, Scope: 3}, nil
	case "nb-library":
		return apps.App{ID: id, Kind: card.AppLibrary, Scope: 1}, nil
	}
	return apps.App{}, citycard.E("bikeStore", citycard.NotFound, "no application %s", id)
}

func (s *bikeStore) Records(_ context.Context, app string, after int64, limit int) ([]apps.AppRecord, error) {
	if s.pages++; s.pages == s.failPage {
		return nil, errDisk
	}
	var out []apps.AppRecord
	for _, r := range s.recs {
		if r.Pos > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *bikeStore) Grant(_ context.Context, app string, c apps.CardRef) (apps.Grant, error) {
	return apps.Grant{App: app, Card: c, Slot: card.Entitlement{App: card.AppBike, Scope: 3}, State: apps.Active}, nil
}

func (s *bikeStore) LastRecord(_ context.Context, app string, c apps.CardRef) (apps.AppRecord, error) {
	if s.failLast {
		return apps.AppRecord{}, errDisk
	}
	return apps.AppRecord{}, citycard.E("bikeStore", citycard.NotFound, "no record")
}

func (s *bikeStore) PutGrant(_ context.Context, g *apps.Grant, check func([]apps.Grant) error) (uint32, error) {
	s.put++
	return 2, check(nil)
}

// cards is card management's word on every card: registered or not, or
// its error.
type cards struct {
	registered bool
	err        error
}

func (c cards) Grantable(context.Context, apps.CardRef) (bool, error) { return c.registered, c.err }

// TestOpenRentalsPages: the bikes out are found across pages of
// records (RecordsPageMax and more), each card by its last counter; a
// page that fails is the error; the limit is taken from 1 minute to 24
// hours, not a second outside, and only of a bike operator.
func TestOpenRentalsPages(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 3, 3, 18, 0, 0, 0, citycard.ChinaTime)
	d, tm := citycard.DateTime(now.Add(-time.Hour))
	s := &bikeStore{}
	// 1,200 cards hire, then the first 700 return: 500 out.
	for i := range 1900 {
		n := i % 1200
		c, _ := apps.ParseCard("3301000000000000/" + citycard.ASN{8: byte(n >> 8), 9: byte(n)}.String())
		a, counter := apps.Hire, uint16(1)
		if i >= 1200 {
			a, counter = apps.Return, 2
		}
		s.recs = append(s.recs, apps.AppRecord{Pos: int64(i + 1), App: "nb-bike", Card: c, Action: a, Date: d, Time: tm, Place: 3001, Counter: counter})
	}
	o := apps.NewOffice(s, func() time.Time { return now }, rand.Reader)
	rs, err := o.OpenRentals(ctx, "nb-bike", now, 0)
	if err != nil || len(rs) != 500 || rs[0].Overdue || s.pages != 2 {
		t.Fatalf("open rentals: %d, %v, %d pages; want 500 of 1900 records in 2 pages, none overdue", len(rs), err, s.pages)
	}
	s.pages, s.failPage = 0, 2
	if _, err := o.OpenRentals(ctx, "nb-bike", now, 0); !citycard.IsKind(err, citycard.IO) {
		t.Errorf("the second page failing: %v, want IO", err)
	}
	s.failPage = 0
	for _, c := range []struct {
		outMax time.Duration
		ok     bool
	}{{time.Minute - time.Second, false}, {time.Minute, true}, {24 * time.Hour, true}, {24*time.Hour + time.Second, false}, {-time.Hour, false}} {
		rs, err := o.OpenRentals(ctx, "nb-bike", now, c.outMax)
		if c.ok != (err == nil) || err != nil && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("out max %v: %v", c.outMax, err)
		}
		if c.outMax == time.Minute && (len(rs) != 500 || !rs[0].Overdue) {
			t.Errorf("out max 1 minute: %d, overdue %v; want 500 overdue", len(rs), len(rs) > 0 && rs[0].Overdue)
		}
	}
	if _, err := o.OpenRentals(ctx, "nb-library", now, 0); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("the library's open rentals: %v, want Invalid", err)
	}
	if _, err := o.OpenRentals(ctx, "nb-nothing", now, 0); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("no such application: %v, want NotFound", err)
	}
}

// TestBikeGrantAndRevokeFaults: a bike grant needs card management's
// word that the card is registered: none to ask, an anonymous card and
// card management's error are refused before anything is written, a
// registered card is granted; a revocation whose check of the card's
// last record fails is the error, nothing written.
func TestBikeGrantAndRevokeFaults(t *testing.T) {
	ctx := context.Background()
	c, _ := apps.ParseCard("3301000000000000/33010000000000000001")
	terms := apps.Terms{ValidFrom: citycard.BCDDate{0x20, 0x25, 0x03, 0x01}, ValidTo: citycard.BCDDate{0x20, 0x26, 0x02, 0x28}}
	s := &bikeStore{}
	o := apps.NewOffice(s, time.Now, rand.Reader)
	if _, _, err := o.Grant(ctx, "nb-bike", c, terms); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("no card management: %v, want Conflict", err)
	}
	o.WithCards(cards{registered: false})
	if _, _, err := o.Grant(ctx, "nb-bike", c, terms); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("an anonymous card: %v, want Conflict", err)
	}
	o.WithCards(cards{err: errDisk})
	if _, _, err := o.Grant(ctx, "nb-bike", c, terms); !citycard.IsKind(err, citycard.IO) {
		t.Errorf("card management failing: %v, want IO", err)
	}
	if s.put != 0 {
		t.Fatalf("%d grants written after the refusals", s.put)
	}
	o.WithCards(cards{registered: true})
	if _, _, err := o.Grant(ctx, "nb-bike", c, terms); err != nil || s.put != 1 {
		t.Fatalf("a registered card: %v, %d written", err, s.put)
	}
	s.failLast = true
	if _, _, err := o.Revoke(ctx, "nb-bike", c); !citycard.IsKind(err, citycard.IO) || s.put != 1 {
		t.Errorf("revoke, the last record failing: %v, %d written; want IO, nothing", err, s.put)
	}
	s.failLast = false
	if _, _, err := o.Revoke(ctx, "nb-bike", c); err != nil || s.put != 2 {
		t.Errorf("revoke with no record: %v", err)
	}
}

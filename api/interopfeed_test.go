package api

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/terminal"
)

// interopCTY is a CTY file from the centre to us of one city change.
func interopCTY(t *testing.T, id string, c interop.City) []byte {
	t.Helper()
	b, err := interop.Encode(&interop.File{Header: interop.Header{Type: interop.FileCities, ID: id, Sender: interop.Centre, Receiver: interopOwn,
		Day: c.Announced, Created: time.Date(2025, 12, 1, 1, 0, 0, 0, citycard.ChinaTime)}, Cities: []interop.City{c}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func iday(m time.Month, d int) interop.Day { return interop.Day(clearing.DayOf(2025, m, d)) }

// TestInteropReachesTerminals: the other issuers' blacklists imported
// (BLK) reach a terminal's blacklist through its ordinary download, and
// it refuses (and blocks) the card offline; the interconnected cities
// (CTY) reach its parameters, and it accepts another city's card only
// while that city is in force, by its own clock: a city removed is
// refused from its effective day without another download.
func TestInteropReachesTerminals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	x := withCMS(t, f)
	withInterop(t, x)
	w := newGateWorld(t, testIssuer, time.Date(2025, 12, 2, 10, 0, 0, 0, citycard.ChinaTime)) // testIssuer's city 3150 is another city to us (2000)
	x.s.Now = func() time.Time { return w.now }
	super := x.tokens["super"]
	imp := func(b []byte) {
		t.Helper()
		if code, body := f.do(t, "POST", "/v1/clearing/interop/files", super, "text/plain", b, nil); code != http.StatusCreated {
			t.Fatalf("import: %d %s", code, body)
		}
	}

	// A terminal with its copy of the blacklist and of the cities.
	// A POS whose PSAM also holds the maintenance key, to block a
	// blacklisted card.
	psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x78, 1}
	tid := citycard.TerminalID{0x31, 0x50, 0, 0, 0x78, 1}
	p := w.vendor.NewPSAM(psamID)
	refs := []keys.Ref{{Issuer: w.issuer, Type: keys.KeyPurchase, Version: 1}, {Issuer: w.issuer, Type: keys.KeyMaintenance, Version: 1}}
	if err := terminal.ProvisionPSAM(w.store, p, tid, terminal.PSAMKeys{Operator: w.issuer, RecordKeyVersion: 1, Issuers: refs}, 1); err != nil {
		t.Fatal(err)
	}
	local, cities := blacklist.New(nil, nil), &terminal.Cities{}
	tm, err := terminal.New(terminal.Config{PSAM: p, PSAMID: psamID, RecordKeyVersion: 1, Mode: terminal.ModePOS, Fare: terminal.FlatFare{},
		Spool: &gateSpool{}, Blacklist: local, Cities: cities, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1, Now: func() time.Time { return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.toks[tid] = "token-interop"
	cl := &Client{BaseURL: f.srv.URL, Terminal: tid, Token: "token-interop"}
	download := func() {
		t.Helper()
		if _, err := cl.SyncBlacklist(ctx, local); err != nil {
			t.Fatal(err)
		}
		if err := cl.SyncCities(ctx, cities); err != nil {
			t.Fatal(err)
		}
	}
	cards := make([]*card.Card, 4)
	for i := range cards {
		ks, err := card.DeriveKeySet(w.store, w.issuer, w.asn(uint32(i+1)), 1)
		if err != nil {
			t.Fatal(err)
		}
		start, _ := citycard.DateTime(w.now.AddDate(-1, 0, 0))
		expiry, _ := citycard.DateTime(w.now.AddDate(3, 0, 0))
		if cards[i], err = card.New(card.Config{Profile: card.ProfileMOHURD, Issuer: w.issuer, ASN: w.asn(uint32(i + 1)), CardType: 1, Start: start, Expiry: expiry,
			KeySets: []card.KeySet{ks}, InitialBalanceFen: 10000, BalanceMaxFen: 200000}); err != nil {
			t.Fatal(err)
		}
	}
	tap := func(i int, want error) {
		t.Helper()
		_, err := tm.Tap(cards[i], 100)
		if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
			t.Fatalf("card %d on %s: %v, want %v", i+1, w.now.Format(time.DateTime), err, want)
		}
	}

	// No city of ours in the list yet: another city's card is refused.
	download()
	tap(0, terminal.ErrCityNotAccepted)

	// 3150 joins today; its issuer lists card 2 from today and card 3
	// from tomorrow; a listing of one of our own cards is not theirs to
	// make.
	sh := interop.City{Code: [2]byte{0x31, 0x50}, Institution: testIssuer, Action: interop.Add, Announced: iday(12, 1), Effective: iday(12, 2), Name: "宁波"}
	imp(interopCTY(t, "CTY-A", sh))
	ours := citycard.IssuerCode(interopOwn)
	blk, err := interop.Encode(&interop.File{Header: interop.Header{Type: interop.FileBlacklist, ID: "BLK-A", Sender: testIssuer, Receiver: interopOwn,
		Day: iday(12, 2), Created: time.Date(2025, 12, 2, 1, 0, 0, 0, citycard.ChinaTime)}, Blacklist: []interop.Listing{
		{Issuer: testIssuer, ASN: w.asn(2), Action: interop.Add, Reason: "01", Effective: iday(12, 2)},
		{Issuer: testIssuer, ASN: w.asn(3), Action: interop.Add, Reason: "03", Effective: iday(12, 3)},
		{Issuer: ours, ASN: citycard.ASN{9: 9}, Action: interop.Add, Reason: "01", Effective: iday(12, 2)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	imp(blk)
	if f.bl.Contains(ours, citycard.ASN{9: 9}) || f.bl.Contains(testIssuer, w.asn(3)) || !f.bl.Contains(testIssuer, w.asn(2)) {
		t.Fatalf("the back office's list after BLK-A: card 2 %v, card 3 %v, ours %v", f.bl.Contains(testIssuer, w.asn(2)), f.bl.Contains(testIssuer, w.asn(3)), f.bl.Contains(ours, citycard.ASN{9: 9}))
	}
	download()
	tap(0, nil)
	tap(1, terminal.ErrBlacklisted) // refused offline, by the terminal's copy
	if _, err := tm.Tap(cards[1], 100); !errors.Is(err, terminal.ErrBlocked) {
		t.Fatalf("card 2 after its refusal: %v, want blocked", err)
	}
	tap(2, nil) // card 3's listing is tomorrow's

	// Tomorrow's feed lists card 3; feeding again changes nothing.
	w.now = w.now.AddDate(0, 0, 1)
	if n, err := x.s.FeedInterop(ctx); err != nil || n != 1 {
		t.Fatalf("the next day's feed: %d changes, %v; want 1", n, err)
	}
	if n, err := x.s.FeedInterop(ctx); err != nil || n != 0 {
		t.Fatalf("feeding again: %d changes, %v; want none", n, err)
	}
	download()
	tap(2, terminal.ErrBlacklisted)

	// 3150 leaves on 2025-12-05, announced on the 3rd: the terminal,
	// not downloading again, accepts its cards to the 4th's end and
	// refuses them from the 5th.
	del := sh
	del.Action, del.Announced, del.Effective = interop.Remove, iday(12, 3), iday(12, 5)
	imp(interopCTY(t, "CTY-B", del))
	download()
	w.now = time.Date(2025, 12, 4, 23, 59, 59, 0, citycard.ChinaTime)
	tap(3, nil)
	w.now = time.Date(2025, 12, 5, 0, 0, 0, 0, citycard.ChinaTime)
	tap(3, terminal.ErrCityNotAccepted)
	tap(0, terminal.ErrCityNotAccepted)

	// Our staff list card 4 themselves (a fraud seen here); the issuer
	// then delists cards 2 and 4 (BLK-B): the feed lifts its own listing
	// of card 2 and leaves our staff's of card 4.
	if _, err := f.bl.Set(ctx, blacklist.Card{Issuer: testIssuer, ASN: w.asn(4)}, true, "fraud seen at our gates", "staff:ann"); err != nil {
		t.Fatal(err)
	}
	blkB, err := interop.Encode(&interop.File{Header: interop.Header{Type: interop.FileBlacklist, ID: "BLK-B", Sender: testIssuer, Receiver: interopOwn,
		Day: iday(12, 5), Created: time.Date(2025, 12, 5, 1, 0, 0, 0, citycard.ChinaTime)}, Blacklist: []interop.Listing{
		{Issuer: testIssuer, ASN: w.asn(2), Action: interop.Remove, Reason: "01", Effective: iday(12, 5)},
		{Issuer: testIssuer, ASN: w.asn(4), Action: interop.Remove, Reason: "01", Effective: iday(12, 5)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	imp(blkB)
	if _, err := x.s.FeedInterop(ctx); err != nil {
		t.Fatal(err)
	}
	if f.bl.Contains(testIssuer, w.asn(2)) {
		t.Error("card 2 after its issuer delisted it: still listed, want the feed's listing lifted")
	}
	if by, on := f.bl.ListedBy(blacklist.Card{Issuer: testIssuer, ASN: w.asn(4)}); !on || by != "staff:ann" {
		t.Errorf("card 4 after its issuer delisted it: listed %v by %q, want our staff's listing kept", on, by)
	}
}

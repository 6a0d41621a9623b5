package api

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/terminal"
)

// canteenDevice sets up the school's canteen POS on one PSAM (its
// application key for the stamp, its purchase key for the debit) and
// one spool, registered as the school's terminal.
func (d *dayCity) canteenDevice(scope uint32) (*terminal.Canteen, *dayDevice) {
	d.t.Helper()
	p, psamID, tid := d.w.psam()
	sp := &gateSpool{}
	now := func() time.Time { return d.w.now }
	g, err := terminal.NewGate(terminal.GateConfig{PSAM: p, PSAMID: psamID, RecordKeyVersion: 1, App: card.AppCampus, Scope: scope, Place: 9,
		Action: apps.Canteen, Spool: sp, Now: now})
	if err != nil {
		d.t.Fatal(err)
	}
	pos, err := terminal.New(terminal.Config{PSAM: p, PSAMID: psamID, RecordKeyVersion: 1, Mode: terminal.ModePOS, Fare: terminal.FlatFare{},
		Spool: sp, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1, Now: now})
	if err != nil {
		d.t.Fatal(err)
	}
	k, err := terminal.NewCanteen(g, pos)
	if err != nil {
		d.t.Fatal(err)
	}
	return k, d.register(&dayDevice{name: "school canteen", pos: pos, id: tid, spool: sp}, psamID, "nb-edu")
}

// uploadAs sends every device's records not yet acknowledged under batch
// IDs of round, and acknowledges them.
func (d *dayCity) uploadAs(round int) {
	d.t.Helper()
	d.uploadAll(func(dev *dayDevice) string { return fmt.Sprintf("canteen-%d-%v", round, dev.id) })
	for _, dev := range d.devices {
		for i := range dev.spool.recs {
			dev.spool.recs[i] = nil
		}
	}
	if _, err := d.ap.o.IndexRecords(context.Background(), AcquireJournal{Journal: d.journal}); err != nil {
		d.t.Fatal(err)
	}
}

// TestCanteenLimitThroughTheDays: the parents set a pupil's daily
// canteen limit of 15.00 through the school's app, the card is written
// at the counter, and the canteen POS holds the pupil to it offline
// (10.00 and 5.00 allowed, exactly the limit; 6.00 between them refused
// canteen_limit, nothing paid). The parents lower it to 10.00 in the
// evening: the school gate still lets the pupil in the next morning (its
// gate version did not move), the canteen holds the card to the 15.00
// its file has (12.00 allowed offline), and the back office flags that
// record canteen_limit once uploaded, the earlier ones not. At the
// card's next online contact the file takes the new limit (the day's
// spend capped at it: one fen more refused), and the next day, after
// midnight in Shanghai, the pupil has 10.00 again. Every record is
// accepted; what the card paid is what was allowed.
func TestCanteenLimitThroughTheDays(t *testing.T) {
	ctx := context.Background()
	d := newDayCity(t, time.Date(2025, 3, 3, 7, 0, 0, 0, citycard.ChinaTime))
	ap, w := d.ap, d.w
	schoolIn := d.gate("school gate in", "nb-edu", card.AppCampus, 7, 1, apps.CheckIn, nil)
	k, _ := d.canteenDevice(7)
	a := ap.issued(t, w.asn(1).String(), 0)
	if code, v := ap.call(t, "POST", "nb-school-7", a.String()+"/grant", `{"valid_from":"20240901","valid_to":"20250731","class":3,"limit":0}`); code != 200 {
		t.Fatalf("grant: %d %v", code, v)
	}
	if code, v := ap.call(t, "POST", "nb-school-7", a.String()+"/canteen-limit", `{"limit_fen":1500}`); code != 200 || v["limit"] != 1500.0 {
		t.Fatalf("the parents' limit: %d %v", code, v)
	}
	pupil := w.card(ap.o, 1, 20000)
	d.sync()
	meal := func(fen uint32, want apps.Reason) {
		t.Helper()
		res, err := k.Tap(pupil, fen)
		if err != nil || res.Reason != want || want == apps.Allowed && res.Purchase.Record.Amount != fen {
			t.Fatalf("%s: a meal of %d fen: %v %v (%s), want %v", w.now.Format("01-02 15:04"), fen, res.Reason, err, res.Detail, want)
		}
	}
	before := pupil.State().BalanceFen

	d.at(7, 30)
	d.tap(schoolIn, pupil, apps.Allowed)
	d.at(12, 0)
	meal(1000, apps.Allowed)
	meal(600, apps.CanteenLimit)
	meal(500, apps.Allowed) // exactly the limit
	meal(1, apps.CanteenLimit)
	d.uploadAs(1)

	d.at(18, 0)
	if code, v := ap.call(t, "POST", "nb-school-7", a.String()+"/canteen-limit", `{"limit_fen":1000}`); code != 200 || v["limit"] != 1000.0 {
		t.Fatalf("the lower limit: %d %v", code, v)
	}
	d.sync()
	w.now = time.Date(2025, 3, 4, 7, 30, 0, 0, citycard.ChinaTime)
	d.tap(schoolIn, pupil, apps.Allowed) // not stale: the canteen limit is not the gate's
	d.at(12, 0)
	meal(1200, apps.Allowed) // the card still holds 15.00
	d.uploadAs(2)

	recs, err := ap.o.Records(ctx, "nb-school-7", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Action == apps.Canteen {
			got = append(got, fmt.Sprintf("%s %d %q", r.Date, r.Uses, r.Flag))
		}
	}
	if s := fmt.Sprint(got); s != `[20250303 1000 "" 20250303 1500 "" 20250304 1200 "canteen_limit"]` {
		t.Errorf("the canteen's records as filed: %s", s)
	}
	code, b := d.srv.do(t, "GET", "/v1/apps/nb-school-7/records", ap.tokens["nb-school-7"], "", nil, nil)
	var page struct {
		Records []struct {
			Action string `json:"action"`
			Uses   uint32 `json:"uses"`
			Flag   string `json:"flag"`
		} `json:"records"`
	}
	if err := json.Unmarshal(b, &page); err != nil || code != 200 {
		t.Fatalf("the school's records: %d %s", code, b)
	}
	flagged := 0
	for _, r := range page.Records {
		if r.Flag != "" {
			flagged++
			if r.Flag != apps.FlagCanteenLimit || r.Action != "canteen" || r.Uses != 1200 {
				t.Errorf("a flagged record: %+v", r)
			}
		}
	}
	if flagged != 1 {
		t.Errorf("%d records flagged, want 1: %s", flagged, b)
	}

	// The next online contact: the new limit, the day's spend capped at it.
	d.at(12, 30)
	w.rewrite(ap.o, pupil)
	if s := pupil.State().Entitlements.Slots[0]; s.Limit != 1000 || s.Uses != 1000 {
		t.Fatalf("the rewritten campus slot: limit %d, spend %d; want 1000 of 1000", s.Limit, s.Uses)
	}
	meal(1, apps.CanteenLimit)
	w.now = time.Date(2025, 3, 4, 16, 0, 0, 0, time.UTC) // 00:00 on the 5th in Shanghai
	meal(1000, apps.Allowed)
	meal(1, apps.CanteenLimit)
	d.uploadAs(3)
	if spent := before - pupil.State().BalanceFen; spent != 1000+500+1200+1000 {
		t.Errorf("the card paid %d fen, want %d", spent, 1000+500+1200+1000)
	}
}

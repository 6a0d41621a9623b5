package api

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// dayCity is the whole-day test's city: the applications' gates and the
// paying terminals (a canteen, a site's ticket office, bike docks), each
// a registered terminal of its operator uploading over HTTP to the
// back office, whose acquisition verifies with the world's keys.
type dayCity struct {
	t       *testing.T
	ap      *appsFix
	w       *gateWorld
	reg     acquire.TerminalMap
	journal *acquire.MemJournal
	srv     *fixture // the fixture served with the city's acquisition
	devices []*dayDevice
}

// dayDevice is a terminal of the city: a gate (with its copy of the gate
// versions) or a paying terminal.
type dayDevice struct {
	name   string
	gate   *worldGate
	vs     *terminal.MinVersions
	app    card.Application
	scope  uint32
	pos    *terminal.Terminal
	dock   *terminal.BikeDock
	id     citycard.TerminalID
	spool  *gateSpool
	client *Client
}

func newDayCity(t *testing.T, start time.Time) *dayCity {
	t.Helper()
	ctx := context.Background()
	ap := withApps(t, withCMS(t, newFixture(t)))
	for _, a := range []apps.App{
		{ID: "nb-gym", Name: "Ningbo Gymnasium", Kind: card.AppVenue, Scope: 3, Party: "nb-sports"},
		{ID: "nb-sites", Name: "Ningbo tourist sites (annual pass)", Kind: card.AppSite, Scope: 1, Party: "nb-tourism"},
		{ID: "nb-parking-12", Name: "Zone 12 parking", Kind: card.AppParking, Scope: 12, Party: "nb-parking"},
		{ID: "nb-bike", Name: "Ningbo public bikes", Kind: card.AppBike, Scope: 3, Party: "nb-bike"},
	} {
		_, tok, err := ap.o.Add(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		ap.tokens[a.ID] = tok
	}
	// Card management tells the grants which cards are registered: the
	// bikes' deposit-free rental is for them only.
	ap.o.WithCards(CMSCards{Store: ap.db.CMS()})
	d := &dayCity{t: t, ap: ap, w: newGateWorld(t, testIssuer, start), reg: acquire.TerminalMap{}, journal: acquire.NewMemJournal()}
	acq, err := acquire.Open(ctx, acquire.Config{Journal: d.journal, Terminals: d.reg, Verifier: d.w.verifier()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acq.Close() })
	d.srv = ap.fixture.with(t, func(s *Server) { s.Acquirer = acq; s.Gates = d.reg })
	return d
}

// register makes the device a registered terminal of operator with its
// token and client.
func (d *dayCity) register(dev *dayDevice, psam citycard.PSAMID, operator string) *dayDevice {
	d.reg[dev.id] = acquire.TerminalInfo{ID: dev.id, PSAM: psam, Operator: operator, OperatorCode: d.w.issuer, Active: true}
	tok := "token-" + dev.id.String()
	d.srv.toks[dev.id] = tok
	dev.client = &Client{BaseURL: d.srv.srv.URL, Terminal: dev.id, Token: tok}
	d.devices = append(d.devices, dev)
	return dev
}

// gate sets up an application gate of operator, holding the gate
// versions (and the blacklist, if bl).
func (d *dayCity) gate(name, operator string, app card.Application, scope, place uint32, a apps.Action, bl terminal.Blacklist) *dayDevice {
	d.t.Helper()
	vs := terminal.NewMinVersions(0)
	g := d.w.gate(app, scope, place, a, bl, vs)
	return d.register(&dayDevice{name: name, gate: g, vs: vs, app: app, scope: scope, id: g.id, spool: g.spool}, g.psam, operator)
}

// terminal sets up a paying terminal of operator.
func (d *dayCity) terminal(name, operator string, mode terminal.Mode, network uint16, line, station uint32, f terminal.Fare) *dayDevice {
	d.t.Helper()
	p, psamID, tid := d.w.psam()
	sp := &gateSpool{}
	tm, err := terminal.New(terminal.Config{PSAM: p, PSAMID: psamID, RecordKeyVersion: 1, Mode: mode, Network: network, Line: line, Station: station,
		Fare: f, Spool: sp, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1, Now: func() time.Time { return d.w.now }})
	if err != nil {
		d.t.Fatal(err)
	}
	return d.register(&dayDevice{name: name, pos: tm, id: tid, spool: sp}, psamID, operator)
}

// dock sets up a bike dock of nb-bike (zone 3) at stop of the sample
// feed's bike network (3, route 1): its gate and its POS on one PSAM,
// one spool, a bike overdue after outMax.
func (d *dayCity) dock(name string, stop uint32, engine *terminal.FareEngine, outMax time.Duration) *dayDevice {
	d.t.Helper()
	p, psamID, tid := d.w.psam()
	sp := &gateSpool{}
	vs := terminal.NewMinVersions(0)
	now := func() time.Time { return d.w.now }
	g, err := terminal.NewGate(terminal.GateConfig{PSAM: p, PSAMID: psamID, RecordKeyVersion: 1, App: card.AppBike, Scope: 3, Place: stop,
		Action: apps.Hire, Spool: sp, Versions: vs, Now: now})
	if err != nil {
		d.t.Fatal(err)
	}
	pos, err := terminal.New(terminal.Config{PSAM: p, PSAMID: psamID, RecordKeyVersion: 1, Mode: terminal.ModePOS, Network: 3, Line: 1, Station: stop,
		Fare: terminal.FlatFare{}, Spool: sp, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1, Now: now})
	if err != nil {
		d.t.Fatal(err)
	}
	k, err := terminal.NewBikeDock(terminal.BikeConfig{Gate: g, POS: pos, Fare: engine, OutMax: outMax})
	if err != nil {
		d.t.Fatal(err)
	}
	return d.register(&dayDevice{name: name, gate: &worldGate{Gate: g, id: tid, psam: psamID, spool: sp}, vs: vs, app: card.AppBike, scope: 3,
		dock: k, id: tid, spool: sp}, psamID, "nb-bike")
}

// bike hires (or returns, hire false) at dev and checks the reason.
func (d *dayCity) bike(dev *dayDevice, cd *card.Card, hire bool, want apps.Reason) terminal.BikeResult {
	d.t.Helper()
	tap := dev.dock.Return
	if hire {
		tap = dev.dock.Hire
	}
	res, err := tap(cd)
	if err != nil || res.Reason != want {
		d.t.Fatalf("%s at %s: %v %v (%s), want %v", dev.name, d.w.now.Format("15:04"), res.Reason, err, res.Detail, want)
	}
	return res
}

// sync brings every gate's versions up to the back office's, as gates
// do with their parameters.
func (d *dayCity) sync() {
	d.t.Helper()
	for _, dev := range d.devices {
		if dev.gate != nil {
			if _, err := dev.client.SyncGateVersions(context.Background(), dev.app, dev.scope, dev.vs); err != nil {
				d.t.Fatalf("%s: %v", dev.name, err)
			}
		}
	}
}

// follow carries card management's lifecycle to the applications.
func (d *dayCity) follow() {
	d.t.Helper()
	if _, q, err := d.ap.o.Follow(context.Background(), CMSLifecycle{Store: d.ap.db.CMS()}); err != nil || q != 0 {
		d.t.Fatalf("Follow: %v, %d quarantined", err, q)
	}
}

// at moves the clock to hh:mm of the day.
func (d *dayCity) at(hh, mm int) {
	n := d.w.now
	d.w.now = time.Date(n.Year(), n.Month(), n.Day(), hh, mm, 0, 0, citycard.ChinaTime)
}

func (d *dayCity) tap(dev *dayDevice, cd *card.Card, want apps.Reason) {
	d.t.Helper()
	res, err := dev.gate.Tap(cd)
	if err != nil || res.Reason != want {
		d.t.Fatalf("%s at %s: %v %v (%s), want %v", dev.name, d.w.now.Format("15:04"), res.Reason, err, res.Detail, want)
	}
}

func (d *dayCity) pay(dev *dayDevice, cd *card.Card, amountFen uint32) terminal.Result {
	d.t.Helper()
	res, err := dev.pos.Tap(cd, amountFen)
	if err != nil || res.Grey {
		d.t.Fatalf("%s at %s: %v (grey %v)", dev.name, d.w.now.Format("15:04"), err, res.Grey)
	}
	return res
}

// upload sends every device's records in one batch each and checks that
// every record was accepted (or flagged: the records' dates are far from
// the upload's clock), none rejected or duplicate.
func (d *dayCity) upload() (purchasesFen int64) {
	d.t.Helper()
	return d.uploadAll(func(dev *dayDevice) string { return "day-" + dev.id.String() })
}

// uploadAll is upload, each device's batch under the ID batchID gives it.
func (d *dayCity) uploadAll(batchID func(dev *dayDevice) string) (purchasesFen int64) {
	d.t.Helper()
	for _, dev := range d.devices {
		recs := dev.spool.pending()
		if len(recs) == 0 {
			continue
		}
		var sum int64
		for _, raw := range recs {
			r, err := record.DecodeBinary(raw)
			if err != nil {
				d.t.Fatal(err)
			}
			sum += int64(r.Amount)
		}
		ans, err := dev.client.Upload(context.Background(), terminal.UploadBatch{ID: batchID(dev), Records: recs, AmountFen: sum})
		if err != nil {
			d.t.Fatalf("%s: upload: %v", dev.name, err)
		}
		if ans.Accepted+ans.Flagged != len(recs) || ans.Rejected != 0 || ans.Duplicates != 0 {
			d.t.Fatalf("%s: %d records: %+v", dev.name, len(recs), ans)
		}
		purchasesFen += sum
	}
	return purchasesFen
}

func (d *dayCity) report(app string) string {
	d.t.Helper()
	counts, err := d.ap.o.Report(context.Background(), app, d.today())
	if err != nil {
		d.t.Fatal(err)
	}
	return fmt.Sprint(counts)
}

func (d *dayCity) today() citycard.BCDDate {
	day, _ := citycard.DateTime(d.w.now)
	return day
}

// TestAppsWholeDay (issue 11: "a whole-day test with every application
// running on virtual cards and terminals"): one day of the city on
// virtual cards and terminals, each terminal uploading its records over
// HTTP: pupils through the school gates and the canteen, a citizen at
// the library, the gymnasium, two tourist sites on the annual pass and
// a parking permit and public bikes (terminal.BikeDock: the citizen's
// registered card rents deposit-free, pays the time fare of the fare
// engine on the sample feed at the return, and a bike kept past the
// docks' limit, 2 hours here, pays the network's maximum fare at the
// next hire, which closes it first; an anonymous card is refused the
// bike grant and so the bike), tourists paying a site's ticket
// (students half, seniors free: terminal.Ticket). At 10:00 a pupil's
// card is reported lost: the lifecycle blocks its grant, the gates told
// the new version refuse it (stale; blacklisted where the gate holds
// the blacklist); at 10:30 it is replaced, the new card inherits the
// grant and, written at the counter, passes. At the end every record is
// accepted, each application's report counts its own taps, and what the
// cards paid is what the terminals charged.
func TestAppsWholeDay(t *testing.T) {
	ctx := context.Background()
	d := newDayCity(t, time.Date(2025, 3, 3, 7, 0, 0, 0, citycard.ChinaTime))
	ap, w := d.ap, d.w
	bl := ap.fixture.bl
	schoolIn := d.gate("school gate in", "nb-edu", card.AppCampus, 7, 1, apps.CheckIn, bl)
	schoolOut := d.gate("school gate out", "nb-edu", card.AppCampus, 7, 2, apps.CheckOut, nil)
	loan := d.gate("library kiosk: loans", "nb-library", card.AppLibrary, 1, 1, apps.Loan, nil)
	ret := d.gate("library kiosk: returns", "nb-library", card.AppLibrary, 1, 2, apps.Return, nil)
	gym := d.gate("gymnasium turnstile", "nb-sports", card.AppVenue, 3, 1, apps.Admit, nil)
	site5 := d.gate("site 5 gate", "nb-tourism", card.AppSite, 1, 5, apps.Admit, nil)
	site6 := d.gate("site 6 gate", "nb-tourism", card.AppSite, 1, 6, apps.Admit, nil)
	parkIn := d.gate("zone 12 barrier in", "nb-parking", card.AppParking, 12, 1, apps.CheckIn, nil)
	parkOut := d.gate("zone 12 barrier out", "nb-parking", card.AppParking, 12, 2, apps.CheckOut, nil)
	canteen := d.terminal("school canteen", "nb-edu", terminal.ModePOS, 0, 0, 0, terminal.FlatFare{})
	// Site 5's ticket lane: 50.00, students half, seniors free.
	tickets := d.terminal("site 5 ticket lane", "nb-tourism", terminal.ModePOS, 0, 0, 0, terminal.Ticket{FullFen: 5000, PayPercent: map[uint8]uint32{1: 50, 2: 0}})
	tab, err := fare.Load(os.DirFS("../fare/testdata/ningbo"))
	if err != nil {
		t.Fatal(err)
	}
	engine := terminal.NewFareEngine(tab)
	gulou := d.dock("bike dock Gulou", 3001, engine, 2*time.Hour)
	dmk := d.dock("bike dock Dongmenkou", 3002, engine, 2*time.Hour)

	// The cards, known to card management, and their grants.
	type person struct {
		n      uint32
		grants map[string]string // application: the grant's body
	}
	year := `{"valid_from":"20250301","valid_to":"20260228","class":0,"limit":%d}`
	pupilGrant := `{"valid_from":"20240901","valid_to":"20250731","class":3,"limit":0}`
	people := []person{
		{1, map[string]string{"nb-school-7": pupilGrant}}, // a pupil
		{2, map[string]string{"nb-library": fmt.Sprintf(year, 5), "nb-gym": fmt.Sprintf(year, 8), "nb-sites": fmt.Sprintf(year, 0), "nb-parking-12": fmt.Sprintf(year, 0),
			"nb-bike": fmt.Sprintf(year, 0)}}, // a citizen
		{3, nil}, // a tourist: pays
		{4, map[string]string{"nb-school-7": pupilGrant}}, // a pupil who loses the card
	}
	cards := map[uint32]*card.Card{}
	for _, p := range people {
		a := ap.issued(t, w.asn(p.n).String(), 0)
		for app, body := range p.grants {
			if code, v := ap.call(t, "POST", app, a.String()+"/grant", body); code != 200 {
				t.Fatalf("card %d, %s: %d %v", p.n, app, code, v)
			}
		}
		cards[p.n] = w.card(ap.o, p.n, 20000)
	}
	pupil, citizen, tourist, careless := cards[1], cards[2], cards[3], cards[4]
	// An anonymous card (the transit product, no cardholder): no
	// deposit-free rental.
	anon := ap.anonymous(t, w.asn(6).String())
	if code, v := ap.call(t, "POST", "nb-bike", anon.String()+"/grant", fmt.Sprintf(year, 0)); code != 409 {
		t.Fatalf("the bike grant on an anonymous card: %d %v, want 409", code, v)
	}
	stranger := w.card(ap.o, 6, 20000)
	cards[6] = stranger
	d.sync()
	before := map[uint32]int64{}
	for n, cd := range cards {
		before[n] = cd.State().BalanceFen
	}

	d.at(7, 30)
	d.tap(schoolIn, pupil, apps.Allowed)
	d.tap(schoolIn, careless, apps.Allowed)
	d.tap(schoolIn, tourist, apps.WrongApplication)
	d.at(8, 0)
	d.tap(parkIn, citizen, apps.Allowed)
	d.tap(parkIn, citizen, apps.Limit) // one vehicle a permit

	// 10:00: the careless pupil's card reported lost at a counter.
	d.at(10, 0)
	by := cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}
	if _, err := ap.m.Move(ctx, by, testIssuer, w.asn(4), cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	d.follow()
	d.sync()
	d.tap(schoolIn, careless, apps.Blacklisted) // the gate holds the blacklist
	d.tap(schoolOut, careless, apps.Stale)      // this one the versions only
	// 10:30: replaced; the new card inherits the grant, written at the
	// counter from the back office's file.
	d.at(10, 30)
	if _, err := ap.m.Replace(ctx, by, "day-replace-4", testIssuer, w.asn(4), w.asn(5), cms.Channel{Type: cms.Cash, Party: testParty}); err != nil {
		t.Fatal(err)
	}
	d.follow()
	d.sync()
	replacement := w.card(ap.o, 5, 10000)
	before[5] = replacement.State().BalanceFen
	if g, err := ap.o.Entitlement(ctx, "nb-school-7", apps.CardRef{Issuer: testIssuer, ASN: w.asn(5)}); err != nil || g.State != apps.Active || g.Slot.Class != 3 {
		t.Fatalf("the replacement's grant: %+v, %v; want the pupil's class 3, active", g, err)
	}
	d.tap(schoolOut, careless, apps.Stale)

	d.at(12, 0)
	d.pay(canteen, pupil, 1200)
	d.pay(canteen, replacement, 900)
	d.at(12, 30)
	d.tap(loan, citizen, apps.Allowed)
	d.tap(loan, citizen, apps.Allowed)
	d.tap(loan, pupil, apps.WrongApplication) // never enabled for the library
	d.tap(gym, citizen, apps.Allowed)
	d.at(14, 0)
	d.tap(site5, citizen, apps.Allowed)
	d.tap(site6, citizen, apps.Allowed)
	d.tap(site5, citizen, apps.Limit) // each site once a day
	d.tap(site5, tourist, apps.WrongApplication)
	d.pay(tickets, tourist, 0) // the tourist buys the ticket instead: 50.00
	student := w.riderCard(ap.o, 7, 20000, 1)
	senior := w.riderCard(ap.o, 8, 20000, 2)
	before[7], before[8] = 20000, 20000
	if r := d.pay(tickets, student, 0); r.Record.Amount != 2500 || r.Record.FareFull != 5000 {
		t.Errorf("a student's ticket: %d fen of %d, want 2500 of 5000 (%s)", r.Record.Amount, r.Record.FareFull, r.Explanation)
	}
	if r := d.pay(tickets, senior, 0); r.Record.Amount != 0 {
		t.Errorf("a senior's ticket: %d fen, want free (%s)", r.Record.Amount, r.Explanation)
	}
	// Bikes: the citizen hires deposit-free, one bike at a time, and
	// pays the time fare at the return (bike_time: the first hour free,
	// 1.00 an hour after: 90 minutes, 1.00).
	d.at(14, 40)
	d.bike(gulou, citizen, true, apps.Allowed)
	d.bike(dmk, citizen, true, apps.Limit)
	d.bike(gulou, stranger, true, apps.WrongApplication)
	d.bike(gulou, tourist, true, apps.WrongApplication)
	d.at(16, 10)
	ride := d.bike(dmk, citizen, false, apps.Allowed)
	if !ride.Paid || ride.Purchase.Record.Amount != 100 || ride.Overdue {
		t.Errorf("the 90-minute ride: paid %v %d fen overdue %v (%s), want 100", ride.Paid, ride.Purchase.Record.Amount, ride.Overdue, ride.Charge.Explanation)
	}
	// A second bike, kept past the docks' 2 hours: the next hire pays
	// the network's maximum fare for it (fare_networks.txt: bike_max
	// 50.00), closing it first, then hires.
	d.at(16, 20)
	d.bike(dmk, citizen, true, apps.Allowed)
	d.at(18, 21)
	unreturned := d.bike(gulou, citizen, true, apps.Allowed)
	if unreturned.Closed == nil || !unreturned.Overdue || unreturned.Purchase.Record.Amount != 5000 {
		t.Errorf("the hire after a bike kept too long: closed %v overdue %v %d fen (%s), want 5000", unreturned.Closed != nil, unreturned.Overdue,
			unreturned.Purchase.Record.Amount, unreturned.Charge.Explanation)
	}
	d.at(16, 0)
	d.tap(schoolOut, pupil, apps.Allowed)
	d.tap(schoolOut, replacement, apps.Allowed)
	d.at(17, 0)
	d.tap(ret, citizen, apps.Allowed)
	d.tap(parkOut, citizen, apps.Allowed)

	paid := d.upload()
	spent := int64(0)
	for n, cd := range cards {
		spent += before[n] - cd.State().BalanceFen
	}
	spent += before[5] - replacement.State().BalanceFen
	spent += before[7] - student.State().BalanceFen + before[8] - senior.State().BalanceFen
	if want := int64(1200 + 900 + 5000 + 2500 + 100 + 5000); paid != want || spent != want {
		t.Fatalf("the terminals charged %d fen, the cards paid %d; want %d", paid, spent, want)
	}
	if _, err := ap.o.IndexRecords(ctx, AcquireJournal{Journal: d.journal}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ app, want string }{
		// Taps and distinct cards by action (the lost card's refused taps
		// wrote nothing).
		{"nb-school-7", "[{check-in 2 2} {check-out 2 2}]"},
		{"nb-library", "[{loan 2 1} {return 1 1}]"},
		{"nb-gym", "[{admission 1 1}]"},
		{"nb-sites", "[{admission 2 1}]"},
		{"nb-parking-12", "[{check-in 1 1} {check-out 1 1}]"},
		{"nb-bike", "[{return 2 1} {hire 3 1}]"},
	} {
		if got := d.report(c.app); got != c.want {
			t.Errorf("%s's report: %s, want %s", c.app, got, c.want)
		}
	}
	// The school (no webhook) polls its outbox: the careless pupil's
	// loss and replacement as they were followed, then, for the parents,
	// one event a check-in and a check-out, each naming its card (the
	// records filed once the gates uploaded).
	code, b := d.srv.do(t, "GET", "/v1/apps/nb-school-7/events?limit=10", ap.tokens["nb-school-7"], "", nil, nil)
	var evs struct {
		Events []struct {
			Type string `json:"type"`
			Body struct {
				ASN    string `json:"asn"`
				Action string `json:"action"`
				Time   string `json:"time"`
			} `json:"body"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &evs); err != nil || code != 200 {
		t.Fatalf("the school's events: %d %s", code, b)
	}
	var told []string
	for _, e := range evs.Events {
		told = append(told, e.Type+" "+e.Body.ASN[len(e.Body.ASN)-1:]+" "+e.Body.Time)
	}
	if got := fmt.Sprint(told); got != "[card.lost 4  card.replaced 4  campus.check_in 1 073000 campus.check_in 4 073000 campus.check_out 1 160000 campus.check_out 5 160000]" {
		t.Errorf("the parents were told %s", got)
	}
	// The bike hired at 18:21 is out: not overdue at 20:21, overdue a
	// second later.
	for _, c := range []struct {
		at      time.Time
		overdue bool
	}{{time.Date(2025, 3, 3, 20, 21, 0, 0, citycard.ChinaTime), false}, {time.Date(2025, 3, 3, 20, 21, 1, 0, citycard.ChinaTime), true}} {
		rs, err := ap.o.OpenRentals(ctx, "nb-bike", c.at, 2*time.Hour)
		if err != nil || len(rs) != 1 || rs[0].Card.ASN != w.asn(2) || rs[0].Dock != 3001 || rs[0].Overdue != c.overdue {
			t.Errorf("the bikes out at %s: %+v, %v; want the citizen's from Gulou, overdue %v", c.at.Format("15:04:05"), rs, err, c.overdue)
		}
	}
	if f := citizen.State().Entitlements; f.Slots[f.Find(card.AppLibrary, 1)].Uses != 1 {
		t.Errorf("the citizen's loans out: %+v, want 1", f.Slots[f.Find(card.AppLibrary, 1)])
	}
}

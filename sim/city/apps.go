package city

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/terminal"
)

// The application systems of the city (apps.go): a school with its
// classes, a sports centre, the school's sports ground open to citizens
// outside school hours, the city library and two tourist sites of one
// site group, each an application registered as data in the back
// office's apps.Office, its party an operator in the registry, its
// gates terminal.Gate on PSAMs holding the application master key,
// spooling to queues on disk and uploading over the same HTTP pipeline
// as every terminal. The sites sell tickets too: an e-purse purchase at
// each site's ticket POS (a terminal of the city, in c.devs), priced
// by rider category.

// The applications, by index into cityApps.apps.
const (
	appSchool = iota
	appVenue
	appGround
	appLibrary
	appSites
	appBike // the public bikes: their gates are the bike docks' (bikes.go)
	appCount
)

// Scopes and times of the applications.
const (
	schoolScope   = 101
	venueScope    = 201
	groundScope   = 202
	libraryScope  = 1
	sitesScope    = 301
	bikeScope     = 401 // the bike operator's zone
	classSize     = 30  // pupils a class
	libraryLimit  = 5   // loans at once
	venueLimit    = 8   // admissions a month
	groundLimit   = 12
	siteTicketFen = 3000 // an adult's ticket; students, seniors 60-69 and the disabled half, seniors 70+ free
)

var (
	schoolOpen  = citycard.BCDTime{0x07, 0x30, 0x00}
	schoolClose = citycard.BCDTime{0x17, 0x00, 0x00}
)

var appDefs = [appCount]struct {
	id, name, party, partyName string
	kind                       card.Application
	scope                      uint32
}{
	appSchool:  {"nb-school-101", "Ningbo No. 101 Middle School", "edu-school-101", "No. 101 Middle School", card.AppCampus, schoolScope},
	appVenue:   {"nb-sports-centre", "City Sports Centre", "sp-centre", "City Sports Centre", card.AppVenue, venueScope},
	appGround:  {"nb-school-101-ground", "No. 101 School Sports Ground", "edu-school-101-ground", "No. 101 School Sports Ground", card.AppVenue, groundScope},
	appLibrary: {"nb-library", "Ningbo Library", "lib-city", "Ningbo Library", card.AppLibrary, libraryScope},
	appSites:   {"nb-sites", "Tianyi Pavilion and Baoguo Temple", "ts-sites", "Tourist sites group", card.AppSite, sitesScope},
	appBike:    {"nb-bikes", "Public bikes", "nb-bike", "Public Bikes", card.AppBike, bikeScope}, // the bike operator's (opBike)
}

// cityApp is one application of the city and its gates.
type cityApp struct {
	idx   int
	op    int                  // its party's operator index
	gates map[gateKey]*appGate // by action and place
	fig   AppFigures
	// stamps are the records its gates stamped: one an allowed tap,
	// two a bike's hire that closed an overdue rental first.
	stamps int64
}

type gateKey struct {
	action apps.Action
	place  uint32
}

// appGate is one application gate: the gate and its device part (queue,
// uploader, link, blacklist), which the city's upload code drives.
type appGate struct {
	dev  *device
	gate *terminal.Gate
	app  *cityApp
	key  gateKey
	mv   *terminal.MinVersions
}

// appHolder is a person holding entitlements on their card (and its
// replacements): what the city expects of their use.
type appHolder struct {
	cur     int32 // the rider of their current card
	has     [appCount]bool
	class   uint16
	loans   int // library loans out
	venue   int // admissions this month at the centre, the ground
	ground  int
	month   int
	siteDay int    // the day of the sites' bits
	sites   uint64 // sites entered that day
	cards   []citycard.ASN
	terms   [appCount]apps.Terms
}

// appRec is the city's truth about one record an application gate
// queued.
type appRec struct {
	hash    uint64
	gate    int32
	holder  int32
	action  apps.Action
	answer  acquire.Verdict
	kept    int32 // journaled ClassApplication
	dups    int32 // journaled duplicate
	other   int32 // journaled in any other class: booked
	rejects int32
	raw     []byte
	bad     uint8 // appGenuine, or what the faults made of it (appsfaults.go)
}

// cityApps is the city's application systems.
type cityApps struct {
	apps  [appCount]*cityApp
	gates []*appGate
	// slotGates are the first gates, which upload at the applications'
	// slots (appUploadMinutes); the bike docks' gates after them upload
	// with their docks, at the devices' slots.
	slotGates int
	tickets   [2]int // the sites' ticket POS (device indices)
	holders   []*appHolder
	byRider   map[int32]int32 // rider -> holder
	recs      []appRec
	byHash    map[uint64]int32
	// expected attendance: a card's day's first check-in, if any
	att          map[attKey]citycard.BCDTime
	curGate      *appGate
	curHolder    int32
	pending      []appEvent // the day's events not yet played
	taps         int64
	copyBad      int64 // records of a copy answered other than duplicate
	replacedTaps int64
	frng         *rand.Rand    // the faults' (appsfaults.go)
	hooks        *hookReceiver // (appshooks.go)
}

type attKey struct {
	asn citycard.ASN
	day citycard.BCDDate
}

// AppFigures are one application's figures in the report.
type AppFigures struct {
	Holders  int    `json:"holders"`
	Taps     int64  `json:"taps"`
	Allowed  int64  `json:"allowed"`
	Refusals counts `json:"refusals"`
	Records  int64  `json:"records_filed"`     // filed under the application by the back office (apps.Office.Records)
	Tickets  int64  `json:"tickets,omitempty"` // tickets bought with the e-purse at the sites' POS
}

// appFile is the application key a card of ours is personalized with
// (the application master key diversified by its ASN, so that a
// service point can write an entitlement file on it later) and the file
// it is issued with: empty, signed under that key as the issuer
// personalizes it, so that a gate refuses it wrong_application (no slot
// of its application), not forged. Nil, nil without the applications.
func (c *City) appFile(asn citycard.ASN) (*card.AppKey, *card.Entitlements) {
	if c.apps == nil {
		return nil, nil
	}
	f := card.Entitlements{KeyVersion: 1}
	k, err := apps.SignGrants(c.store, Issuer, asn, &f)
	if err != nil {
		c.violate("card %v: its application key: %v", asn, err)
		return nil, nil
	}
	return &k, &f
}

// buildApps makes the application systems' parties, keys, gates and
// ticket POS: after the city's terminals, before its cards.
func (c *City) buildApps(ctx context.Context, reg *registry.Registry) error {
	const op = "city.buildApps"
	rng := rngFor(c.cfg.Seed, "apps-keys")
	at := c.cfg.Start.AddDate(-5, 0, 0)
	if _, err := c.store.Put(keys.Ref{Issuer: Issuer, Type: keys.KeyApplication, Version: 1}, c.cfg.Alg, randomKey(rng), "simulated", at); err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	a := &cityApps{byRider: map[int32]int32{}, byHash: map[uint64]int32{}, att: map[attKey]citycard.BCDTime{}, curHolder: -1}
	c.apps = a
	for i, d := range appDefs {
		if i == appBike { // the bike operator is a party already
			a.apps[i] = &cityApp{idx: i, op: opBike, gates: map[gateKey]*appGate{}, fig: AppFigures{Refusals: counts{}}}
			continue
		}
		opi := len(c.operators)
		code := operatorCode(opi)
		if _, err := c.store.Put(keys.Ref{Issuer: code, Type: keys.KeyRecord, Version: 1}, c.cfg.Alg, randomKey(rng), "simulated", at); err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		sector := registry.SectorOther
		if i == appSites {
			sector = registry.SectorMerchant
		}
		c.operators = append(c.operators, operator{id: d.party, code: code, sector: sector, name: d.partyName})
		if _, err := reg.AddParty(ctx, registry.Party{ID: d.party, Type: registry.PartyOperator, Code: code, Sector: sector,
			Name: d.partyName, SettlementAccount: settlementAccount(1, opi)}); err != nil {
			return err
		}
		a.apps[i] = &cityApp{idx: i, op: opi, gates: map[gateKey]*appGate{}, fig: AppFigures{Refusals: counts{}}}
	}
	type g struct {
		app    int
		action apps.Action
		place  uint32
	}
	gs := []g{{appSchool, apps.CheckIn, 1}, {appSchool, apps.CheckOut, 1}, {appVenue, apps.Admit, 1}, {appGround, apps.Admit, 1},
		{appLibrary, apps.Loan, 1}, {appLibrary, apps.Return, 1}, {appSites, apps.Admit, 1}, {appSites, apps.Admit, 2}}
	for n, x := range gs {
		if err := c.addAppGate(ctx, reg, n, a.apps[x.app], x.action, x.place); err != nil {
			return err
		}
	}
	a.slotGates = len(a.gates)
	dr := rngFor(c.cfg.Seed, "apps-devices")
	if err := c.buildDocks(ctx, reg, dr); err != nil {
		return err
	}
	for s := range a.tickets {
		d, err := c.addDevice(ctx, reg, dr, devPOS, a.apps[appSites].op, sitesScope, uint32(s+1), "")
		if err != nil {
			return err
		}
		a.tickets[s] = d.idx
	}
	c.appSkew()
	return nil
}

// addAppGate commissions gate n of application ca: a blank PSAM
// personalized with the operator's record key and our application
// master key, its queue, its registry entry and token.
func (c *City) addAppGate(ctx context.Context, reg *registry.Registry, n int, ca *cityApp, action apps.Action, place uint32) error {
	def := appDefs[ca.idx]
	d := &device{idx: -1 - n, kind: devPOS, op: ca.op, line: def.scope, station: place,
		id:     citycard.TerminalID{0x31, 0x50, 0x30, 0x00, byte(n >> 8), byte(n)},
		psamID: citycard.PSAMID{0x31, 0x50, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, byte(n >> 8), byte(n)},
		bl:     blacklist.New(nil, c.now),
	}
	d.psam = c.vendor.NewPSAM(d.psamID)
	pk := terminal.PSAMKeys{Operator: c.operators[ca.op].code, RecordKeyVersion: 1,
		Issuers: []keys.Ref{{Issuer: Issuer, Type: keys.KeyApplication, Version: 1}}}
	if err := terminal.ProvisionPSAM(c.store, d.psam, d.id, pk, 1); err != nil {
		return err
	}
	q, err := terminal.OpenQueue(filepath.Join(c.cfg.Dir, d.id.String()+".queue"))
	if err != nil {
		return err
	}
	d.queue = q
	ag := &appGate{dev: d, app: ca, key: gateKey{action, place}, mv: terminal.NewMinVersions(0)}
	var ground *apps.Ground
	if ca.idx == appGround {
		ground = &apps.Ground{School: schoolScope, Open: schoolOpen, Close: schoolClose}
	}
	ag.gate, err = terminal.NewGate(terminal.GateConfig{PSAM: d.psam, PSAMID: d.psamID, RecordKeyVersion: 1, App: def.kind, Scope: def.scope,
		Place: place, Action: action, Spool: &appSpool{c: c, g: ag}, Blacklist: d.bl, Versions: ag.mv, Ground: ground, Now: func() time.Time { return c.now().Add(d.skew) }})
	if err != nil {
		return err
	}
	if _, err := reg.AddTerminal(ctx, registry.Terminal{ID: d.id, PSAM: d.psamID, Operator: c.operators[ca.op].id,
		Type: registry.TerminalGate, Line: def.scope, Station: place}); err != nil {
		return err
	}
	token, err := reg.IssueCredential(ctx, d.id)
	if err != nil {
		return err
	}
	d.link, d.gate = c.bo.Link(d.id, token), ag
	d.up = &terminal.Uploader{Terminal: d.id, Queue: q, Sender: &appSender{c: c, g: ag}, MaxBatch: uploadBatch,
		BackoffMin: time.Millisecond, BackoffMax: time.Millisecond,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	ca.gates[ag.key] = ag
	c.apps.gates = append(c.apps.gates, ag)
	return nil
}

// grantApps adds the applications to the back office and grants the
// entitlements, as the school, the library, the centre and the sites'
// counters do: each holder's grants in the back office, then the
// entitlement file written on the card at the counter
// (apps.Office.Rewrite: the file as the back office has it, signed
// under the card's application key).
func (c *City) grantApps(ctx context.Context) error {
	a := c.apps
	if a == nil {
		return nil
	}
	o, _ := c.bo.Apps()
	c.startHooks()
	for i, d := range appDefs {
		app, _, err := o.Add(ctx, apps.App{ID: d.id, Name: d.name, Kind: d.kind, Scope: d.scope, Party: d.party, WebhookURL: a.hooks.url(i)})
		if err != nil {
			return fmt.Errorf("city: adding application %s: %w", d.id, err)
		}
		a.hooks.secrets[d.id] = app.WebhookSecret
	}
	rng := rngFor(c.cfg.Seed, "apps-holders")
	day := func(t time.Time) citycard.BCDDate { d, _ := citycard.DateTime(t); return d }
	start := c.cfg.Start
	year := apps.Terms{ValidFrom: day(start.AddDate(0, 0, -60)), ValidTo: day(start.AddDate(1, 0, -1))}
	school := apps.Terms{ValidFrom: day(start.AddDate(0, -3, 0)), ValidTo: day(start.AddDate(0, 0, 60+c.cfg.Days))}
	pupils := 0
	for ri, r := range c.riders {
		if r.issuer != 0 {
			continue
		}
		h := &appHolder{cur: int32(ri), month: -1, siteDay: -1}
		if r.persona == pStudent && r.registered && rng.IntN(100) < 60 {
			h.has[appSchool] = true
			h.class = uint16(1 + pupils/classSize)
			pupils++
			h.terms[appSchool] = school
			h.terms[appSchool].Class = h.class
			if rng.IntN(100) < 30 {
				h.has[appGround] = true
			}
		}
		if r.registered && r.persona != pStudent && rng.IntN(100) < 4 {
			h.has[appLibrary] = true
		}
		if (r.persona == pMetro || r.persona == pBus || r.persona == pDriver) && rng.IntN(100) < 3 {
			h.has[appVenue] = true
		}
		if r.persona != pStudent && rng.IntN(100) < 2 {
			h.has[appGround] = true
		}
		if rng.IntN(1000) < 15 {
			h.has[appSites] = true
		}
		if r.bike && r.registered && rng.IntN(100) < bikeGrantPct {
			h.has[appBike] = true // deposit-free rental: registered cards only
		}
		any := false
		for k := range h.has {
			if !h.has[k] {
				continue
			}
			any = true
			switch k {
			case appLibrary:
				h.terms[k] = year
				h.terms[k].Limit = libraryLimit
			case appVenue:
				h.terms[k] = year
				h.terms[k].Limit = venueLimit
			case appGround:
				h.terms[k] = year
				h.terms[k].Limit = groundLimit
			case appSites, appBike:
				h.terms[k] = year
			}
		}
		if !any {
			continue
		}
		ref := apps.CardRef{Issuer: Issuer, ASN: r.asn}
		for k := range h.has {
			if h.has[k] {
				if _, _, err := o.Grant(ctx, appDefs[k].id, ref, h.terms[k]); err != nil {
					return fmt.Errorf("city: granting %s on card %v: %w", appDefs[k].id, r.asn, err)
				}
				a.apps[k].fig.Holders++
			}
		}
		if err := c.writeFile(ctx, r, nil); err != nil {
			return err
		}
		h.cards = append(h.cards, r.asn)
		a.byRider[int32(ri)] = int32(len(a.holders))
		a.holders = append(a.holders, h)
	}
	return nil
}

// writeFile writes card r's entitlement file at a counter or kiosk: the
// file the back office has for it now, its use carried from onCard.
func (c *City) writeFile(ctx context.Context, r *rider, onCard *card.Entitlements) error {
	o, _ := c.bo.Apps()
	f, _, err := o.Rewrite(ctx, c.store, apps.CardRef{Issuer: Issuer, ASN: r.asn}, onCard, 1)
	if err != nil {
		return fmt.Errorf("city: the entitlement file of card %v: %w", r.asn, err)
	}
	if err := r.card.SetEntitlements(f); err != nil {
		return fmt.Errorf("city: writing the entitlement file on card %v: %w", r.asn, err)
	}
	return nil
}

// appHandedOver is the counter's part of a replacement's hand-over: the
// grants carried to the new card (apps.Office.Follow, as serve follows
// card management's audit log) and its entitlement file written, new
// (its counter and use start again). The holder travels on it from now.
func (c *City) appHandedOver(ri int32) {
	a := c.apps
	if a == nil {
		return
	}
	r := c.riders[ri]
	hi, ok := a.byRider[r.replaces]
	if !ok {
		return
	}
	ctx := context.Background()
	o, lc := c.bo.Apps()
	if _, _, err := o.Follow(ctx, lc); err != nil {
		c.violate("card %v: following card management's audit log: %v", r.asn, err)
		return
	}
	if err := c.writeFile(ctx, r, nil); err != nil {
		c.violate("%v", err)
		return
	}
	h := a.holders[hi]
	h.cur = ri
	h.cards = append(h.cards, r.asn)
	// The new file's loans out: the old card's the back office knew
	// (its last stamp filed), carried; the other uses start again.
	f, err := o.File(ctx, apps.CardRef{Issuer: Issuer, ASN: r.asn}, 1)
	if err != nil {
		c.violate("card %v: the entitlement file: %v", r.asn, err)
		return
	}
	h.loans = 0
	if i := f.Find(card.AppLibrary, libraryScope); i >= 0 {
		h.loans = int(f.Slots[i].Uses)
	}
	h.venue, h.ground, h.sites, h.month, h.siteDay = 0, 0, 0, -1, -1
	a.byRider[ri] = hi
}

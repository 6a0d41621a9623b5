package terminal

import (
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// appWorld is a world whose issuer also holds the application master key.
func appWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t, keys.Alg3DES)
	w.putKeys(ourIssuer, keys.Alg3DES, 1, keys.KeyApplication)
	return w
}

type testGate struct {
	*Gate
	spool *memSpool
}

// gate provisions a PSAM with the application master key and sets a
// gate of app up around it.
func (w *world) gate(app card.Application, scope, place uint32, a apps.Action, bl Blacklist, vs Versions) testGate {
	w.t.Helper()
	return w.gateWith(GateConfig{App: app, Scope: scope, Place: place, Action: a, Blacklist: bl, Versions: vs})
}

// gateWith sets up a gate of cfg's application, scope, place, action,
// blacklist, versions and ground around a fresh PSAM.
func (w *world) gateWith(cfg GateConfig) testGate {
	w.t.Helper()
	w.n++
	psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x30, w.n}
	tid := citycard.TerminalID{0x31, 0x50, 0, 0, 0x40, w.n}
	pk := PSAMKeys{Operator: ourIssuer, RecordKeyVersion: 1,
		Issuers: []keys.Ref{{Issuer: ourIssuer, Type: keys.KeyApplication, Version: 1}}}
	psam := w.vendor.NewPSAM(psamID)
	if err := ProvisionPSAM(w.store, psam, tid, pk, 1); err != nil {
		w.t.Fatal(err)
	}
	sp := newMemSpool()
	cfg.PSAM, cfg.PSAMID, cfg.RecordKeyVersion, cfg.Spool, cfg.Now = psam, psamID, 1, sp, func() time.Time { return w.now }
	g, err := NewGate(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	return testGate{g, sp}
}

// appCard personalizes a card of ours with an entitlement file of the
// slots, sealed as a service point seals it.
func (w *world) appCard(asnLow uint32, version uint32, slots ...card.Entitlement) *card.Card {
	w.t.Helper()
	return w.fileCard(asnLow, 0, &card.Entitlements{KeyVersion: 1, Version: version, Slots: slots})
}

// fileCard personalizes a card of ours of rider category cat with the
// entitlement file f (nil: none), sealed as a service point seals it.
func (w *world) fileCard(asnLow uint32, cat uint8, f *card.Entitlements) *card.Card {
	w.t.Helper()
	asn := w.newCard(card.ProfileCitizen, asnLow, 1).State().ASN
	cfg := card.Config{Profile: card.ProfileCitizen, Issuer: ourIssuer, ASN: asn, CardType: 1, RiderCategory: cat}
	cfg.Start, _ = citycard.DateTime(day0.AddDate(-1, 0, 0))
	cfg.Expiry, _ = citycard.DateTime(day0.AddDate(2, 0, 0))
	ks, err := card.DeriveKeySet(w.store, ourIssuer, asn, 1)
	if err != nil {
		w.t.Fatal(err)
	}
	cfg.KeySets = []card.KeySet{ks}
	if f != nil {
		k, err := apps.SignGrants(w.store, ourIssuer, asn, f)
		if err != nil {
			w.t.Fatal(err)
		}
		cfg.AppKey, cfg.Entitlements = &k, f
	}
	cd, err := card.New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	return cd
}

type minVersions map[citycard.ASN]uint32

func (m minVersions) MinVersion(_ citycard.IssuerCode, asn citycard.ASN) uint32 { return m[asn] }

var (
	today, _  = citycard.DateTime(day0)
	lastWeek  = func() citycard.BCDDate { d, _ := citycard.DateTime(day0.AddDate(0, 0, -7)); return d }()
	yesterday = func() citycard.BCDDate { d, _ := citycard.DateTime(day0.AddDate(0, 0, -1)); return d }()
	nextYear  = func() citycard.BCDDate { d, _ := citycard.DateTime(day0.AddDate(1, 0, 0)); return d }()
)

func grant(app card.Application, scope uint32, limit uint16) card.Entitlement {
	return card.Entitlement{App: app, Scope: scope, ValidFrom: lastWeek, ValidTo: nextYear, Limit: limit}
}

// TestGateEachApplication runs an allowed tap of each application end to
// end: the card's file moves, the record is a sealed application record
// whose record MAC and stamp MAC the back office's Verifier accepts.
func TestGateEachApplication(t *testing.T) {
	w := appWorld(t)
	v := w.verifier()
	for i, c := range []struct {
		app    card.Application
		action apps.Action
		limit  uint16
		place  uint32
		check  func(e card.Entitlement) bool
	}{
		{card.AppCampus, apps.CheckIn, 0, 1, func(e card.Entitlement) bool { return e.Inside }},
		{card.AppLibrary, apps.Loan, 5, 1, func(e card.Entitlement) bool { return e.Uses == 1 }},
		{card.AppVenue, apps.Admit, 8, 2, func(e card.Entitlement) bool { return e.Uses == 1 }},
		{card.AppSite, apps.Admit, 0, 17, func(e card.Entitlement) bool { return e.Sites == 1<<16 }},
		{card.AppParking, apps.CheckIn, 0, 1, func(e card.Entitlement) bool { return e.Inside }},
	} {
		cd := w.appCard(uint32(100+i), 3, grant(c.app, 77, c.limit))
		g := w.gate(c.app, 77, c.place, c.action, nil, nil)
		res, err := g.Tap(cd)
		if err != nil || res.Reason != apps.Allowed {
			t.Fatalf("%v: %v %v (%s)", c.app, res.Reason, err, res.Detail)
		}
		f := cd.State().Entitlements
		if f.Counter != 1 || !c.check(f.Slots[0]) || f.Slots[0] != res.After {
			t.Fatalf("%v: the card's file after the tap: counter %d, %+v", c.app, f.Counter, f.Slots[0])
		}
		recs := g.spool.pending(t)
		if len(recs) != 1 {
			t.Fatalf("%v: %d records spooled", c.app, len(recs))
		}
		r := recs[0]
		if r.Type != citycard.TxApplication || r.Counter != 0 || r.Amount != 0 || r.Network != uint16(c.app) ||
			r.Line != 77 || r.Station != c.place || r.Product != uint16(c.action) || r.EntryLine != 3 || r != res.Record {
			t.Fatalf("%v: record %+v", c.app, r)
		}
		if err := v.Verify(&r); err != nil {
			t.Fatalf("%v: the back office refuses the record: %v", c.app, err)
		}
	}
}

// TestGateRefusals: stale, forged and expired files, the blacklist, a
// blocked card, the wrong application; a refused tap writes nothing on
// the card and spools nothing.
func TestGateRefusals(t *testing.T) {
	w := appWorld(t)
	campus := grant(card.AppCampus, 1001, 0)

	stale := w.appCard(1, 9, campus)
	vs := minVersions{stale.State().ASN: 10}
	expired := grant(card.AppCampus, 1001, 0)
	expired.ValidTo = yesterday
	endsToday := grant(card.AppCampus, 1001, 0)
	endsToday.ValidTo = today

	forgedGrant := w.appCard(2, 1, campus)
	f := *forgedGrant.State().Entitlements
	f.Slots[0].ValidTo = citycard.BCDDate{0x20, 0x99, 0x12, 0x31} // a longer status, the grant MAC unchanged
	if err := forgedGrant.SetEntitlements(f); err != nil {
		t.Fatal(err)
	}
	// A genuine file copied onto another chip: its key is not the card's.
	genuine := w.appCard(3, 1, campus)
	cf := *genuine.State().Entitlements
	cloneKey := card.AppKey{Version: 1, Alg: keys.Alg3DES}
	start, _ := citycard.DateTime(day0.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(day0.AddDate(2, 0, 0))
	ks, _ := card.DeriveKeySet(w.store, ourIssuer, genuine.State().ASN, 1)
	cloned, err := card.New(card.Config{Profile: card.ProfileCitizen, Issuer: ourIssuer, ASN: genuine.State().ASN, CardType: 1,
		Start: start, Expiry: expiry, KeySets: []card.KeySet{ks}, AppKey: &cloneKey, Entitlements: &cf})
	if err != nil {
		t.Fatal(err)
	}

	blacklisted := w.appCard(5, 1, campus)
	noFile := w.newCard(card.ProfileCitizen, 6, 1)
	otherSchool := w.appCard(7, 1, grant(card.AppCampus, 1002, 0))

	for _, c := range []struct {
		name string
		cd   *card.Card
		want apps.Reason
	}{
		{"file version 9, the back office requires 10", stale, apps.Stale},
		{"file version 10 of 10", w.appCard(8, 10, campus), apps.Allowed},
		{"status ended yesterday", w.appCard(9, 1, expired), apps.Expired},
		{"status ends today", w.appCard(10, 1, endsToday), apps.Allowed},
		{"grants altered, grant MAC not", forgedGrant, apps.Forged},
		{"a genuine file on a chip without the card's key", cloned, apps.Forged},
		{"blacklisted", blacklisted, apps.Blacklisted},
		{"no entitlement file", noFile, apps.WrongApplication},
		{"another school's pupil", otherSchool, apps.WrongApplication},
	} {
		bl := listBL{blacklisted.State().ASN: true}
		vs[w.appCardASN(8)] = 10
		g := w.gate(card.AppCampus, 1001, 1, apps.CheckIn, bl, vs)
		before := c.cd.State().Entitlements
		res, err := g.Tap(c.cd)
		if err != nil || res.Reason != c.want {
			t.Errorf("%s: %v %v (%s), want %v", c.name, res.Reason, err, res.Detail, c.want)
			continue
		}
		if c.want == apps.Allowed {
			continue
		}
		if n := len(g.spool.pending(t)); n != 0 {
			t.Errorf("%s: refused, yet %d records spooled", c.name, n)
		}
		if after := c.cd.State().Entitlements; before != nil && after.Counter != before.Counter {
			t.Errorf("%s: refused, yet the card's counter moved", c.name)
		}
	}

	// Expired by the card's own validity, and a blocked e-purse.
	old := w.appCard(11, 1, campus)
	w.now = day0.AddDate(3, 0, 0)
	g := w.gate(card.AppCampus, 1001, 1, apps.CheckIn, nil, nil)
	if res, err := g.Tap(old); err != nil || res.Reason != apps.Expired {
		t.Errorf("a card past its expiry: %v %v", res.Reason, err)
	}
	w.now = day0
	blocked := w.appCard(12, 1, campus)
	bl := listBL{blocked.State().ASN: true}
	tt := w.terminal(ModePOS, 0, FlatFare{Fen: 100}, bl)
	tt.Tap(blocked, 100) // the transit terminal blocks it
	g = w.gate(card.AppCampus, 1001, 1, apps.CheckIn, nil, nil)
	if res, err := g.Tap(blocked); err != nil || res.Reason != apps.Blacklisted {
		t.Errorf("a blocked card: %v %v", res.Reason, err)
	}
}

// appCardASN is the ASN appCard gives asnLow.
func (w *world) appCardASN(asnLow uint32) citycard.ASN {
	return citycard.ASN{0, 0, 0x31, 0x50, 0, 0, byte(asnLow >> 24), byte(asnLow >> 16), byte(asnLow >> 8), byte(asnLow)}
}

// TestGateLimits taps until each application's limit, through the card:
// the uses the gate wrote are the next tap's.
func TestGateLimits(t *testing.T) {
	w := appWorld(t)
	lib := w.appCard(1, 1, grant(card.AppLibrary, 7, 2))
	loan := w.gate(card.AppLibrary, 7, 1, apps.Loan, nil, nil)
	ret := w.gate(card.AppLibrary, 7, 1, apps.Return, nil, nil)
	venue := w.appCard(2, 1, grant(card.AppVenue, 3, 2))
	turnstile := w.gate(card.AppVenue, 3, 1, apps.Admit, nil, nil)
	pass := w.appCard(3, 1, grant(card.AppSite, 1, 0))
	site5 := w.gate(card.AppSite, 1, 5, apps.Admit, nil, nil)
	site6 := w.gate(card.AppSite, 1, 6, apps.Admit, nil, nil)
	permit := w.appCard(4, 1, grant(card.AppParking, 12, 0))
	in := w.gate(card.AppParking, 12, 1, apps.CheckIn, nil, nil)
	out := w.gate(card.AppParking, 12, 2, apps.CheckOut, nil, nil)
	pupil := w.appCard(5, 1, grant(card.AppCampus, 1001, 0))
	schoolIn := w.gate(card.AppCampus, 1001, 1, apps.CheckIn, nil, nil)
	schoolOut := w.gate(card.AppCampus, 1001, 2, apps.CheckOut, nil, nil)

	steps := []struct {
		name string
		g    testGate
		cd   *card.Card
		want apps.Reason
		next time.Duration // then the clock moves on
	}{
		{"loan 1 of 2", loan, lib, apps.Allowed, 0},
		{"loan 2 of 2", loan, lib, apps.Allowed, 0},
		{"loan 3 of 2", loan, lib, apps.Limit, 0},
		{"a return", ret, lib, apps.Allowed, 0},
		{"loan 2 of 2 again", loan, lib, apps.Allowed, 0},
		{"venue admission 1 of 2", turnstile, venue, apps.Allowed, 0},
		{"venue admission 2 of 2", turnstile, venue, apps.Allowed, 0},
		{"venue admission 3 of 2", turnstile, venue, apps.Limit, 0},
		{"site 5", site5, pass, apps.Allowed, 0},
		{"site 6 the same day", site6, pass, apps.Allowed, 0},
		{"site 5 again the same day", site5, pass, apps.Limit, 24 * time.Hour},
		{"site 5 the next day", site5, pass, apps.Allowed, 0},
		{"parking in", in, permit, apps.Allowed, 0},
		{"parking in again", in, permit, apps.Limit, 0},
		{"parking out", out, permit, apps.Allowed, 0},
		{"parking in after out", in, permit, apps.Allowed, 0},
		{"school check-in", schoolIn, pupil, apps.Allowed, time.Hour},
		{"school check-in again: no limit", schoolIn, pupil, apps.Allowed, 8 * time.Hour},
		{"school check-out", schoolOut, pupil, apps.Allowed, 0},
	}
	for _, s := range steps {
		res, err := s.g.Tap(s.cd)
		if err != nil || res.Reason != s.want {
			t.Fatalf("%s: %v %v (%s), want %v", s.name, res.Reason, err, res.Detail, s.want)
		}
		w.now = w.now.Add(s.next)
	}
	if f := lib.State().Entitlements; f.Counter != 4 || f.Slots[0].Uses != 2 {
		t.Fatalf("library card: counter %d, loans out %d; want 4 stamps, 2 out", f.Counter, f.Slots[0].Uses)
	}
	if f := pupil.State().Entitlements; f.Counter != 3 || f.Slots[0].Inside {
		t.Fatalf("pupil: counter %d, inside %v", f.Counter, f.Slots[0].Inside)
	}
}

// TestGateRecordsAreUnique: every check-in of one pupil carries its own
// application counter and terminal sequence, so none can pass for a copy
// of another.
func TestGateRecordsAreUnique(t *testing.T) {
	w := appWorld(t)
	pupil := w.appCard(1, 1, grant(card.AppCampus, 1001, 0))
	g := w.gate(card.AppCampus, 1001, 1, apps.CheckIn, nil, nil)
	seen := map[uint16]bool{}
	seqs := map[uint32]bool{}
	for i := 0; i < 5; i++ {
		res, err := g.Tap(pupil)
		if err != nil || res.Reason != apps.Allowed {
			t.Fatal(res.Reason, err)
		}
		if seen[res.Record.Counter] || seqs[res.Record.TerminalSeq] {
			t.Fatalf("check-in %d repeats a counter or sequence: %+v", i, res.Record)
		}
		seen[res.Record.Counter], seqs[res.Record.TerminalSeq] = true, true
	}
}

// lostAnswer passes every APDU to the card but loses the answer to WRITE
// ENTRY, as a card pulled away just after it wrote does.
type lostAnswer struct{ cd *card.Card }

func (l lostAnswer) Transmit(b []byte) ([]byte, error) {
	resp, err := l.cd.Transmit(b)
	if len(b) > 1 && b[1] == 0xDE {
		return nil, citycard.E("test", citycard.IO, "card left the field")
	}
	return resp, err
}

// TestGateLostWrite: a card whose answer to STAMP is lost wrote the
// stamp: the tap ends with an error of kind IO and no record, and the
// next tap carries the counter after it (the back office sees the gap),
// never the same one again.
func TestGateLostWrite(t *testing.T) {
	w := appWorld(t)
	pupil := w.appCard(1, 1, grant(card.AppCampus, 1001, 0))
	g := w.gate(card.AppCampus, 1001, 1, apps.CheckIn, nil, nil)
	if _, err := g.Tap(lostAnswer{pupil}); !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("lost answer: %v, want kind IO", err)
	}
	if n := len(g.spool.pending(t)); n != 0 {
		t.Fatalf("%d records spooled for a tap that got no stamp MAC", n)
	}
	res, err := g.Tap(pupil)
	if err != nil || res.Reason != apps.Allowed || res.Record.Counter != 1 {
		t.Fatalf("the next tap: %v %v, counter %d; want allowed with counter 1", res.Reason, err, res.Record.Counter)
	}
}

// TestGateSchoolGround: a venue gate at a school's ground refuses a
// citizen school_hours on a weekday from 07:30, admits the school's
// pupil then, and the citizen again from 17:00; a ground on another
// application's gate, or one that does not validate, is refused at set-up.
func TestGateSchoolGround(t *testing.T) {
	w := appWorld(t) // day0: Tuesday 2026-11-24, 08:00
	ground := &apps.Ground{School: 1001, Open: citycard.BCDTime{0x07, 0x30, 0x00}, Close: citycard.BCDTime{0x17, 0x00, 0x00}}
	turnstile := w.gateWith(GateConfig{App: card.AppVenue, Scope: 3, Place: 1, Action: apps.Admit, Ground: ground})
	citizen := w.appCard(1, 1, grant(card.AppVenue, 3, 8))
	pupil := w.appCard(2, 1, grant(card.AppCampus, 1001, 0), grant(card.AppVenue, 3, 8))
	tap := func(name string, cd *card.Card, want apps.Reason) {
		t.Helper()
		res, err := turnstile.Tap(cd)
		if err != nil || res.Reason != want {
			t.Fatalf("%s: %v %v, want %v", name, res.Reason, err, want)
		}
		if want == apps.Allowed && res.After.Uses == 0 {
			t.Fatalf("%s: the admission was not counted", name)
		}
	}
	tap("a citizen at 08:00 on a Tuesday", citizen, apps.SchoolHours)
	tap("the school's pupil at 08:00", pupil, apps.Allowed)
	w.now = time.Date(2026, 11, 24, 16, 59, 59, 0, citycard.ChinaTime)
	tap("a citizen at 16:59:59", citizen, apps.SchoolHours)
	w.now = time.Date(2026, 11, 24, 17, 0, 0, 0, citycard.ChinaTime)
	tap("a citizen at 17:00", citizen, apps.Allowed)
	if n := len(turnstile.spool.pending(t)); n != 2 {
		t.Fatalf("%d records spooled, want 2 (the refusals write none)", n)
	}
	for name, cfg := range map[string]GateConfig{
		"a ground on a campus gate": {App: card.AppCampus, Scope: 1001, Place: 1, Action: apps.CheckIn, Ground: ground},
		"a ground with no school":   {App: card.AppVenue, Scope: 3, Place: 1, Action: apps.Admit, Ground: &apps.Ground{Open: ground.Open, Close: ground.Close}},
	} {
		psam := w.vendor.NewPSAM(citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x39, 0x01})
		cfg.PSAM, cfg.Spool = psam, newMemSpool()
		if _, err := NewGate(cfg); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
}

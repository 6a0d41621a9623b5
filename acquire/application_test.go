package acquire

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// appCity is a city whose issuer holds an application master key.
func appCity(t *testing.T) (*city, *MemJournal, *Acquirer) {
	t.Helper()
	c, j, a := newBackOffice(t)
	k := make([]byte, keys.KeyLen)
	for i := range k {
		k[i] = byte(7 * i)
	}
	if _, err := c.store.Put(keys.Ref{Issuer: ourIssuer, Type: keys.KeyApplication, Version: 1}, keys.Alg3DES, k, "test", day0); err != nil {
		t.Fatal(err)
	}
	return c, j, a
}

type gateDevice struct {
	*terminal.Gate
	spool *spool
	id    citycard.TerminalID
	psam  citycard.PSAMID
}

// gate registers an application gate of the school (or other party)
// operator, its PSAM holding the application master key.
func (c *city) gate(app card.Application, scope, place uint32, a apps.Action) *gateDevice {
	c.t.Helper()
	c.n++
	psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x50, c.n}
	tid := citycard.TerminalID{0x31, 0x50, 0, 0, 0x60, c.n}
	psam := c.vendor.NewPSAM(psamID)
	if err := terminal.ProvisionPSAM(c.store, psam, tid, terminal.PSAMKeys{Operator: ourIssuer, RecordKeyVersion: 1,
		Issuers: []keys.Ref{{Issuer: ourIssuer, Type: keys.KeyApplication, Version: 1}}}, 1); err != nil {
		c.t.Fatal(err)
	}
	sp := &spool{}
	g, err := terminal.NewGate(terminal.GateConfig{PSAM: psam, PSAMID: psamID, RecordKeyVersion: 1, App: app, Scope: scope,
		Place: place, Action: a, Spool: sp, Now: func() time.Time { return c.now }})
	if err != nil {
		c.t.Fatal(err)
	}
	c.reg.set(TerminalInfo{ID: tid, PSAM: psamID, Operator: "school", OperatorCode: ourIssuer, Active: true})
	return &gateDevice{Gate: g, spool: sp, id: tid, psam: psamID}
}

// pupil is a card of ours with an e-purse and a campus entitlement.
func (c *city) pupil(n uint32) *card.Card {
	c.t.Helper()
	asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	ks, err := card.DeriveKeySet(c.store, ourIssuer, asn, 1)
	if err != nil {
		c.t.Fatal(err)
	}
	from, _ := citycard.DateTime(day0.AddDate(0, -1, 0))
	to, _ := citycard.DateTime(day0.AddDate(1, 0, 0))
	f := card.Entitlements{KeyVersion: 1, Version: 1, Slots: []card.Entitlement{{App: card.AppCampus, Scope: 1001, ValidFrom: from, ValidTo: to, Class: 305}}}
	k, err := apps.SignGrants(c.store, ourIssuer, asn, &f)
	if err != nil {
		c.t.Fatal(err)
	}
	start, _ := citycard.DateTime(day0.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(day0.AddDate(3, 0, 0))
	cd, err := card.New(card.Config{Profile: card.ProfileMOHURD, Issuer: ourIssuer, ASN: asn, CardType: 1,
		Start: start, Expiry: expiry, KeySets: []card.KeySet{ks}, InitialBalanceFen: 100000, AppKey: &k, Entitlements: &f})
	if err != nil {
		c.t.Fatal(err)
	}
	return cd
}

func (c *city) pass(g *gateDevice, cd *card.Card) {
	c.t.Helper()
	c.now = c.now.Add(time.Minute)
	res, err := g.Tap(cd)
	if err != nil || res.Reason != apps.Allowed {
		c.t.Fatalf("gate tap: %v %v (%s)", res.Reason, err, res.Detail)
	}
}

// TestApplicationRecordsKeptNeverBooked follows the package doc's
// "Non-financial records": check-ins and check-outs of pupils, whose
// e-purse counters never move, are accepted once each, journaled as
// application records and booked nowhere; the pupil's bus purchase on the
// same card is booked as always; a copy of a check-in is a duplicate, and
// no check-in is a duplicate of another.
func TestApplicationRecordsKeptNeverBooked(t *testing.T) {
	c, j, a := appCity(t)
	in := c.gate(card.AppCampus, 1001, 1, apps.CheckIn)
	out := c.gate(card.AppCampus, 1001, 2, apps.CheckOut)
	bus := c.device(terminal.ModeFlat, "bus")
	pupils := []*card.Card{c.pupil(1), c.pupil(2)}
	for day := 0; day < 3; day++ {
		for _, p := range pupils {
			c.pass(in, p)
		}
		for _, p := range pupils {
			c.pass(out, p)
		}
	}
	c.tap(bus, pupils[0], 0)
	recs := append(in.spool.take(), out.spool.take()...)
	if len(recs) != 12 {
		t.Fatalf("%d gate records, want 12", len(recs))
	}
	ansIn := submit(t, a, batchOf(in.id, "in-1", recs[:6]))
	ansOut := submit(t, a, batchOf(out.id, "out-1", recs[6:]))
	ansBus := submit(t, a, batchOf(bus.id, "bus-1", bus.spool.take()))
	// The check-in gate uploads first: each pupil's check-ins after the
	// first skip the check-outs' counters, not yet uploaded.
	if ansIn.Accepted != 2 || ansIn.Flagged != 4 || ansIn.Records[2].Reasons[0] != "application_counter_gap" {
		t.Fatalf("check-ins: %v", verdicts(ansIn))
	}
	// The check-outs fill those gaps: accepted, none a duplicate.
	for _, ans := range []Answer{ansOut, ansBus} {
		if ans.Accepted != len(ans.Records) {
			t.Fatalf("batch %s: %v, want every record accepted", ans.BatchID, verdicts(ans))
		}
	}
	if got := booked(j); got[floatAcct] != -200 || got["operator_payable:school"] != 0 || len(got) != 2 {
		t.Fatalf("booked %v, want only the bus fare", got)
	}
	var apps int
	for _, e := range j.Records() {
		if e.Class == ClassApplication {
			apps++
		}
	}
	if apps != 12 {
		t.Fatalf("%d application records in the journal, want 12", apps)
	}
	// The same records again under another batch ID: copies.
	dup := submit(t, a, batchOf(in.id, "in-2", recs[:6]))
	if dup.Duplicates != 6 {
		t.Fatalf("re-sent check-ins: %v", verdicts(dup))
	}
	if got := booked(j); got[floatAcct] != -200 {
		t.Fatalf("booked %v after the copies", got)
	}
}

// checkIns registers a school gate and spools n check-ins of one pupil.
func (c *city) checkIns(n int) (*gateDevice, [][]byte) {
	c.t.Helper()
	in := c.gate(card.AppCampus, 1001, 1, apps.CheckIn)
	p := c.pupil(1)
	for range n {
		c.pass(in, p)
	}
	return in, in.spool.take()
}

// TestApplicationCounterGap: a record missing from the upload flags the
// next one; the missing one, arriving late, fills the gap and is
// accepted, not a duplicate.
func TestApplicationCounterGap(t *testing.T) {
	c, _, a := appCity(t)
	in, recs := c.checkIns(3)
	first := submit(t, a, batchOf(in.id, "a", [][]byte{recs[0], recs[2]}))
	if first.Accepted != 1 || first.Flagged != 1 || !slices.Contains(first.Records[1].Reasons, "application_counter_gap") {
		t.Fatalf("with record 1 missing: %v", verdicts(first))
	}
	late := submit(t, a, batchOf(in.id, "b", recs[1:2]))
	if late.Accepted != 1 {
		t.Fatalf("the late record: %v", verdicts(late))
	}
}

// TestApplicationRecordsForged: a stamp MAC the card never made (the
// record resealed by a PSAM key) is rejected tac; an altered record
// without its record MAC, record_mac; an application key version the
// store lacks, key_unknown.
func TestApplicationRecordsForged(t *testing.T) {
	c, _, a := appCity(t)
	in, recs := c.checkIns(3)
	psamKey, alg, err := record.RecordKey(c.store, ourIssuer, 1, in.psam)
	if err != nil {
		t.Fatal(err)
	}
	reseal := func(raw []byte, edit func(r *record.Record)) []byte {
		r, err := record.DecodeBinary(raw)
		if err != nil {
			t.Fatal(err)
		}
		edit(&r)
		record.Seal(alg, psamKey[:], 1, &r)
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	forgedMAC := reseal(recs[0], func(r *record.Record) { r.TAC[3] ^= 1 })
	otherCounter := reseal(recs[1], func(r *record.Record) { r.Counter += 100 })
	altered := slices.Clone(recs[2])
	altered[70+3] ^= 1 // the station, without resealing
	noKey := reseal(recs[2], func(r *record.Record) { r.KeyVersion = 2 })
	ans := submit(t, a, batchOf(in.id, "x", [][]byte{forgedMAC, otherCounter, altered, noKey}))
	want := []string{RejectTAC, RejectTAC, RejectRecordMAC, RejectKey}
	for i, w := range want {
		if ans.Records[i].Verdict != Rejected || ans.Records[i].Reasons[0] != w {
			t.Errorf("record %d: %v, want rejected %s", i, verdicts(ans)[i], w)
		}
	}
	// The genuine ones are still accepted.
	if ok := submit(t, a, batchOf(in.id, "y", recs)); ok.Accepted != 3 {
		t.Fatalf("genuine: %v", verdicts(ok))
	}
}

// TestApplicationRestart: the application counters are rebuilt from the
// checkpoint and from the journal alone, so copies stay copies.
func TestApplicationRestart(t *testing.T) {
	c, j, a := appCity(t)
	in := c.gate(card.AppCampus, 1001, 1, apps.CheckIn)
	var cards []*card.Card
	for n := range uint32(5) {
		cards = append(cards, c.pupil(10+n))
	}
	for _, p := range cards {
		c.pass(in, p)
		c.pass(in, p)
	}
	recs := in.spool.take()
	submit(t, a, batchOf(in.id, "1", [][]byte{recs[0], recs[3], recs[4]})) // gaps for two cards
	before := encodeAll(a.st)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a2 := c.open(j)
	if got := encodeAll(a2.st); !slices.Equal(got, before) {
		t.Fatal("state from the checkpoint differs")
	}
	a2.Close()
	j.checkpoints = nil
	a3 := c.open(j)
	defer a3.Close()
	if got := encodeAll(a3.st); !slices.Equal(got, before) {
		t.Fatal("state from the journal differs")
	}
	ans := submit(t, a3, batchOf(in.id, "2", recs))
	if ans.Duplicates != 3 || ans.Accepted+ans.Flagged != 7 {
		t.Fatalf("after restart: %v", verdicts(ans))
	}
}

// TestApplicationCommitFailure: a batch of check-ins whose commit fails
// is taken back out of memory, application counters included, so its
// retry is accepted, not answered duplicate.
func TestApplicationCommitFailure(t *testing.T) {
	c, j, a := appCity(t)
	in, recs := c.checkIns(3)
	submit(t, a, batchOf(in.id, "first", recs[:1]))
	j.FailNext = errors.New("disk full")
	if _, err := a.Submit(context.Background(), batchOf(in.id, "x", recs[1:])); !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("failed commit: %v, want IO", err)
	}
	if ans := submit(t, a, batchOf(in.id, "x", recs[1:])); ans.Accepted != 2 || ans.Repeat {
		t.Fatalf("retry: %v", verdicts(ans))
	}
}

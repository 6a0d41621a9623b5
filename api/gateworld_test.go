package api

import (
	"context"
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

// gateWorld is the issuer's key store with the application master key,
// the PSAM vendor, and the clock of the gates: what the application
// gates and the cards of the tests are made from.
type gateWorld struct {
	t      testing.TB
	store  *keys.MemStore
	vendor *terminal.PSAMVendor
	issuer citycard.IssuerCode
	now    time.Time
	n      byte
}

func newGateWorld(t testing.TB, issuer citycard.IssuerCode, now time.Time) *gateWorld {
	t.Helper()
	keyOf := func(kt keys.KeyType) []byte {
		k := make([]byte, keys.KeyLen)
		for j := range k {
			k[j] = byte(29*int(kt) + 5*j + 3)
		}
		return k
	}
	w := &gateWorld{t: t, store: keys.NewMemStore(), issuer: issuer, now: now}
	for _, kt := range append(slices.Clone(keys.CardKeyTypes), keys.KeyRecord, keys.KeyTransport, keys.KeyApplication) {
		if _, err := w.store.Put(keys.Ref{Issuer: issuer, Type: kt, Version: 1}, keys.Alg3DES, keyOf(kt), "test", now); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if w.vendor, err = terminal.NewPSAMVendor(keys.Ref{Issuer: issuer, Type: keys.KeyTransport, Version: 1}, keys.Alg3DES, keyOf(keys.KeyTransport)); err != nil {
		t.Fatal(err)
	}
	return w
}

// gateSpool keeps a device's records until they are acknowledged (a
// terminal acknowledges a grey record once the complete one replaces
// it).
type gateSpool struct {
	recs [][]byte // by sequence - 1; nil once acknowledged
}

func (s *gateSpool) Append(b []byte) (uint64, error) {
	s.recs = append(s.recs, slices.Clone(b))
	return uint64(len(s.recs)), nil
}

func (s *gateSpool) Ack(seqs ...uint64) error {
	for _, q := range seqs {
		s.recs[q-1] = nil
	}
	return nil
}

// pending returns the records not acknowledged, in order.
func (s *gateSpool) pending() [][]byte {
	var out [][]byte
	for _, r := range s.recs {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

type worldGate struct {
	*terminal.Gate
	id    citycard.TerminalID
	psam  citycard.PSAMID
	spool *gateSpool
}

// psam provisions a PSAM holding the application master key (and the
// purchase keys: a POS is made from it too) for terminal tid.
func (w *gateWorld) psam() (*terminal.PSAM, citycard.PSAMID, citycard.TerminalID) {
	w.t.Helper()
	w.n++
	psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x77, w.n}
	tid := citycard.TerminalID{0x31, 0x50, 0, 0, 0x77, w.n}
	p := w.vendor.NewPSAM(psamID)
	refs := []keys.Ref{{Issuer: w.issuer, Type: keys.KeyApplication, Version: 1}, {Issuer: w.issuer, Type: keys.KeyPurchase, Version: 1}}
	if err := terminal.ProvisionPSAM(w.store, p, tid, terminal.PSAMKeys{Operator: w.issuer, RecordKeyVersion: 1, Issuers: refs}, 1); err != nil {
		w.t.Fatal(err)
	}
	return p, psamID, tid
}

// gate sets up an application gate of app at scope, place, for action.
func (w *gateWorld) gate(app card.Application, scope, place uint32, a apps.Action, bl terminal.Blacklist, vs terminal.Versions) *worldGate {
	w.t.Helper()
	p, psamID, tid := w.psam()
	sp := &gateSpool{}
	g, err := terminal.NewGate(terminal.GateConfig{PSAM: p, PSAMID: psamID, RecordKeyVersion: 1, App: app, Scope: scope, Place: place,
		Action: a, Spool: sp, Blacklist: bl, Versions: vs, Now: func() time.Time { return w.now }})
	if err != nil {
		w.t.Fatal(err)
	}
	return &worldGate{Gate: g, id: tid, psam: psamID, spool: sp}
}

// asn is the ASN of the world's card n.
func (w *gateWorld) asn(n uint32) citycard.ASN {
	return citycard.ASN{0, 0, 0x31, 0x50, 0, 0x08, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// card personalizes citizen card n with balanceFen on its e-purse and
// the entitlement file the back office has for it (Office.Rewrite of a
// new card).
func (w *gateWorld) card(o *apps.Office, n uint32, balanceFen int64) *card.Card {
	w.t.Helper()
	return w.riderCard(o, n, balanceFen, 0)
}

// riderCard is card of rider category (the fare feed's: 1 student, 2
// senior).
func (w *gateWorld) riderCard(o *apps.Office, n uint32, balanceFen int64, category uint8) *card.Card {
	w.t.Helper()
	asn := w.asn(n)
	f, k, err := o.Rewrite(context.Background(), w.store, apps.CardRef{Issuer: w.issuer, ASN: asn}, nil, 1)
	if err != nil {
		w.t.Fatal(err)
	}
	ks, err := card.DeriveKeySet(w.store, w.issuer, asn, 1)
	if err != nil {
		w.t.Fatal(err)
	}
	start, _ := citycard.DateTime(w.now.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(w.now.AddDate(5, 0, 0))
	cd, err := card.New(card.Config{Profile: card.ProfileCitizen, Issuer: w.issuer, ASN: asn, CardType: 1, Start: start, Expiry: expiry,
		KeySets: []card.KeySet{ks}, InitialBalanceFen: uint32(balanceFen), RiderCategory: category, AppKey: &k, Entitlements: &f})
	if err != nil {
		w.t.Fatal(err)
	}
	return cd
}

// rewrite is the card's online contact at a service point or kiosk: its
// file as the back office has it now, its counter and use kept.
func (w *gateWorld) rewrite(o *apps.Office, cd *card.Card) {
	w.t.Helper()
	st := cd.State()
	f, _, err := o.Rewrite(context.Background(), w.store, apps.CardRef{Issuer: st.Issuer, ASN: st.ASN}, st.Entitlements, 1)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := cd.SetEntitlements(f); err != nil {
		w.t.Fatal(err)
	}
}

// verifier is the back office's, over the world's keys.
func (w *gateWorld) verifier() *record.Verifier { return record.NewVerifier(w.store, w.issuer) }

package terminal

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

var (
	ourIssuer     = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	foreignIssuer = citycard.IssuerCode{0x21, 0x00, 0x00, 0x07, 0xFF, 0xFF, 0xFF, 0xFF}
	// nationalIssuer holds the interconnection master keys.
	nationalIssuer = citycard.IssuerCode{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}
	day0           = time.Date(2026, 11, 24, 8, 0, 0, 0, citycard.ChinaTime)
)

// memSpool is an in-memory Spool that remembers what was acked.
type memSpool struct {
	mu      sync.Mutex
	next    uint64
	entries map[uint64][]byte
	acked   map[uint64]bool
}

func newMemSpool() *memSpool {
	return &memSpool{entries: map[uint64][]byte{}, acked: map[uint64]bool{}}
}

func (s *memSpool) Append(b []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.entries[s.next] = append([]byte(nil), b...)
	return s.next, nil
}

func (s *memSpool) Ack(seqs ...uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range seqs {
		s.acked[q] = true
	}
	return nil
}

// pending returns the records not acked, oldest first.
func (s *memSpool) pending(t testing.TB) []record.Record {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var seqs []uint64
	for q := range s.entries {
		if !s.acked[q] {
			seqs = append(seqs, q)
		}
	}
	slices.Sort(seqs)
	var out []record.Record
	for _, q := range seqs {
		r, err := record.DecodeBinary(s.entries[q])
		if err != nil {
			t.Fatalf("spool entry %d: %v", q, err)
		}
		out = append(out, r)
	}
	return out
}

// world is a key store, its cards, and terminals, as a city has them,
// and the vendor its PSAMs come from.
type world struct {
	t      testing.TB
	store  *keys.MemStore
	vendor *PSAMVendor
	now    time.Time
	n      byte
	// concessions, when set, are the Config.Concessions of the
	// terminals made, their PSAMs given the application master key.
	concessions map[uint8]uint8
}

// transportRef is the PSAM transport master key of the tests' operator.
var transportRef = keys.Ref{Issuer: ourIssuer, Type: keys.KeyTransport, Version: 1}

func newWorld(t testing.TB, alg keys.Alg, versions ...uint8) *world {
	t.Helper()
	w := &world{t: t, store: keys.NewMemStore(), now: day0}
	if len(versions) == 0 {
		versions = []uint8{1}
	}
	for _, v := range versions {
		w.putKeys(ourIssuer, alg, v, append(slices.Clone(keys.CardKeyTypes), keys.KeyRecord)...)
	}
	w.putKeys(nationalIssuer, alg, 1, keys.KeyPurchase)
	w.vendor = w.newVendor(transportRef, alg)
	return w
}

// newVendor makes a transport master key, puts it in the store, and
// gives the vendor its copy, as the key ceremony does.
func (w *world) newVendor(ref keys.Ref, alg keys.Alg) *PSAMVendor {
	w.t.Helper()
	tmk := randomKey()
	defer clear(tmk)
	if _, err := w.store.Put(ref, alg, tmk, "test", w.now); err != nil {
		w.t.Fatal(err)
	}
	v, err := NewPSAMVendor(ref, alg, tmk)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func randomKey() []byte {
	k := make([]byte, keys.KeyLen)
	for i := range k {
		k[i] = byte(rand.IntN(256))
	}
	return k
}

func (w *world) putKeys(issuer citycard.IssuerCode, alg keys.Alg, v uint8, types ...keys.KeyType) {
	w.t.Helper()
	for _, typ := range types {
		if _, err := w.store.Put(keys.Ref{Issuer: issuer, Type: typ, Version: v}, alg, randomKey(), "test", w.now); err != nil {
			w.t.Fatal(err)
		}
	}
}

// newCard personalizes a card of ours with key sets of versions.
func (w *world) newCard(profile card.Profile, asnLow uint32, versions ...uint8) *card.Card {
	w.t.Helper()
	asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, byte(asnLow >> 24), byte(asnLow >> 16), byte(asnLow >> 8), byte(asnLow)}
	if profile.ASNLen() == 10 {
		asn[0], asn[1] = 0x31, 0x50
	}
	var sets []card.KeySet
	for _, v := range versions {
		ks, err := card.DeriveKeySet(w.store, ourIssuer, asn, v)
		if err != nil {
			w.t.Fatal(err)
		}
		sets = append(sets, ks)
	}
	return w.cardWith(profile, ourIssuer, asn, sets)
}

func (w *world) cardWith(profile card.Profile, issuer citycard.IssuerCode, asn citycard.ASN, sets []card.KeySet) *card.Card {
	w.t.Helper()
	start, _ := citycard.DateTime(day0.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(day0.AddDate(2, 0, 0))
	c, err := card.New(card.Config{
		Profile: profile, Issuer: issuer, ASN: asn, CardType: 1, RiderCategory: 0,
		Start: start, Expiry: expiry, KeySets: sets,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

type testTerminal struct {
	*Terminal
	spool *memSpool
}

func (w *world) terminal(mode Mode, station uint32, fare Fare, bl Blacklist, versions ...uint8) testTerminal {
	w.t.Helper()
	w.n++
	if len(versions) == 0 {
		versions = []uint8{1}
	}
	psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x10, w.n}
	tid := citycard.TerminalID{0x31, 0x50, 0, 0, 0x20, w.n}
	pk := PSAMKeys{Operator: ourIssuer, RecordKeyVersion: 1,
		National: []keys.Ref{{Issuer: nationalIssuer, Type: keys.KeyPurchase, Version: 1}}}
	for _, v := range versions {
		pk.Issuers = append(pk.Issuers,
			keys.Ref{Issuer: ourIssuer, Type: keys.KeyPurchase, Version: v},
			keys.Ref{Issuer: ourIssuer, Type: keys.KeyMaintenance, Version: v})
	}
	if w.concessions != nil {
		pk.Issuers = append(pk.Issuers, keys.Ref{Issuer: ourIssuer, Type: keys.KeyApplication, Version: 1})
	}
	psam := w.vendor.NewPSAM(psamID)
	if err := ProvisionPSAM(w.store, psam, tid, pk, 1); err != nil {
		w.t.Fatal(err)
	}
	sp := newMemSpool()
	term, err := New(Config{
		PSAM: psam, PSAMID: psamID, RecordKeyVersion: 1, Mode: mode, Network: 1, Line: 1, Station: station,
		Fare: fare, Spool: sp, Blacklist: bl, KeyVersions: versions, MaintenanceKeyVersion: versions[0],
		Now: func() time.Time { return w.now }, Concessions: w.concessions,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return testTerminal{term, sp}
}

func (w *world) verifier() *record.Verifier { return record.NewVerifier(w.store, ourIssuer) }

func (w *world) load(c *card.Card, fen uint32) LoadResult {
	w.t.Helper()
	sp := w.terminal(ModePOS, 0, FlatFare{}, nil)
	r, err := sp.Load(c, fen, StoreHost{Store: w.store})
	if err != nil {
		w.t.Fatalf("load %d: %v", fen, err)
	}
	return r
}

var metroFare = SectionFare{Network: 1, BaseFen: 200, BaseStations: 6, StepFen: 100, StepStations: 4, MaxFen: 700}

func TestPurchaseFlows(t *testing.T) {
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		for _, profile := range []card.Profile{card.ProfileCitizen, card.ProfileMOHURD, card.ProfileMoT} {
			t.Run(alg.String()+"/"+profile.String(), func(t *testing.T) {
				w := newWorld(t, alg)
				c := w.newCard(profile, 1, 1)
				lr := w.load(c, 5000)
				if lr.BalanceAfter != 5000 || c.State().BalanceFen != 5000 {
					t.Fatalf("after load: terminal says %d, card holds %d, want 5000", lr.BalanceAfter, c.State().BalanceFen)
				}
				if err := w.verifier().Verify(&lr.Record); err != nil {
					t.Fatalf("load record: %v", err)
				}

				pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
				r, err := pos.Tap(c, 321)
				if err != nil {
					t.Fatal(err)
				}
				if r.BalanceAfter != 5000-321 || c.State().BalanceFen != 5000-321 {
					t.Fatalf("after purchase: terminal says %d, card holds %d, want %d", r.BalanceAfter, c.State().BalanceFen, 5000-321)
				}
				if r.Record.Type != citycard.TxPurchase || r.Record.Amount != 321 || r.Record.BalanceBefore != 5000 || r.Record.Alg != alg {
					t.Fatalf("record %+v", r.Record)
				}
				if err := w.verifier().Verify(&r.Record); err != nil {
					t.Fatalf("purchase record: %v", err)
				}
				if got := pos.spool.pending(t); len(got) != 1 || got[0] != r.Record {
					t.Fatalf("spool holds %d records, want exactly the purchase's", len(got))
				}

				in := w.terminal(ModeTapOn, 3, metroFare, nil)
				out := w.terminal(ModeTapOff, 14, metroFare, nil)
				on, err := in.Tap(c, 0)
				if err != nil {
					t.Fatal(err)
				}
				w.now = w.now.Add(20 * time.Minute)
				off, err := out.Tap(c, 0)
				if err != nil {
					t.Fatal(err)
				}
				// 11 stations: 2.00 for 6, then 1.00 per 4 or part: 2 steps.
				if on.Record.Amount != 0 || off.Record.Amount != 400 {
					t.Fatalf("tap-on charged %d, tap-off %d; want 0 and 400", on.Record.Amount, off.Record.Amount)
				}
				if off.Record.EntryStation != 3 || off.Record.Station != 14 || off.Record.Type != citycard.TxCompositePurchase {
					t.Fatalf("tap-off record: entry %d, station %d, type %02X", off.Record.EntryStation, off.Record.Station, off.Record.Type)
				}
				for _, rec := range []record.Record{on.Record, off.Record} {
					if err := w.verifier().Verify(&rec); err != nil {
						t.Fatalf("composite record: %v", err)
					}
				}
				if got := c.State().BalanceFen; got != 5000-321-400 {
					t.Fatalf("balance %d, want %d", got, 5000-321-400)
				}
			})
		}
	}
}

func TestMissingTapOffChargesMaxFare(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	c := w.newCard(card.ProfileMOHURD, 2, 1)
	w.load(c, 3000)
	in := w.terminal(ModeTapOn, 3, metroFare, nil)
	if r, err := in.Tap(c, 0); err != nil || r.Record.Amount != 0 {
		t.Fatalf("first tap-on: %v, amount %d", err, r.Record.Amount)
	}
	w.now = w.now.Add(3 * time.Hour)
	r, err := in.Tap(c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Record.Amount != metroFare.MaxFen {
		t.Fatalf("tap-on after a missing tap-off charged %d, want the maximum %d", r.Record.Amount, metroFare.MaxFen)
	}
}

func TestExpiredCardRefused(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	c := w.newCard(card.ProfileMoT, 3, 1)
	w.load(c, 1000)
	pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
	before := c.State()
	for _, at := range []time.Time{day0.AddDate(3, 0, 0), day0.AddDate(-2, 0, 0)} {
		w.now = at
		_, err := pos.Tap(c, 100)
		if !errors.Is(err, ErrExpired) || !citycard.IsKind(err, citycard.Conflict) {
			t.Fatalf("tap on %v: %v, want ErrExpired", at, err)
		}
	}
	if after := c.State(); after.BalanceFen != before.BalanceFen || after.OfflineCounter != before.OfflineCounter {
		t.Fatalf("an expired card's balance or counter changed")
	}
	if n := len(pos.spool.pending(t)); n != 0 {
		t.Fatalf("%d records spooled for a refused card", n)
	}
}

type listBL map[citycard.ASN]bool

func (l listBL) Contains(_ citycard.IssuerCode, asn citycard.ASN) bool { return l[asn] }

func TestBlacklistedCardIsBlocked(t *testing.T) {
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		w := newWorld(t, alg)
		c := w.newCard(card.ProfileCitizen, 4, 1)
		w.load(c, 1000)
		asn := c.State().ASN
		pos := w.terminal(ModePOS, 0, FlatFare{}, listBL{asn: true})
		if _, err := pos.Tap(c, 100); !errors.Is(err, ErrBlacklisted) {
			t.Fatalf("%v: blacklisted tap: %v, want ErrBlacklisted", alg, err)
		}
		if !c.State().Blocked {
			t.Fatalf("%v: the card is not blocked", alg)
		}
		// Any other terminal now refuses it, blacklist or not.
		other := w.terminal(ModePOS, 0, FlatFare{}, nil)
		if _, err := other.Tap(c, 100); !errors.Is(err, ErrBlocked) {
			t.Fatalf("%v: blocked card on another terminal: %v, want ErrBlocked", alg, err)
		}
		if got := c.State().BalanceFen; got != 1000 {
			t.Fatalf("%v: blocked card balance %d, want 1000", alg, got)
		}
	}
}

func TestInsufficientBalance(t *testing.T) {
	w := newWorld(t, keys.AlgSM4)
	c := w.newCard(card.ProfileMOHURD, 5, 1)
	w.load(c, 150)
	pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
	_, err := pos.Tap(c, 200)
	if !citycard.IsKind(err, citycard.Insufficient) || SWOf(err) != apdu.SWInsufficientFunds {
		t.Fatalf("tap: %v, want insufficient balance (9401)", err)
	}
	if st := c.State(); st.BalanceFen != 150 || st.OfflineCounter != 0 {
		t.Fatalf("balance %d counter %d after a refused tap", st.BalanceFen, st.OfflineCounter)
	}
	if n := len(pos.spool.pending(t)); n != 0 {
		t.Fatalf("%d records spooled for a refused tap", n)
	}
}

func TestTornPurchaseRecovered(t *testing.T) {
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		w := newWorld(t, alg)
		c := w.newCard(card.ProfileMOHURD, 6, 1)
		w.load(c, 1000)
		pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
		c.Tear(card.TearAfterCommit)
		r, err := pos.Tap(c, 120)
		if !r.Grey || !citycard.IsKind(err, citycard.IO) {
			t.Fatalf("%v: torn tap: grey %v, err %v", alg, r.Grey, err)
		}
		if r.Record.Status != record.StatusGrey || r.Record.TAC != ([4]byte{}) {
			t.Fatalf("%v: grey record %+v", alg, r.Record)
		}
		if c.State().BalanceFen != 880 {
			t.Fatalf("%v: the card committed the debit, balance %d, want 880", alg, c.State().BalanceFen)
		}
		if got := pos.spool.pending(t); len(got) != 1 || got[0].Status != record.StatusGrey {
			t.Fatalf("%v: spool after the tear: %d records", alg, len(got))
		}
		// The rider taps again at once: the terminal recovers the debit and
		// the tap is complete, with nothing more to pay.
		w.now = w.now.Add(time.Minute)
		r2, err := pos.Tap(c, 120)
		if err != nil {
			t.Fatal(err)
		}
		if r2.Recovered == nil || r2.Record != *r2.Recovered {
			t.Fatalf("%v: the retry did not complete the torn tap with the recovered record", alg)
		}
		rec := *r2.Recovered
		if rec.Status != record.StatusRecovered || rec.TerminalSeq != r.Record.TerminalSeq || rec.Counter != r.Record.Counter {
			t.Fatalf("%v: recovered %+v", alg, rec)
		}
		if err := w.verifier().Verify(&rec); err != nil {
			t.Fatalf("%v: recovered record: %v", alg, err)
		}
		if got := pos.spool.pending(t); len(got) != 1 || got[0] != rec {
			t.Fatalf("%v: spool after recovery holds %d records, want the recovered one alone", alg, len(got))
		}
		if c.State().BalanceFen != 880 || r2.BalanceAfter != 880 || pos.Greys() != 0 {
			t.Fatalf("%v: balance %d (terminal says %d), greys %d; want 880 and none", alg, c.State().BalanceFen, r2.BalanceAfter, pos.Greys())
		}

		// Torn again, and the card comes back an hour later: a new tap,
		// after the recovery of the old one.
		c.Tear(card.TearAfterCommit)
		if r, _ = pos.Tap(c, 100); !r.Grey {
			t.Fatalf("%v: second tear left no grey record", alg)
		}
		w.now = w.now.Add(time.Hour)
		r3, err := pos.Tap(c, 50)
		if err != nil {
			t.Fatal(err)
		}
		if r3.Recovered == nil || r3.Recovered.Amount != 100 || r3.Record.Amount != 50 || r3.Record.Status != record.StatusComplete {
			t.Fatalf("%v: late return: recovered %v, new record amount %d", alg, r3.Recovered, r3.Record.Amount)
		}
		if c.State().BalanceFen != 730 {
			t.Fatalf("%v: balance %d, want 730", alg, c.State().BalanceFen)
		}
		if got := pos.spool.pending(t); len(got) != 3 {
			t.Fatalf("%v: spool holds %d records, want 3", alg, len(got))
		}
	}
}

func TestTornBeforeCommitLeavesGrey(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	c := w.newCard(card.ProfileMOHURD, 7, 1)
	w.load(c, 1000)
	pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
	c.Tear(card.TearBeforeCommit)
	r, err := pos.Tap(c, 120)
	if !r.Grey || err == nil {
		t.Fatalf("torn tap: grey %v err %v", r.Grey, err)
	}
	if c.State().BalanceFen != 1000 {
		t.Fatalf("the card tore before committing, balance %d, want 1000", c.State().BalanceFen)
	}
	r2, err := pos.Tap(c, 120)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Recovered != nil {
		t.Fatal("recovered a debit that never happened")
	}
	// The grey record stays for the back office, and the new record reuses
	// the counter, which tells the back office to release it.
	got := pos.spool.pending(t)
	if len(got) != 2 || got[0].Status != record.StatusGrey || got[1].Counter != got[0].Counter {
		t.Fatalf("spool: %d records", len(got))
	}
	if c.State().BalanceFen != 880 {
		t.Fatalf("balance %d, want 880", c.State().BalanceFen)
	}
}

func TestTornLoadRecovered(t *testing.T) {
	w := newWorld(t, keys.AlgSM4)
	c := w.newCard(card.ProfileMoT, 8, 1)
	sp := w.terminal(ModePOS, 0, FlatFare{}, nil)
	host := StoreHost{Store: w.store}
	c.Tear(card.TearAfterCommit)
	if _, err := sp.Load(c, 2000, host); !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("torn load: %v", err)
	}
	r, err := sp.Load(c, 500, host)
	if err != nil {
		t.Fatal(err)
	}
	if r.Recovered == nil || r.Recovered.Amount != 2000 || r.Recovered.Status != record.StatusRecovered {
		t.Fatalf("lost load not recovered: %+v", r.Recovered)
	}
	for _, rec := range []record.Record{*r.Recovered, r.Record} {
		if err := w.verifier().Verify(&rec); err != nil {
			t.Fatalf("load record: %v", err)
		}
	}
	if c.State().BalanceFen != 2500 {
		t.Fatalf("balance %d, want 2500", c.State().BalanceFen)
	}
}

func TestKeyRotation(t *testing.T) {
	w := newWorld(t, keys.Alg3DES, 1, 2)
	old := w.newCard(card.ProfileMOHURD, 9, 1)
	both := w.newCard(card.ProfileMOHURD, 10, 1, 2)
	w.load(old, 1000)
	w.load(both, 1000)
	pos := w.terminal(ModePOS, 0, FlatFare{}, nil, 2, 1)
	for _, tc := range []struct {
		c    *card.Card
		want uint8
	}{{old, 1}, {both, 2}} {
		r, err := pos.Tap(tc.c, 100)
		if err != nil {
			t.Fatal(err)
		}
		if r.Record.KeyVersion != tc.want {
			t.Fatalf("record key version %d, want %d", r.Record.KeyVersion, tc.want)
		}
		if err := w.verifier().Verify(&r.Record); err != nil {
			t.Fatalf("v%d record: %v", tc.want, err)
		}
	}
	// A PSAM with only version 2 cannot serve a card that has only 1.
	v2 := w.terminal(ModePOS, 0, FlatFare{}, nil, 2)
	if _, err := v2.Tap(old, 100); SWOf(err) != apdu.SWKeyIndexUnsupported {
		t.Fatalf("v1 card on a v2 terminal: %v, want 9403", err)
	}
}

// TestLoadKeyRotation: a load terminal holding key versions 2 and 1
// (newest first, as Config.KeyVersions says) loads a card that knows only
// version 1 with version 1, and a card that knows both with version 2,
// as a purchase does (TestKeyRotation): the card names the version in its
// answer to INITIALIZE FOR LOAD, and the host checks MAC1 and the TAC under
// that one. A terminal with only version 2 cannot load a version-1 card.
func TestLoadKeyRotation(t *testing.T) {
	w := newWorld(t, keys.Alg3DES, 1, 2)
	old := w.newCard(card.ProfileMOHURD, 11, 1)
	both := w.newCard(card.ProfileMOHURD, 12, 1, 2)
	host := StoreHost{Store: w.store}
	kiosk := w.terminal(ModePOS, 0, FlatFare{}, nil, 2, 1)
	for _, tc := range []struct {
		c    *card.Card
		want uint8
	}{{old, 1}, {both, 2}} {
		r, err := kiosk.Load(tc.c, 1000, host)
		if err != nil {
			t.Fatalf("load of a card with key v%d: %v", tc.want, err)
		}
		if r.Record.KeyVersion != tc.want || tc.c.State().BalanceFen != 1000 {
			t.Fatalf("load record key version %d, balance %d; want v%d, 1000", r.Record.KeyVersion, tc.c.State().BalanceFen, tc.want)
		}
		if err := w.verifier().Verify(&r.Record); err != nil {
			t.Fatalf("v%d load record: %v", tc.want, err)
		}
	}
	v2 := w.terminal(ModePOS, 0, FlatFare{}, nil, 2)
	if _, err := v2.Load(old, 1000, host); SWOf(err) != apdu.SWKeyIndexUnsupported {
		t.Fatalf("load of a v1 card on a v2 terminal: %v, want 9403", err)
	}
	if got := old.State().BalanceFen; got != 1000 {
		t.Fatalf("balance after the refused load %d, want 1000", got)
	}
}

func TestInterconnectedCard(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	// A card of another city: its purchase key comes from the national
	// master key diversified by its issuer code, then its ASN. We hold none
	// of its issuer's other keys, so its TAC is for its issuer to verify.
	asn := citycard.ASN{0x21, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x42}
	var ks card.KeySet
	ks.Version, ks.Alg = 1, keys.Alg3DES
	if _, err := w.store.DeriveInto(&ks.Purchase, keys.Ref{Issuer: nationalIssuer, Type: keys.KeyPurchase, Version: 1}, foreignIssuer[:], asn.Div()); err != nil {
		t.Fatal(err)
	}
	for i := range ks.TAC {
		ks.TAC[i], ks.Load[i], ks.Maintenance[i] = byte(i), byte(2*i), byte(3*i)
	}
	c := w.cardWith(card.ProfileMoT, foreignIssuer, asn, []card.KeySet{ks})
	// Its issuer loaded it at home; give it a balance the way its host
	// would, with its load key.
	dev := device{name: "card", t: c}
	if _, _, err := dev.send("test", "SELECT", selectCmd(card.ProfileMoT.AID())); err != nil {
		t.Fatal(err)
	}
	loadFromHome(t, dev, ks, 3000)

	pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
	r, err := pos.Tap(c, 250)
	if err != nil {
		t.Fatal(err)
	}
	err = w.verifier().Verify(&r.Record)
	if !record.IsPendingIssuer(err) {
		t.Fatalf("foreign card record: %v, want pending issuer verification", err)
	}
	// The TAC is genuine: its issuer, holding the DTK, verifies it.
	pur := keys.Purchase{Amount: 250, Type: citycard.TxPurchase, TerminalID: r.Record.TerminalID, TerminalSeq: r.Record.TerminalSeq, Date: r.Record.Date, Time: r.Record.Time}
	want, _ := keys.MAC(keys.Alg3DES, keys.TACKey(keys.Alg3DES, ks.TAC[:]), keys.PurchaseTACData(&pur))
	if want != r.Record.TAC {
		t.Fatalf("TAC %X, the issuer computes %X", r.Record.TAC, want)
	}
}

// loadFromHome loads a card as its own issuer's host would.
func loadFromHome(t *testing.T, dev device, ks card.KeySet, fen uint32) {
	t.Helper()
	tid := citycard.TerminalID{0x21, 0, 0, 0, 0, 1}
	data := append([]byte{ks.Version}, u32(fen)...)
	b, _, err := dev.send("test", "INITIALIZE FOR LOAD", apdu.Command{CLA: 0x80, INS: 0x50, P1: 0, P2: 2, Data: append(data, tid[:]...), Le: 16})
	if err != nil {
		t.Fatal(err)
	}
	d, tm := citycard.DateTime(day0)
	l := keys.Load{OnlineCounter: uint16(b[4])<<8 | uint16(b[5]), BalanceBefore: uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]),
		Amount: fen, Type: citycard.TxLoad, TerminalID: tid, Date: d, Time: tm}
	copy(l.Random[:], b[8:12])
	pr, err := keys.LoadProof(ks.Alg, ks.Load[:], ks.TAC[:], &l)
	if err != nil {
		t.Fatal(err)
	}
	credit := append(append(d[:], tm[:]...), pr.MAC2[:]...)
	if _, _, err := dev.send("test", "CREDIT FOR LOAD", apdu.Command{CLA: 0x80, INS: 0x52, Data: credit, Le: 4}); err != nil {
		t.Fatal(err)
	}
}

// TestPropertyConservation: any sequence of loads and purchases keeps the
// card's balance = loads - purchases, counters strictly increase, and
// every record verifies.
func TestPropertyConservation(t *testing.T) {
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		rng := rand.New(rand.NewPCG(1, uint64(alg)))
		w := newWorld(t, alg)
		c := w.newCard(card.ProfileCitizen, 11, 1)
		host := StoreHost{Store: w.store}
		terms := []testTerminal{
			w.terminal(ModePOS, 0, FlatFare{}, nil),
			w.terminal(ModeFlat, 5, FlatFare{Fen: 200}, nil),
			w.terminal(ModeTapOn, 2, metroFare, nil),
			w.terminal(ModeTapOff, 20, metroFare, nil),
		}
		var loads, purchases int64
		lastOffline, lastOnline := -1, -1
		for i := 0; i < 300; i++ {
			w.now = w.now.Add(time.Duration(1+rng.IntN(90)) * time.Minute)
			var rec record.Record
			if rng.IntN(4) == 0 {
				fen := uint32(100 + rng.IntN(5000))
				r, err := terms[0].Load(c, fen, host)
				if citycard.IsKind(err, citycard.Invalid) && SWOf(err) == apdu.SWWrongData {
					continue // the load would pass the card's maximum balance
				}
				if err != nil {
					t.Fatalf("step %d load %d: %v", i, fen, err)
				}
				loads += int64(fen)
				rec = r.Record
				if int(rec.Counter) <= lastOnline {
					t.Fatalf("online counter %d after %d", rec.Counter, lastOnline)
				}
				lastOnline = int(rec.Counter)
			} else {
				tt := terms[rng.IntN(len(terms))]
				r, err := tt.Tap(c, uint32(1+rng.IntN(800)))
				if citycard.IsKind(err, citycard.Insufficient) {
					continue
				}
				if err != nil {
					t.Fatalf("step %d tap (%v): %v", i, tt.cfg.Mode, err)
				}
				purchases += int64(r.Record.Amount)
				rec = r.Record
				if int(rec.Counter) <= lastOffline {
					t.Fatalf("offline counter %d after %d", rec.Counter, lastOffline)
				}
				lastOffline = int(rec.Counter)
			}
			if err := w.verifier().Verify(&rec); err != nil {
				t.Fatalf("step %d: record does not verify: %v", i, err)
			}
			if got := int64(c.State().BalanceFen); got != loads-purchases {
				t.Fatalf("step %d: balance %d, loads - purchases = %d", i, got, loads-purchases)
			}
		}
		if lastOffline < 100 || lastOnline < 20 {
			t.Fatalf("too few transactions: %d purchases, %d loads", lastOffline+1, lastOnline+1)
		}
	}
}

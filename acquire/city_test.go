package acquire

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// The test city makes records the way devices really do: virtual cards
// personalized from the key store, PSAMs, terminals running the APDU
// flows. acquire is tested against exactly what they send.

var (
	ourIssuer      = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	foreignIssuer  = citycard.IssuerCode{0x21, 0x00, 0x00, 0x07, 0xFF, 0xFF, 0xFF, 0xFF}
	nationalIssuer = citycard.IssuerCode{0, 0, 0, 0, 0, 0, 0, 1}
	day0           = time.Date(2026, 11, 24, 7, 0, 0, 0, citycard.ChinaTime)
)

// spool captures what a terminal spools, in order, and what it acks.
type spool struct {
	mu    sync.Mutex
	next  uint64
	recs  map[uint64][]byte
	order []uint64
}

func (s *spool) Append(b []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs == nil {
		s.recs = map[uint64][]byte{}
	}
	s.next++
	s.recs[s.next] = append([]byte(nil), b...)
	s.order = append(s.order, s.next)
	return s.next, nil
}

func (s *spool) Ack(seqs ...uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range seqs {
		delete(s.recs, q)
	}
	return nil
}

// take returns the records not acked, oldest first, and forgets them.
func (s *spool) take() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, q := range s.order {
		if r, ok := s.recs[q]; ok {
			out = append(out, r)
			delete(s.recs, q)
		}
	}
	s.order = nil
	return out
}

type fakeRegistry struct {
	mu    sync.Mutex
	terms TerminalMap
}

func (r *fakeRegistry) Terminal(ctx context.Context, id citycard.TerminalID) (TerminalInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.terms.Terminal(ctx, id)
}

func (r *fakeRegistry) set(t TerminalInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.terms[t.ID] = t
}

type city struct {
	t      *testing.T
	store  *keys.MemStore
	vendor *terminal.PSAMVendor // the PSAMs' vendor, holding its copy of the transport master key
	reg    *fakeRegistry
	now    time.Time
	n      byte
}

func newCity(t *testing.T) *city {
	t.Helper()
	c := &city{t: t, store: keys.NewMemStore(), reg: &fakeRegistry{terms: TerminalMap{}}, now: day0}
	put := func(issuer citycard.IssuerCode, typ keys.KeyType) []byte {
		k := make([]byte, keys.KeyLen)
		for i := range k {
			k[i] = byte(rand.IntN(256))
		}
		if _, err := c.store.Put(keys.Ref{Issuer: issuer, Type: typ, Version: 1}, keys.Alg3DES, k, "test", day0); err != nil {
			t.Fatal(err)
		}
		return k
	}
	for _, typ := range append(slices.Clone(keys.CardKeyTypes), keys.KeyRecord) {
		put(ourIssuer, typ)
	}
	put(nationalIssuer, keys.KeyPurchase)
	var err error
	c.vendor, err = terminal.NewPSAMVendor(keys.Ref{Issuer: ourIssuer, Type: keys.KeyTransport, Version: 1}, keys.Alg3DES, put(ourIssuer, keys.KeyTransport))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type device struct {
	*terminal.Terminal
	spool *spool
	id    citycard.TerminalID
	psam  citycard.PSAMID
}

func (c *city) device(mode terminal.Mode, operator string) *device {
	c.t.Helper()
	return c.deviceOf(mode, operator, ourIssuer)
}

// deviceOf is a device of an operator whose code is code: its PSAM seals
// records under code's record key.
func (c *city) deviceOf(mode terminal.Mode, operator string, code citycard.IssuerCode) *device {
	c.t.Helper()
	c.n++
	psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x10, c.n}
	tid := citycard.TerminalID{0x31, 0x50, 0, 0, 0x20, c.n}
	psam := c.vendor.NewPSAM(psamID)
	if err := terminal.ProvisionPSAM(c.store, psam, tid, terminal.PSAMKeys{
		Operator: code, RecordKeyVersion: 1,
		Issuers: []keys.Ref{
			{Issuer: ourIssuer, Type: keys.KeyPurchase, Version: 1},
			{Issuer: ourIssuer, Type: keys.KeyMaintenance, Version: 1},
		},
		National: []keys.Ref{{Issuer: nationalIssuer, Type: keys.KeyPurchase, Version: 1}},
	}, 1); err != nil {
		c.t.Fatal(err)
	}
	sp := &spool{}
	fare := terminal.Fare(terminal.FlatFare{Fen: 200})
	if mode == terminal.ModeTapOn || mode == terminal.ModeTapOff {
		fare = terminal.SectionFare{Network: 1, BaseFen: 200, BaseStations: 6, StepFen: 100, StepStations: 4, MaxFen: 700}
	}
	term, err := terminal.New(terminal.Config{
		PSAM: psam, PSAMID: psamID, RecordKeyVersion: 1, Mode: mode, Network: 1, Line: 1, Station: uint32(c.n),
		Fare: fare, Spool: sp, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1,
		Now: func() time.Time { return c.now },
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.reg.set(TerminalInfo{ID: tid, PSAM: psamID, Operator: operator, OperatorCode: code, Active: true})
	return &device{Terminal: term, spool: sp, id: tid, psam: psamID}
}

func (c *city) card(n uint32) *card.Card {
	c.t.Helper()
	asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	ks, err := card.DeriveKeySet(c.store, ourIssuer, asn, 1)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.cardWith(ourIssuer, asn, ks, 100000)
}

func (c *city) cardWith(issuer citycard.IssuerCode, asn citycard.ASN, ks card.KeySet, balance uint32) *card.Card {
	c.t.Helper()
	start, _ := citycard.DateTime(day0.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(day0.AddDate(3, 0, 0))
	profile := card.ProfileMOHURD
	if !asn.Short() {
		profile = card.ProfileMoT
	}
	cd, err := card.New(card.Config{Profile: profile, Issuer: issuer, ASN: asn, CardType: 1,
		Start: start, Expiry: expiry, KeySets: []card.KeySet{ks}, InitialBalanceFen: balance, BalanceMaxFen: 200000})
	if err != nil {
		c.t.Fatal(err)
	}
	return cd
}

// foreignCard is another city's card, whose purchase key comes from the
// national master key; we hold none of its issuer's keys.
func (c *city) foreignCard(n byte) *card.Card {
	c.t.Helper()
	asn := citycard.ASN{0x21, 0x00, 0, 0, 0, 0, 0, 0, 0, n}
	ks := card.KeySet{Version: 1, Alg: keys.Alg3DES}
	if _, err := c.store.DeriveInto(&ks.Purchase, keys.Ref{Issuer: nationalIssuer, Type: keys.KeyPurchase, Version: 1}, foreignIssuer[:], asn.Div()); err != nil {
		c.t.Fatal(err)
	}
	for i := range ks.TAC {
		ks.TAC[i], ks.Load[i], ks.Maintenance[i] = byte(i)+n, byte(2*i), byte(3*i)
	}
	return c.cardWith(foreignIssuer, asn, ks, 5000)
}

func (c *city) tap(d *device, cd *card.Card, fen uint32) terminal.Result {
	c.t.Helper()
	c.now = c.now.Add(time.Minute)
	r, err := d.Tap(cd, fen)
	if err != nil {
		c.t.Fatalf("tap: %v", err)
	}
	return r
}

func batchOf(tid citycard.TerminalID, id string, recs [][]byte) Batch {
	b := Batch{Terminal: tid, ID: id, Count: len(recs)}
	for _, r := range recs {
		b.Body = append(b.Body, r...)
		fen, _ := record.AmountOf(r)
		b.AmountFen += int64(fen)
	}
	return b
}

// job makes the job Submit would hand the sequencer for b.
func (c *city) job(a *Acquirer, b Batch) *job {
	c.t.Helper()
	info, err := c.reg.Terminal(context.Background(), b.Terminal)
	if err != nil && !citycard.IsKind(err, citycard.NotFound) {
		c.t.Fatal(err)
	}
	return &job{b: b, hash: batchHash(&b), info: info, items: a.verify(b.Terminal, b.Body, info, err == nil), reply: make(chan jobResult, 1)}
}

func (c *city) verifier() *record.Verifier { return record.NewVerifier(c.store, ourIssuer) }

func (c *city) clock() time.Time { return c.now }

func (c *city) open(j Journal) *Acquirer {
	c.t.Helper()
	a, err := Open(context.Background(), Config{
		Journal: j, Terminals: c.reg, Verifier: record.NewVerifier(c.store, ourIssuer),
		Now: func() time.Time { return c.now }, Shards: 4,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return a
}

// newBackOffice returns a city, an empty journal and an acquirer over it,
// closed when the test ends.
func newBackOffice(t *testing.T) (*city, *MemJournal, *Acquirer) {
	t.Helper()
	c := newCity(t)
	j := NewMemJournal()
	a := c.open(j)
	t.Cleanup(func() { a.Close() })
	return c, j, a
}

func submit(t *testing.T, a *Acquirer, b Batch) Answer {
	t.Helper()
	ans, err := a.Submit(context.Background(), b)
	if err != nil {
		t.Fatalf("submit %s: %v", b.ID, err)
	}
	return ans
}

func verdicts(ans Answer) []string {
	var out []string
	for _, r := range ans.Records {
		s := r.Status
		if len(r.Reasons) > 0 {
			s += fmt.Sprint(r.Reasons)
		}
		out = append(out, s)
	}
	return out
}

// booked sums the movements by account: debits negative, credits positive.
func booked(j *MemJournal) map[string]int64 {
	out := map[string]int64{}
	for _, ms := range j.Movements() {
		for _, m := range ms {
			out[m.Debit.String()] -= m.AmountFen
			out[m.Credit.String()] += m.AmountFen
		}
	}
	return out
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

func itoa(n int) string { return fmt.Sprint(n) }

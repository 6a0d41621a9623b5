package sim

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// DeviceCity is a small city of real devices: virtual CPU cards
// (card.Card) and terminals (terminal.Terminal) with their PSAMs, running
// the APDU flows. Its records are exactly what devices make: composite
// purchases with their entries, fares priced through the card's transit
// file (transfers, a missing tap-off's maximum fare, passes), which City's
// plain purchases are not. It is a rig of a few devices that a test taps
// one by one, in process, and whose records it uploads as it likes (each
// tap is the whole exchange, its MACs and the terminal's pricing: for a
// few thousand taps); City makes a Beijing-sized day of plain purchases
// fast, and package sim/city runs a whole city's days, its devices
// uploading over HTTP to a back office, with faults.
type DeviceCity struct {
	Store     *keys.MemStore
	Terminals []*DeviceTerminal
	Cards     []*card.Card
	now       time.Time
}

// DeviceStop is where a terminal of a DeviceCity stands and what it does.
type DeviceStop struct {
	Mode    terminal.Mode // ModeFlat (a bus validator), ModeTapOn or ModeTapOff (gates), ModePOS
	Network uint16
	Line    uint32
	Station uint32
}

// DeviceTerminal is a terminal of a DeviceCity with its registration.
type DeviceTerminal struct {
	*terminal.Terminal
	DeviceStop
	ID           citycard.TerminalID
	PSAM         citycard.PSAMID
	Operator     string              // party ID of its operator: "transit"
	OperatorCode citycard.IssuerCode // OperatorCode(0): its PSAM seals under that record key
	spool        *Spool
}

// DeviceCard is a card to issue in a DeviceCity.
type DeviceCard struct {
	RiderCategory uint8
	CardType      uint8
	BalanceFen    uint32         // its balance at issue; 0: 500.00 yuan
	Products      []card.Product // products written into its transit file at issue
}

// DeviceConfig sizes a DeviceCity.
type DeviceConfig struct {
	Seed  uint64 // draws the master keys: the same seed, the same keys
	Alg   keys.Alg
	Fare  terminal.Fare // every terminal prices with it
	Stops []DeviceStop  // one terminal each
	Cards []DeviceCard  // our issuer's cards (MOHURD profile), ASN low bytes 1, 2, ...
	Start time.Time     // the first day the cards are valid; zero: 2026-11-24
}

// NewDeviceCity issues the keys (our issuer's card keys, the operator's
// record key, a PSAM transport key), provisions a PSAM per stop, and
// personalizes the cards. Kind Invalid for a config without stops, cards
// or fare.
func NewDeviceCity(cfg DeviceConfig) (*DeviceCity, error) {
	const op = "sim.NewDeviceCity"
	if len(cfg.Stops) == 0 || len(cfg.Cards) == 0 || cfg.Fare == nil {
		return nil, citycard.E(op, citycard.Invalid, "a device city needs stops, cards and a fare: %d, %d", len(cfg.Stops), len(cfg.Cards))
	}
	if len(cfg.Stops) > 1<<16 || len(cfg.Cards) > 1<<24 {
		return nil, citycard.E(op, citycard.Invalid, "at most 65536 stops and 2^24 cards")
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 24, 0, 0, 0, 0, citycard.ChinaTime)
	}
	rng := rand.New(rand.NewChaCha8(seed32(cfg.Seed ^ 0xD5)))
	key := func() []byte {
		k := make([]byte, keys.KeyLen)
		for i := range k {
			k[i] = byte(rng.UintN(256))
		}
		return k
	}
	c := &DeviceCity{Store: keys.NewMemStore(), now: cfg.Start}
	put := func(ref keys.Ref) ([]byte, error) {
		k := key()
		_, err := c.Store.Put(ref, cfg.Alg, k, "simulated", cfg.Start)
		return k, err
	}
	for _, t := range keys.CardKeyTypes {
		if _, err := put(keys.Ref{Issuer: Issuer, Type: t, Version: 1}); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
	}
	code := OperatorCode(0)
	if _, err := put(keys.Ref{Issuer: code, Type: keys.KeyRecord, Version: 1}); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	transport := keys.Ref{Issuer: Issuer, Type: keys.KeyTransport, Version: 1}
	tmk, err := put(transport)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	vendor, err := terminal.NewPSAMVendor(transport, cfg.Alg, tmk)
	clear(tmk)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	for i, s := range cfg.Stops {
		tid := citycard.TerminalID{0x31, 0x50, 0x02, 0x00, byte(i >> 8), byte(i)}
		psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0x02, 0x00, byte(i >> 8), byte(i)}
		psam := vendor.NewPSAM(psamID)
		err := terminal.ProvisionPSAM(c.Store, psam, tid, terminal.PSAMKeys{
			Operator: code, RecordKeyVersion: 1,
			Issuers: []keys.Ref{{Issuer: Issuer, Type: keys.KeyPurchase, Version: 1}, {Issuer: Issuer, Type: keys.KeyMaintenance, Version: 1}},
		}, 1)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		sp := NewSpool()
		term, err := terminal.New(terminal.Config{
			PSAM: psam, PSAMID: psamID, RecordKeyVersion: 1, Mode: s.Mode, Network: s.Network, Line: s.Line, Station: s.Station,
			Fare: cfg.Fare, Spool: sp, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1,
			Now: func() time.Time { return c.now },
		})
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		c.Terminals = append(c.Terminals, &DeviceTerminal{Terminal: term, DeviceStop: s, ID: tid, PSAM: psamID,
			Operator: "transit", OperatorCode: code, spool: sp})
	}
	start, _ := citycard.DateTime(cfg.Start.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(cfg.Start.AddDate(3, 0, 0))
	for i, dc := range cfg.Cards {
		n := i + 1
		asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0x02, 0, byte(n >> 16), byte(n >> 8), byte(n)}
		ks, err := card.DeriveKeySet(c.Store, Issuer, asn, 1)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		balance := dc.BalanceFen
		if balance == 0 {
			balance = 50000
		}
		cd, err := card.New(card.Config{Profile: card.ProfileMOHURD, Issuer: Issuer, ASN: asn, CardType: dc.CardType, RiderCategory: dc.RiderCategory,
			Start: start, Expiry: expiry, KeySets: []card.KeySet{ks}, InitialBalanceFen: balance, BalanceMaxFen: 200000})
		if err != nil {
			return nil, citycard.E(op, citycard.KindOf(err), "card %d: %w", n, err)
		}
		for _, p := range dc.Products {
			if err := cd.SetProduct(p); err != nil {
				return nil, citycard.E(op, citycard.KindOf(err), "card %d: %w", n, err)
			}
		}
		c.Cards = append(c.Cards, cd)
	}
	return c, nil
}

// Tap taps card i on stop s's terminal at at (China time), with amountFen
// for a POS. The terminal's error is returned as it is.
func (c *DeviceCity) Tap(i, s int, at time.Time, amountFen uint32) (terminal.Result, error) {
	c.now = at
	return c.Terminals[s].Tap(c.Cards[i], amountFen)
}

// Uploads returns each terminal's spooled records (those not taken
// before), in the order its PSAM sealed them, and forgets them: the
// terminals' next uploads.
func (c *DeviceCity) Uploads() []Upload {
	ups := make([]Upload, 0, len(c.Terminals))
	for _, t := range c.Terminals {
		recs := t.spool.Take()
		u := Upload{Terminal: &Terminal{ID: t.ID, PSAM: t.PSAM, Operator: t.Operator, OperatorCode: t.OperatorCode, Line: t.Line, Station: t.Station},
			Records: recs, Genuine: len(recs)}
		for _, r := range recs {
			if fen, ok := record.AmountOf(r); ok {
				u.GenuineFen += int64(fen)
			}
		}
		ups = append(ups, u)
	}
	return ups
}

// Spool is a terminal's spool in memory (terminal.Spool): what it
// appended and did not ack, in order. It is safe for concurrent use.
type Spool struct {
	mu    sync.Mutex
	next  uint64
	recs  map[uint64][]byte
	order []uint64
}

// Append implements terminal.Spool.
func (s *Spool) Append(b []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.recs[s.next] = append([]byte(nil), b...)
	s.order = append(s.order, s.next)
	return s.next, nil
}

// Ack implements terminal.Spool.
func (s *Spool) Ack(seqs ...uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range seqs {
		delete(s.recs, q)
	}
	return nil
}

// Take returns the records appended and not acked since the last Take,
// in the order appended, and forgets them.
func (s *Spool) Take() [][]byte {
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

// NewSpool returns an empty Spool.
func NewSpool() *Spool { return &Spool{recs: map[uint64][]byte{}} }

// Package interoptest simulates the two ends of the interconnection for
// tests: cities of real devices (virtual cards and terminals with their
// PSAMs, from packages card and terminal, as sim.DeviceCity builds them),
// each with its own issuer keys, sharing the national interconnection
// purchase key; and the counterpart city's side of the files: it verifies
// our OUT file's records of its cards by their TACs and answers, and
// writes the INC file of our cards' records taken on its terminals.
package interoptest

import (
	"math/rand/v2"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

// National is where each city's key store keeps the national
// interconnection purchase master key: PSAMs derive every interconnected
// card's purchase key from it, two levels deep (issuer code, then ASN).
var National = citycard.IssuerCode{0, 0, 0, 0, 0, 0, 0, 1}

// City is one city of the interconnection: its institution (the issuer
// of its cards), its key store (its own: its card keys, its operator's
// record key, its PSAM transport key and the national key), one operator
// with its terminals, and its cards.
type City struct {
	Code         citycard.IssuerCode
	Store        *keys.MemStore
	Operator     string              // its operator's party ID
	OperatorCode citycard.IssuerCode // where its operator's record master key is kept
	Terminals    []*Terminal
	Cards        []*card.Card
	rng          *rand.Rand
	cardRand     *rand.ChaCha8 // the cards' randoms
	alg          keys.Alg
	start        time.Time
	now          time.Time
	vendor       *terminal.PSAMVendor
	cards        *Cards // its cards' histories, from the answers it made
}

// Terminal is a city's terminal: a POS with its PSAM and its spool.
type Terminal struct {
	*terminal.Terminal
	ID    citycard.TerminalID
	PSAM  citycard.PSAMID
	spool *sim.Spool
}

// Config sizes a City.
type Config struct {
	Seed      uint64
	Code      citycard.IssuerCode // its institution; its city code is the first two bytes
	National  []byte              // the national key's material, the same in every city
	Operator  string
	Terminals int
	Cards     int
	Start     time.Time // the first day its cards are valid
}

// NewCity makes a city: its master keys drawn from the seed, its PSAMs
// provisioned with the national key (so that they take every
// interconnected card), and its cards personalized with a purchase key
// from the national key and their other keys from the city's own master
// keys, which no other city holds. Kinds of the packages it calls.
func NewCity(cfg Config) (*City, error) {
	const op = "interoptest.NewCity"
	c := &City{Code: cfg.Code, Store: keys.NewMemStore(), Operator: cfg.Operator, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Code[0])<<8|uint64(cfg.Code[1]))),
		alg: keys.Alg3DES, start: cfg.Start, now: cfg.Start}
	var seed [32]byte
	seed[0], seed[1], seed[2] = byte(cfg.Seed), cfg.Code[0], cfg.Code[1]
	c.cardRand = rand.NewChaCha8(seed)
	c.OperatorCode = citycard.IssuerCode{cfg.Code[0], cfg.Code[1], 0x09, 0, 0, 0xFF, 0xFF, 0xFF}
	put := func(ref keys.Ref, k []byte) ([]byte, error) {
		if k == nil {
			k = c.key()
		}
		_, err := c.Store.Put(ref, c.alg, k, "simulated", cfg.Start.AddDate(-1, 0, 0))
		return k, err
	}
	refs := []keys.Ref{{Issuer: National, Type: keys.KeyPurchase, Version: 1}, {Issuer: c.OperatorCode, Type: keys.KeyRecord, Version: 1}}
	for _, t := range keys.CardKeyTypes {
		refs = append(refs, keys.Ref{Issuer: c.Code, Type: t, Version: 1})
	}
	for i, ref := range refs {
		var k []byte
		if i == 0 {
			k = cfg.National
		}
		if _, err := put(ref, k); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
	}
	transport := keys.Ref{Issuer: c.Code, Type: keys.KeyTransport, Version: 1}
	tk, err := put(transport, nil)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	c.vendor, err = terminal.NewPSAMVendor(transport, c.alg, tk)
	clear(tk)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	for i := range cfg.Terminals {
		if err := c.addTerminal(i); err != nil {
			return nil, citycard.E(op, citycard.KindOf(err), "terminal %d: %w", i, err)
		}
	}
	for i := range cfg.Cards {
		cd, err := c.newCard(i+1, false)
		if err != nil {
			return nil, citycard.E(op, citycard.KindOf(err), "card %d: %w", i+1, err)
		}
		c.Cards = append(c.Cards, cd)
	}
	return c, nil
}

func (c *City) key() []byte {
	k := make([]byte, keys.KeyLen)
	for i := range k {
		k[i] = byte(c.rng.UintN(256))
	}
	return k
}

func (c *City) addTerminal(i int) error {
	tid := citycard.TerminalID{c.Code[0], c.Code[1], 0x03, 0x00, byte(i >> 8), byte(i)}
	psamID := citycard.PSAMID{c.Code[0], c.Code[1], 0, 0, 0, 0, 0x03, 0x00, byte(i >> 8), byte(i)}
	psam := c.vendor.NewPSAM(psamID)
	err := terminal.ProvisionPSAM(c.Store, psam, tid, terminal.PSAMKeys{Operator: c.OperatorCode, RecordKeyVersion: 1,
		Issuers:  []keys.Ref{{Issuer: c.Code, Type: keys.KeyMaintenance, Version: 1}},
		National: []keys.Ref{{Issuer: National, Type: keys.KeyPurchase, Version: 1}}}, 1)
	if err != nil {
		return err
	}
	sp := sim.NewSpool()
	t, err := terminal.New(terminal.Config{PSAM: psam, PSAMID: psamID, RecordKeyVersion: 1, Mode: terminal.ModePOS, Fare: terminal.FlatFare{},
		Spool: sp, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1, Now: func() time.Time { return c.now }})
	if err != nil {
		return err
	}
	c.Terminals = append(c.Terminals, &Terminal{Terminal: t, ID: tid, PSAM: psamID, spool: sp})
	return nil
}

// newCard personalizes card n: its purchase key from the national key,
// its TAC, load and maintenance keys from the city's master keys, or,
// for a counterfeit, a TAC key made up (the card takes purchases, since
// its purchase key is right, but its TACs verify under no issuer's key).
func (c *City) newCard(n int, counterfeit bool) (*card.Card, error) {
	asn := citycard.ASN{0, 0, c.Code[0], c.Code[1], 0, 0x02, 0, byte(n >> 16), byte(n >> 8), byte(n)}
	ks := card.KeySet{Version: 1}
	alg, err := c.Store.DeriveInto(&ks.Purchase, keys.Ref{Issuer: National, Type: keys.KeyPurchase, Version: 1}, c.Code[:], asn.Div())
	if err != nil {
		return nil, err
	}
	ks.Alg = alg
	for t, dst := range map[keys.KeyType]*[keys.KeyLen]byte{keys.KeyLoad: &ks.Load, keys.KeyTAC: &ks.TAC, keys.KeyMaintenance: &ks.Maintenance} {
		if _, err := c.Store.DeriveInto(dst, keys.Ref{Issuer: c.Code, Type: t, Version: 1}, asn.Div()); err != nil {
			return nil, err
		}
	}
	if counterfeit {
		copy(ks.TAC[:], c.key())
	}
	from, _ := citycard.DateTime(c.start.AddDate(-1, 0, 0))
	to, _ := citycard.DateTime(c.start.AddDate(3, 0, 0))
	return card.New(card.Config{Profile: card.ProfileMOHURD, Issuer: c.Code, ASN: asn, CardType: 2, Start: from, Expiry: to,
		KeySets: []card.KeySet{ks}, InitialBalanceFen: 50000, BalanceMaxFen: 200000, Rand: c.cardRand})
}

// Counterfeit returns a card that passes for one of the city's (its
// issuer code and an ASN of its range) and takes purchases, but whose
// TACs verify under no key of the city's: what its issuer rejects.
func (c *City) Counterfeit() (*card.Card, error) { return c.newCard(1<<16+len(c.Cards), true) }

// Tap taps cd on terminal t at at (China time) for amountFen.
func (c *City) Tap(cd *card.Card, t int, at time.Time, amountFen uint32) (record.Record, error) {
	c.now = at
	r, err := c.Terminals[t].Tap(cd, amountFen)
	return r.Record, err
}

// Take returns each terminal's records spooled since the last Take, by
// terminal, in the order its PSAM sealed them.
func (c *City) Take() [][][]byte {
	out := make([][][]byte, len(c.Terminals))
	for i, t := range c.Terminals {
		out[i] = t.spool.Take()
	}
	return out
}

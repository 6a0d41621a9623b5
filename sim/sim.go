// Package sim is the city simulator: issuers' keys, cards, terminals with
// their PSAMs, and the records they make, for the benchmarks, the demo and
// whole-system tests. This first part makes genuine sealed records fast:
// the same MACs the card and the PSAM compute (keys.PurchaseProof's TAC,
// record.ComputeMAC), without the APDU exchange, so that a Beijing-sized
// day of 20M records is ready in seconds, not hours. The APDU-level
// devices (card, terminal) are tested to make exactly these bytes.
package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// Issuer is the issuer code of the simulated city (ours): city code 3150.
var Issuer = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}

// OperatorCode is the code of the simulated city's operator i (of
// City.Operators): the issuer code its record master key is kept under.
func OperatorCode(i int) citycard.IssuerCode {
	return citycard.IssuerCode{0x31, 0x50, 0x09, byte(i >> 8), byte(i), 0xFF, 0xFF, 0xFF}
}

// Terminal is a simulated terminal with its PSAM.
type Terminal struct {
	ID       citycard.TerminalID
	PSAM     citycard.PSAMID
	Operator string // party ID of its operator
	// OperatorCode is its operator's code: the PSAM's record key is
	// diversified from the record master key kept under it.
	OperatorCode citycard.IssuerCode
	Line         uint32
	Station      uint32
	seq          uint32
	mac          *keys.MACKey // the PSAM's record MAC key, prepared
}

// Card is a simulated card of ours.
type Card struct {
	ASN     citycard.ASN
	dtk     [keys.KeyLen]byte
	counter uint16
	balance uint32
}

// City is a simulated city: its key store, terminals and cards.
type City struct {
	Store     keys.Store
	Alg       keys.Alg
	Operators []string
	// OperatorCodes are the operators' codes, in the order of Operators
	// (OperatorCode(i)).
	OperatorCodes []citycard.IssuerCode
	Terminals     []*Terminal
	Cards         []*Card
	Start         time.Time // the day's first tap
}

// Config sizes a City.
type Config struct {
	Seed      uint64
	Alg       keys.Alg
	Terminals int
	Cards     int
	Operators []string // default: bus, metro
	Start     time.Time
	// BalanceFen is each card's starting balance; 0: 1,000,000.
	BalanceFen uint32
	// Keys, if not nil, is a key store holding our issuer's master keys
	// (version 1 of the card key types) and version 1 of the record key of
	// each operator (under OperatorCode(i)): the city uses them instead of
	// drawing its own.
	Keys keys.Store
}

// NewCity makes a city: master keys (drawn from the seed: the same seed
// gives the same city), terminals spread over the operators, and cards
// whose keys are diversified from the master keys.
func NewCity(cfg Config) (*City, error) {
	const op = "sim.NewCity"
	if cfg.Terminals <= 0 || cfg.Cards <= 0 {
		return nil, citycard.E(op, citycard.Invalid, "a city needs terminals and cards: %d and %d", cfg.Terminals, cfg.Cards)
	}
	if cfg.Cards > 1<<32-1 || cfg.Terminals > 1<<16 {
		return nil, citycard.E(op, citycard.Invalid, "at most 2^32-1 cards and 65536 terminals")
	}
	if len(cfg.Operators) == 0 {
		cfg.Operators = []string{"bus", "metro"}
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 24, 6, 0, 0, 0, citycard.ChinaTime)
	}
	if cfg.BalanceFen == 0 {
		cfg.BalanceFen = 1000000
	}
	rng := rand.New(rand.NewChaCha8(seed32(cfg.Seed)))
	c := &City{Store: cfg.Keys, Alg: cfg.Alg, Operators: cfg.Operators, Start: cfg.Start}
	for i := range cfg.Operators {
		c.OperatorCodes = append(c.OperatorCodes, OperatorCode(i))
	}
	if c.Store == nil {
		mem := keys.NewMemStore()
		refs := []keys.Ref{}
		for _, t := range keys.CardKeyTypes {
			refs = append(refs, keys.Ref{Issuer: Issuer, Type: t, Version: 1})
		}
		for _, code := range c.OperatorCodes {
			refs = append(refs, keys.Ref{Issuer: code, Type: keys.KeyRecord, Version: 1})
		}
		for _, ref := range refs {
			k := make([]byte, keys.KeyLen)
			for i := range k {
				k[i] = byte(rng.UintN(256))
			}
			if _, err := mem.Put(ref, cfg.Alg, k, "simulated", cfg.Start); err != nil {
				return nil, citycard.Wrap(op, citycard.Other, err)
			}
		}
		c.Store = mem
	}
	for i := 0; i < cfg.Terminals; i++ {
		t := &Terminal{
			ID:       citycard.TerminalID{0x31, 0x50, 0x01, 0x00, byte(i >> 8), byte(i)},
			PSAM:     citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0x01, 0x00, byte(i >> 8), byte(i)},
			Operator: cfg.Operators[i%len(cfg.Operators)], OperatorCode: c.OperatorCodes[i%len(cfg.Operators)],
			Line: uint32(1 + i%40), Station: uint32(1 + i%97), seq: 1,
		}
		var pk [keys.KeyLen]byte
		alg, err := c.Store.DeriveInto(&pk, keys.Ref{Issuer: t.OperatorCode, Type: keys.KeyRecord, Version: 1}, t.PSAM.Div())
		if err != nil {
			return nil, citycard.E(op, citycard.KindOf(err), "terminal %v: the record key of its operator %s (%v): %w", t.ID, t.Operator, t.OperatorCode, err)
		}
		if t.mac, err = keys.NewMACKey(alg, pk[:]); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		c.Terminals = append(c.Terminals, t)
	}
	c.Cards = make([]*Card, cfg.Cards)
	cards := make([]Card, cfg.Cards)
	parallel(cfg.Cards, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			cd := &cards[i]
			cd.ASN = citycard.ASN{0, 0, 0x31, 0x50, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			cd.balance = cfg.BalanceFen
			if _, err := c.Store.DeriveInto(&cd.dtk, keys.Ref{Issuer: Issuer, Type: keys.KeyTAC, Version: 1}, cd.ASN.Div()); err != nil {
				panic("sim: TAC key put above is missing: " + err.Error())
			}
			c.Cards[i] = cd
		}
	})
	return c, nil
}

func seed32(s uint64) [32]byte {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[:], s)
	copy(b[8:], "citycard simulated city")
	return b
}

// parallel runs fn over [0, n) in chunks on every core.
func parallel(n int, fn func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	step := (n + w - 1) / w
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// Upload is one terminal's records, in the order its PSAM sealed them.
type Upload struct {
	Terminal *Terminal
	Records  [][]byte
	// Genuine is how many of Records are genuine (the rest are the
	// duplicates and forgeries mixed in), and GenuineFen their amount.
	Genuine    int
	GenuineFen int64
}

// Day makes n genuine purchase records: each tap a card (cards in turn,
// so every card rides about n/len(Cards) times, its counter and balance
// following), a terminal (in turn), an amount of 1.00 to 4.00 yuan.
// Records are returned per terminal, in sealing order. progress, if not
// nil, is called now and then with the number made so far.
func (c *City) Day(n int, progress func(done int)) []Upload {
	ups := make([]Upload, len(c.Terminals))
	// Plan sequentially (cheap), seal in parallel (the cost).
	type tap struct {
		card, term int
		counter    uint16
		before     uint32
		amount     uint32
		seq        uint32
		at         time.Duration // after the day's start; no pointer, so the GC skips the plan
		slot       int           // index in its terminal's records
	}
	taps := make([]tap, n)
	step := 16 * time.Hour / time.Duration(max(n, 1))
	for i := range taps {
		cd := c.Cards[i%len(c.Cards)]
		ti := (i/len(c.Cards)*7919 + i) % len(c.Terminals)
		t := c.Terminals[ti]
		amount := uint32(100 + (i*37)%301)
		if cd.balance < amount {
			amount = 0
		}
		taps[i] = tap{card: i % len(c.Cards), term: ti, counter: cd.counter, before: cd.balance, amount: amount, seq: t.seq, at: time.Duration(i) * step, slot: ups[ti].Genuine}
		cd.counter++
		cd.balance -= amount
		t.seq++
		ups[ti].Genuine++
		ups[ti].GenuineFen += int64(amount)
	}
	for i, t := range c.Terminals {
		ups[i].Terminal = t
		ups[i].Records = make([][]byte, ups[i].Genuine)
	}
	var done int64
	var mu sync.Mutex
	parallel(n, func(lo, hi int) {
		buf := make([]byte, 0, (hi-lo)*record.Size)
		for i := lo; i < hi; i++ {
			tp := &taps[i]
			cd, t := c.Cards[tp.card], c.Terminals[tp.term]
			date, tm := citycard.DateTime(c.Start.Add(tp.at))
			r := record.Record{
				Type: citycard.TxPurchase, Issuer: Issuer, ASN: cd.ASN, CardType: 1,
				Alg: c.Alg, KeyVersion: 1, Counter: tp.counter, BalanceBefore: tp.before, Amount: tp.amount,
				TerminalID: t.ID, PSAMID: t.PSAM, TerminalSeq: tp.seq, Date: date, Time: tm,
				Network: 1, Line: t.Line, Station: t.Station, FareFull: tp.amount, RecordKeyVersion: 1,
			}
			p := keys.Purchase{Amount: tp.amount, Type: citycard.TxPurchase, TerminalID: t.ID, TerminalSeq: tp.seq, Date: date, Time: tm}
			tac, err := keys.MAC(c.Alg, keys.TACKey(c.Alg, cd.dtk[:]), keys.PurchaseTACData(&p))
			if err != nil {
				panic("sim: TAC: " + err.Error())
			}
			r.TAC = tac
			start := len(buf)
			buf = r.AppendBinary(buf)
			// The record MAC covers every byte before it (record.MACData).
			mac := t.mac.Sum(buf[start : len(buf)-4])
			copy(buf[len(buf)-4:], mac[:])
			ups[tp.term].Records[tp.slot] = buf[start:len(buf):len(buf)]
			if (i-lo)%65536 == 65535 && progress != nil {
				mu.Lock()
				done += 65536
				progress(int(done))
				mu.Unlock()
			}
		}
	})
	return ups
}

// Spoil mixes duplicates and forgeries into the uploads: each genuine
// record is sent again with probability dup, and a forged copy (amount
// altered) is added with probability forge. It returns how many of each.
func Spoil(ups []Upload, dup, forge float64, seed uint64) (dups, forged int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range ups {
		u := &ups[i]
		g := u.Records[:u.Genuine]
		for _, r := range g {
			if rng.Float64() < dup {
				u.Records = append(u.Records, r)
				dups++
			}
			if rng.Float64() < forge {
				f := append([]byte(nil), r...)
				f[36] ^= 0x01 // the amount's last byte: caught by the record MAC
				u.Records = append(u.Records, f)
				forged++
			}
		}
	}
	return dups, forged
}

// Describe says what the city holds, for progress lines.
func (c *City) Describe() string {
	return fmt.Sprintf("%d terminals of %d operators, %d cards, %v keys", len(c.Terminals), len(c.Operators), len(c.Cards), c.Alg)
}

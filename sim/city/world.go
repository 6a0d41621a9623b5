package city

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/terminal"
)

// Issuer is our issuer, the city card company: city code 3150 (Ningbo),
// institution 0001, as package sim and the trace name it.
var Issuer = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}

// nationalIssuer is where the key store keeps the national
// interconnection purchase master key: PSAMs derive other cities' cards'
// purchase keys from it, two levels deep (issuer code, then ASN).
var nationalIssuer = citycard.IssuerCode{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}

// visitingCities are the other cities whose interconnection cards visit:
// their city codes (Hangzhou, Shanghai, Beijing, Shenzhen).
var visitingCities = []struct {
	code [2]byte
	name string
}{{[2]byte{0x31, 0x00}, "Hangzhou"}, {[2]byte{0x20, 0x00}, "Shanghai"}, {[2]byte{0x10, 0x00}, "Beijing"}, {[2]byte{0x51, 0x80}, "Shenzhen"}}

// issuer is a card issuer of the city: ours, or a visiting city's.
type issuer struct {
	code citycard.IssuerCode
	name string
	// keys holds a visiting issuer's own master keys (its TAC, load and
	// maintenance keys): its HSM, not ours. Nil for ours.
	keys *keys.MemStore
}

// operator is a party that runs terminals.
type operator struct {
	id     string
	code   citycard.IssuerCode // its record master key's code
	sector registry.Sector
	name   string
}

// The operators, by index.
const (
	opBus = iota
	opMetro
	opCoach
	opBike
	opParking
	opTaxi
	opService // the card company's kiosks and service points
	opMart
	opCanteen
	opBakery
	opPharmacy
)

var operatorDefs = []struct {
	id     string
	sector registry.Sector
	name   string
}{
	opBus: {"nb-bus", registry.SectorBus, "City Bus"}, opMetro: {"nb-metro", registry.SectorMetro, "City Metro"},
	opCoach: {"nb-coach", registry.SectorBus, "Intercity and rural coaches"}, opBike: {"nb-bike", registry.SectorBike, "Public Bikes"},
	opParking: {"nb-parking", registry.SectorParking, "Street Parking"}, opTaxi: {"nb-taxi", registry.SectorTaxi, "City Taxi"},
	opService: {"nb-service", registry.SectorOther, "Card service points and kiosks"}, opMart: {"m-mart", registry.SectorMerchant, "Corner Mart"},
	opCanteen: {"m-canteen", registry.SectorMerchant, "Campus and works canteens"}, opBakery: {"m-bakery", registry.SectorMerchant, "Bakery"},
	opPharmacy: {"m-pharmacy", registry.SectorMerchant, "Pharmacy"},
}

// devKind is what a device is.
type devKind uint8

// The kinds of device.
const (
	devBus      devKind = iota // a bus's validator: flat fare
	devGateIn                  // metro entry gate: tap-on
	devGateOut                 // metro exit gate: tap-off, distance fare
	devCoachIn                 // coach stop validator: tap-on
	devCoachOut                // coach stop validator: tap-off, zone fare
	devBikeDock                // bike dock: a POS under its terminal.BikeDock (bikes.go)
	devParkIn                  // parking meter: tap-on
	devParkOut                 // parking meter: tap-off, time fare
	devTaxi                    // a taxi's POS: the meter's amount
	devPOS                     // a merchant's POS
	devKiosk                   // self-service kiosk at a metro station: loads
	devCounter                 // service point counter: loads
	devKinds
)

var devKindNames = [devKinds]string{"bus", "gate-in", "gate-out", "coach-in", "coach-out", "bike-dock",
	"park-in", "park-out", "taxi", "pos", "kiosk", "counter"}

func (k devKind) String() string { return devKindNames[k] }

// uploadMinutesOf says when a kind of device uploads (and downloads the
// blacklist), in minutes after midnight: buses at the depot at noon and
// at night, gates and kiosks on the metro's network every three hours.
func uploadMinutesOf(k devKind) []int {
	switch k {
	case devBus, devCoachIn, devCoachOut, devBikeDock, devParkIn, devParkOut:
		return []int{12*60 + 30, 23*60 + 30}
	case devGateIn, devGateOut, devKiosk:
		return []int{9 * 60, 12 * 60, 15 * 60, 18 * 60, 21 * 60, 23*60 + 40}
	case devTaxi:
		return []int{12 * 60, 23*60 + 45}
	case devPOS:
		return []int{15 * 60, 23 * 60}
	}
	return []int{12 * 60, 20 * 60} // counters
}

// device is a terminal of the city with its PSAM, queue and uploader.
type device struct {
	idx     int
	kind    devKind
	op      int
	id      citycard.TerminalID
	psamID  citycard.PSAMID
	psam    *terminal.PSAM
	term    *terminal.Terminal
	queue   *terminal.Queue
	up      *terminal.Uploader
	link    Link
	bl      *blacklist.List // its copy of the blacklist
	line    uint32
	station uint32
	skew    time.Duration // its clock's error
	// offlineUntil: the device is offline until then (zero: online).
	offlineUntil time.Time
	uploads      []int // minutes after midnight
	// gate is an application gate's (apps.go), or a bike dock's own
	// (bikes.go): its upload slot downloads its gate versions too.
	gate *appGate
}

// rngFor returns the random stream named label (and n) of seed. Each part
// of the city draws from its own stream, so that one part's draws do not
// shift another's.
func rngFor(seed uint64, label string, n ...uint64) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(label))
	for _, x := range n {
		h.Write(binary.LittleEndian.AppendUint64(nil, x))
	}
	var s [32]byte
	binary.LittleEndian.PutUint64(s[0:], seed)
	binary.LittleEndian.PutUint64(s[8:], h.Sum64())
	copy(s[16:], "citycard city")
	return rand.New(rand.NewChaCha8(s))
}

func randomKey(rng *rand.Rand) []byte {
	k := make([]byte, keys.KeyLen)
	for i := range k {
		k[i] = byte(rng.UintN(256))
	}
	return k
}

// operatorCode is the code under which operator i's record master key is
// kept.
func operatorCode(i int) citycard.IssuerCode {
	return citycard.IssuerCode{0x31, 0x50, 0x09, 0x00, byte(i), 0xFF, 0xFF, 0xFF}
}

// buildKeys makes the key store of our back office (our issuer's card
// keys, every operator's record key, the PSAM transport key and the
// national interconnection key) and the visiting issuers' own stores,
// all drawn from the seed.
func (c *City) buildKeys() error {
	const op = "city.buildKeys"
	rng := rngFor(c.cfg.Seed, "keys")
	alg, at := c.cfg.Alg, c.cfg.Start.AddDate(-5, 0, 0)
	c.store = keys.NewMemStore()
	put := func(s *keys.MemStore, ref keys.Ref, k []byte) error {
		if _, err := s.Put(ref, alg, k, "simulated", at); err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		return nil
	}
	for _, t := range keys.CardKeyTypes {
		if err := put(c.store, keys.Ref{Issuer: Issuer, Type: t, Version: 1}, randomKey(rng)); err != nil {
			return err
		}
	}
	for i := range operatorDefs {
		if err := put(c.store, keys.Ref{Issuer: operatorCode(i), Type: keys.KeyRecord, Version: 1}, randomKey(rng)); err != nil {
			return err
		}
	}
	national := randomKey(rng)
	defer clear(national)
	if err := put(c.store, keys.Ref{Issuer: nationalIssuer, Type: keys.KeyPurchase, Version: interconnectVersion}, national); err != nil {
		return err
	}
	tref := keys.Ref{Issuer: Issuer, Type: keys.KeyTransport, Version: 1}
	tk := randomKey(rng)
	if err := put(c.store, tref, tk); err != nil {
		return err
	}
	// The PSAM vendor's copy of the transport master key, as the key
	// ceremony gives it one.
	v, err := terminal.NewPSAMVendor(tref, alg, tk)
	clear(tk)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	c.vendor = v
	c.issuers = []issuer{{code: Issuer, name: "Ningbo Citizen Card"}}
	for _, vc := range visitingCities {
		is := issuer{code: citycard.IssuerCode{vc.code[0], vc.code[1], 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}, name: vc.name + " Transport Card", keys: keys.NewMemStore()}
		for _, t := range interconnectOwnTypes {
			if err := put(is.keys, keys.Ref{Issuer: is.code, Type: t, Version: interconnectVersion}, randomKey(rng)); err != nil {
				return err
			}
		}
		c.issuers = append(c.issuers, is)
	}
	// Our own TAC and load master keys of the interconnection's key
	// version, for our MoT cards' second key set (its maintenance key is
	// our version 1's: ourKeySets).
	irng := rngFor(c.cfg.Seed, "keys-interconnection")
	for _, t := range []keys.KeyType{keys.KeyLoad, keys.KeyTAC} {
		if err := put(c.store, keys.Ref{Issuer: Issuer, Type: t, Version: interconnectVersion}, randomKey(irng)); err != nil {
			return err
		}
	}
	return c.buildCounterparts(national, put)
}

// settlementAccount is the settlement bank account of the i-th issuer
// (kind 0), operator (kind 1) or payer (kind 2): an account number short enough for
// ISO 20022 (at most 34 characters), as a bank gives it.
func settlementAccount(kind, i int) string { return fmt.Sprintf("6217%04d%08d", kind, i+1) }

// register puts the parties in the back office's registry.
func (c *City) register(ctx context.Context, reg *registry.Registry) error {
	for i, is := range c.issuers {
		p := registry.Party{ID: is.code.String(), Type: registry.PartyIssuer, Code: is.code, Name: is.name, Own: i == 0,
			SettlementAccount: settlementAccount(0, i)}
		if _, err := reg.AddParty(ctx, p); err != nil {
			return err
		}
	}
	for i, d := range operatorDefs {
		c.operators = append(c.operators, operator{id: d.id, code: operatorCode(i), sector: d.sector, name: d.name})
		p := registry.Party{ID: d.id, Type: registry.PartyOperator, Code: operatorCode(i), Sector: d.sector, Name: d.name,
			SettlementAccount: settlementAccount(1, i)}
		if _, err := reg.AddParty(ctx, p); err != nil {
			return err
		}
	}
	// The payment company remote top-ups are paid through: a payer,
	// owing our issuer what it collected in each cycle.
	payer := registry.Party{ID: topUpPayer, Type: registry.PartyPayer, Code: citycard.IssuerCode{0x31, 0x50, 0xFA, 0, 0, 0, 0, 1}, Name: "Simulated payments",
		SettlementAccount: settlementAccount(2, 0)}
	if _, err := reg.AddParty(ctx, payer); err != nil {
		return err
	}
	return nil
}

var registryType = [devKinds]registry.TerminalType{
	devBus: registry.TerminalBusValidator, devGateIn: registry.TerminalGate, devGateOut: registry.TerminalGate,
	devCoachIn: registry.TerminalBusValidator, devCoachOut: registry.TerminalBusValidator,
	devBikeDock: registry.TerminalGate,
	devParkIn:   registry.TerminalParkingMeter, devParkOut: registry.TerminalParkingMeter,
	devTaxi: registry.TerminalPOS, devPOS: registry.TerminalPOS, devKiosk: registry.TerminalKiosk, devCounter: registry.TerminalKiosk,
}

var modeOf = [devKinds]terminal.Mode{
	devBus: terminal.ModeFlat, devGateIn: terminal.ModeTapOn, devGateOut: terminal.ModeTapOff,
	devCoachIn: terminal.ModeTapOn, devCoachOut: terminal.ModeTapOff, devBikeDock: terminal.ModePOS,
	devParkIn: terminal.ModeTapOn, devParkOut: terminal.ModeTapOff,
	devTaxi: terminal.ModePOS, devPOS: terminal.ModePOS, devKiosk: terminal.ModePOS, devCounter: terminal.ModePOS,
}

var networkOf = [devKinds]uint16{
	devBus: netBus, devGateIn: netMetro, devGateOut: netMetro, devCoachIn: netSuburban, devCoachOut: netSuburban,
	devBikeDock: netBike, devParkIn: netParking, devParkOut: netParking,
}

// addDevice makes a terminal as an operator commissions one: a blank
// PSAM from the vendor, personalized from the key store at the key
// injection station; a queue on disk; the registry's entry and token.
func (c *City) addDevice(ctx context.Context, reg *registry.Registry, rng *rand.Rand, kind devKind, op int, line, station uint32, vehicle string) (*device, error) {
	n := c.perKind[kind]
	if n >= 1<<16 {
		return nil, citycard.E("city.addDevice", citycard.Invalid, "more than 65536 %v devices", kind)
	}
	c.perKind[kind]++
	d := &device{
		idx: len(c.devs), kind: kind, op: op, line: line, station: station,
		id:     citycard.TerminalID{0x31, 0x50, 0x10 + byte(kind), 0x00, byte(n >> 8), byte(n)},
		psamID: citycard.PSAMID{0x31, 0x50, 0x00, 0x00, 0x00, 0x10 + byte(kind), 0x00, 0x00, byte(n >> 8), byte(n)},
		bl:     blacklist.New(nil, c.now),
	}
	d.psam = c.vendor.NewPSAM(d.psamID)
	pk := ourPSAMKeys(c.operators[op].code)
	if kind == devBikeDock {
		// The dock's gate shares the PSAM: it stamps the cards' bike
		// slots under our application master key (bikes.go).
		pk.Issuers = append(pk.Issuers, keys.Ref{Issuer: Issuer, Type: keys.KeyApplication, Version: 1})
	}
	if err := terminal.ProvisionPSAM(c.store, d.psam, d.id, pk, 1); err != nil {
		return nil, err
	}
	q, err := terminal.OpenQueue(filepath.Join(c.cfg.Dir, d.id.String()+".queue"))
	if err != nil {
		return nil, err
	}
	d.queue = q
	var f terminal.Fare = c.engine
	if modeOf[kind] == terminal.ModePOS {
		f = terminal.FlatFare{}
	}
	d.term, err = terminal.New(terminal.Config{
		PSAM: d.psam, PSAMID: d.psamID, RecordKeyVersion: 1, Mode: modeOf[kind],
		Network: networkOf[kind], Line: line, Station: station, Fare: f,
		Spool: &spool{c: c, d: d}, Blacklist: d.bl, KeyVersions: []uint8{interconnectVersion, 1}, MaintenanceKeyVersion: 1,
		Now: func() time.Time { return c.now().Add(d.skew) },
	})
	if err != nil {
		return nil, err
	}
	if _, err := reg.AddTerminal(ctx, registry.Terminal{ID: d.id, PSAM: d.psamID, Operator: c.operators[op].id,
		Type: registryType[kind], Line: line, Station: station, Vehicle: vehicle}); err != nil {
		return nil, err
	}
	token, err := reg.IssueCredential(ctx, d.id)
	if err != nil {
		return nil, err
	}
	d.link = c.bo.Link(d.id, token)
	d.up = &terminal.Uploader{Terminal: d.id, Queue: q, Sender: &sender{c: c, d: d}, MaxBatch: uploadBatch,
		BackoffMin: time.Millisecond, BackoffMax: time.Millisecond,
		// The city's time stands still while a terminal retries: what a
		// retry waits for is the back office, not the clock.
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	jitter := rng.IntN(20)
	for _, m := range uploadMinutesOf(kind) {
		d.uploads = append(d.uploads, min(m+jitter, 24*60-1))
	}
	c.devs = append(c.devs, d)
	return d, nil
}

// ourPSAMKeys are the keys of our operator's PSAM, its record key's
// code operator: our issuer's purchase and maintenance master keys of
// version 1 (one level deep) and the national key of the
// interconnection's version (two levels deep: any interconnected card,
// ours of that version included).
func ourPSAMKeys(operator citycard.IssuerCode) terminal.PSAMKeys {
	return terminal.PSAMKeys{Operator: operator, RecordKeyVersion: 1,
		Issuers:  []keys.Ref{{Issuer: Issuer, Type: keys.KeyPurchase, Version: 1}, {Issuer: Issuer, Type: keys.KeyMaintenance, Version: 1}},
		National: []keys.Ref{{Issuer: nationalIssuer, Type: keys.KeyPurchase, Version: interconnectVersion}}}
}

// uploadBatch is the records per batch a terminal uploads: small enough
// that a terminal offline for days sends several.
const uploadBatch = 500

// buildDevices makes every terminal of the city.
func (c *City) buildDevices(ctx context.Context, reg *registry.Registry) error {
	rng := rngFor(c.cfg.Seed, "devices")
	n, cards := c.net, c.cfg.Cards
	add := func(kind devKind, op int, line, station uint32, vehicle string) (int, error) {
		d, err := c.addDevice(ctx, reg, rng, kind, op, line, station, vehicle)
		if err != nil {
			return 0, err
		}
		return d.idx, nil
	}
	vehicles := clamp((cards+len(n.busLines)*400-1)/(len(n.busLines)*400), 1, 40)
	for _, l := range n.busLines {
		var vs []int
		for v := 0; v < vehicles; v++ {
			i, err := add(devBus, opBus, l, 0, fmt.Sprintf("bus %d-%02d", l, v+1))
			if err != nil {
				return err
			}
			vs = append(vs, i)
		}
		c.busVehicles = append(c.busVehicles, vs)
	}
	gates := clamp((cards*7/10+len(n.stations)*700-1)/(len(n.stations)*700), 1, 8)
	for s := range n.stations {
		p := n.gatePlatform(s)
		var in, out []int
		for g := 0; g < gates; g++ {
			i, err := add(devGateIn, opMetro, n.metro[p.line].code, p.code, "")
			if err != nil {
				return err
			}
			o, err := add(devGateOut, opMetro, n.metro[p.line].code, p.code, "")
			if err != nil {
				return err
			}
			in, out = append(in, i), append(out, o)
		}
		k, err := add(devKiosk, opService, n.metro[p.line].code, p.code, "")
		if err != nil {
			return err
		}
		c.gatesIn, c.gatesOut, c.kiosks = append(c.gatesIn, in), append(c.gatesOut, out), append(c.kiosks, k)
	}
	c.coachIn, c.coachOut = map[uint32]int{}, map[uint32]int{}
	for _, s := range n.coachStops() {
		i, err := add(devCoachIn, opCoach, 0, s, "")
		if err != nil {
			return err
		}
		o, err := add(devCoachOut, opCoach, 0, s, "")
		if err != nil {
			return err
		}
		c.coachIn[s], c.coachOut[s] = i, o
	}
	for z := 1; z <= n.zones; z++ {
		i, err := add(devParkIn, opParking, 0, uint32(4000+z), "")
		if err != nil {
			return err
		}
		o, err := add(devParkOut, opParking, 0, uint32(4000+z), "")
		if err != nil {
			return err
		}
		c.parkIn, c.parkOut = append(c.parkIn, i), append(c.parkOut, o)
	}
	for t := 0; t < clamp(cards/400, 4, 500); t++ {
		i, err := add(devTaxi, opTaxi, 0, 0, fmt.Sprintf("taxi %03d", t+1))
		if err != nil {
			return err
		}
		c.taxis = append(c.taxis, i)
	}
	merchants := []int{opMart, opCanteen, opBakery, opPharmacy}
	for m := 0; m < clamp(cards/150, 8, 2000); m++ {
		op := merchants[m%len(merchants)]
		i, err := add(devPOS, op, 0, 0, "")
		if err != nil {
			return err
		}
		c.pos[op] = append(c.pos[op], i)
	}
	for k := 0; k < clamp(cards/5000, 1, 40); k++ {
		i, err := add(devCounter, opService, 0, 0, "")
		if err != nil {
			return err
		}
		c.counters = append(c.counters, i)
	}
	return nil
}

// persona is how a rider lives: what a day of theirs looks like.
type persona uint8

// The personas.
const (
	pMetro      persona = iota // commutes by metro, some with a bus or bike leg
	pBus                       // commutes by bus, some changing buses
	pDriver                    // drives to work and parks
	pStudent                   // school by bus or metro, the canteen at noon
	pSenior                    // trips in the middle of the day
	pOccasional                // a trip now and then
	pSuburban                  // commutes by coach from a town
	pVisitor                   // another city's card, visiting for a few days
	personas
)

var personaNames = [personas]string{"metro commuter", "bus commuter", "driver", "student", "senior", "occasional", "suburban", "visitor"}

// rider is a cardholder and their card.
type rider struct {
	card     *card.Card
	issuer   int // index into City.issuers: 0 ours
	asn      citycard.ASN
	profile  card.Profile
	persona  persona
	category uint8
	startFen int64 // the balance at the start of the run
	loadsFen int64 // loads the card committed
	loads    int64
	balance  int64 // the balance as the last tap left it
	// Where they live and go.
	home, work       int // metro stations
	homeBus, workBus int // bus lines (indices)
	feeder, bike     bool
	dock, dock2      int
	zone             int
	coach, town      int // coach line and the town stop's index in it
	lunch            int // the merchant POS they lunch at (device index)
	visitFrom        int // visitors: first and last day of the visit
	visitTo          int
	lostOn           int // the day the card is reported lost; -1: never
	// Card management: the product the card was sold as, whether it is
	// registered to a cardholder; the day of its last load (the day of
	// the year) and what was loaded that day; whether a tear cut its
	// last load.
	product     string
	registered  bool
	loadDay     int
	loadedToday int64
	loadTorn    bool
	// The day the card was handed back for a refund (-1: never), and
	// the balance card management refunded.
	refundedOn  int
	refundedFen int64
	// Replacement: the card's generation (the ASN's sixth byte: 0 for
	// the cards of the run's start, one more each replacement); when its
	// loss was reported; replacedBy is -1 for a card never replaced, -2
	// for one replaced whose balance waits for the cooling period, else
	// the rider of the card that replaced it; replaces is the rider of
	// the card this one replaced, -1 for none.
	gen        uint8
	lostAt     time.Time
	replacedBy int32
	replaces   int32
	// cutRefund: where the refund of a lost or damaged card not
	// replaced stands (refunds.go); its balance refunded is refundedFen.
	cutRefund uint8
	// damagedOn is the day the card was reported damaged at a counter
	// and handed in (damaged.go), -1 for never; adjustedFen the manual
	// adjustments made of its book, credits less debits (adjust.go).
	damagedOn   int
	adjustedFen int64
	// expiry is the card's last day of validity, as its chip has it.
	expiry citycard.BCDDate
	// The bike the card has out (bikes.go): whether, since when (the
	// hire's stamp) and from which dock.
	bikeOut  bool
	hiredAt  time.Time
	hireDock int
	// bikeForgotUntil: the bike out is forgotten until then: no bike
	// steps of the rider's (planBikesOut). noBike: the card was refused
	// a hire, not registered for deposit-free rental.
	bikeForgotUntil time.Time
	noBike          bool
	// greyed: a tap of the card tore; travelled: it tapped in another
	// city (travel.go).
	greyed, travelled bool
}

// buildRiders issues the cards: our issuer's of the three profiles and
// every rider category, and the visiting cities' interconnection cards.
func (c *City) buildRiders() error {
	const op = "city.buildRiders"
	rng := rngFor(c.cfg.Seed, "riders")
	n := c.net
	start := c.cfg.Start
	nVisitors := 0
	if c.cfg.Cards >= 50 {
		nVisitors = max(1, c.cfg.Cards/50)
	}
	for i := 0; i < c.cfg.Cards; i++ {
		r := &rider{lostOn: -1, refundedOn: -1, replacedBy: -1, replaces: -1, damagedOn: -1}
		visitor := i >= c.cfg.Cards-nVisitors
		switch x := rng.IntN(100); {
		case visitor:
			r.persona = pVisitor
		case x < 30:
			r.persona = pMetro
		case x < 50:
			r.persona = pBus
		case x < 56:
			r.persona = pDriver
		case x < 68:
			r.persona = pStudent
		case x < 79:
			r.persona = pSenior
		case x < 96:
			r.persona = pOccasional
		default:
			r.persona = pSuburban
		}
		switch r.persona {
		case pStudent:
			r.category = catStudent
		case pSenior:
			r.category = []uint8{catSenior, catSenior60, catSenior60, catDisabled}[rng.IntN(4)]
		default:
			if rng.IntN(100) < 2 {
				r.category = catDisabled
			}
		}
		r.home, r.work = rng.IntN(len(n.stations)), rng.IntN(len(n.stations))
		for len(n.stations) > 1 && r.work == r.home {
			r.work = rng.IntN(len(n.stations))
		}
		r.homeBus, r.workBus = rng.IntN(len(n.busLines)), rng.IntN(len(n.busLines))
		if rng.IntN(2) == 0 {
			r.workBus = r.homeBus
		}
		r.feeder, r.bike = rng.IntN(100) < 30, rng.IntN(100) < 10
		r.dock, r.dock2 = rng.IntN(n.docks), rng.IntN(n.docks)
		r.zone = rng.IntN(n.zones)
		r.coach = rng.IntN(len(n.coach))
		r.town = 1 + rng.IntN(len(n.coach[r.coach].stops)-1)
		lunchOp := opMart
		if r.persona == pStudent || rng.IntN(3) == 0 {
			lunchOp = opCanteen
		}
		r.lunch = c.pos[lunchOp][rng.IntN(len(c.pos[lunchOp]))]
		r.visitFrom = rng.IntN(c.cfg.Days)
		r.visitTo = r.visitFrom + rng.IntN(3)

		var ks []card.KeySet
		var err error
		var typ uint8 = cardTypeOurs
		if visitor {
			r.issuer = 1 + rng.IntN(len(c.issuers)-1)
			r.profile = card.ProfileMoT
			typ = cardTypeNational
			is := c.issuers[r.issuer]
			r.asn = citycard.ASN{is.code[0], is.code[1], 0x00, 0x01, is.code[0], is.code[1], byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			var k card.KeySet
			k, err = interconnectKeys(c.store, is.keys, is.code, r.asn, interconnectVersion)
			ks = []card.KeySet{k}
		} else {
			r.profile = []card.Profile{card.ProfileCitizen, card.ProfileCitizen, card.ProfileMOHURD, card.ProfileMOHURD, card.ProfileMOHURD, card.ProfileMoT}[rng.IntN(6)]
			r.asn = citycard.ASN{0, 0, 0x31, 0x50, byte(r.profile), 0x00, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			if r.profile.ASNLen() == 10 {
				r.asn[0], r.asn[1] = 0x31, 0x50
			}
			ks, err = c.ourKeySets(r.profile, r.asn)
		}
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		// Most cards hold a comfortable balance; some run low and load.
		fen := int64(1000 + 100*rng.IntN(240))
		if rng.IntN(5) == 0 {
			fen = int64(300 + 100*rng.IntN(12))
		}
		issued := start.AddDate(0, 0, -30-rng.IntN(4*365))
		expiry := issued.AddDate(6, 0, 0)
		if rng.IntN(1000) < 2 {
			// A card whose validity ends during the run: refused from then on.
			expiry = start.AddDate(0, 0, rng.IntN(c.cfg.Days))
		}
		from, _ := citycard.DateTime(issued)
		to, _ := citycard.DateTime(expiry)
		r.expiry = to
		var appKey *card.AppKey // ours: an entitlement file may be written at a counter
		var appFile *card.Entitlements
		if !visitor {
			appKey, appFile = c.appFile(r.asn)
		}
		r.card, err = card.New(card.Config{
			Profile: r.profile, Issuer: c.issuers[r.issuer].code, ASN: r.asn, CardType: typ, RiderCategory: r.category,
			Start: from, Expiry: to, KeySets: ks, Rand: c.cardRand, InitialBalanceFen: uint32(fen), AppKey: appKey, Entitlements: appFile,
		})
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		r.startFen, r.balance = fen, fen
		if err := c.giveProduct(rng, r); err != nil {
			return err
		}
		c.riders = append(c.riders, r)
	}
	return nil
}

// interconnectVersion is the key version of the interconnection (T-Union,
// 交通联合): a card's key set of this version holds a purchase key
// derived from the national interconnection key (issuer code, then ASN),
// which every interconnected city's PSAMs hold, and its issuer's own
// TAC, load and maintenance keys (interconnectOwnTypes).
// Visiting cities' cards hold only that set; our MoT cards hold it as
// well as version 1, all ours (ourKeySets). Our terminals ask for it
// first and fall back to version 1 (one APDU more) on a card without it.
const interconnectVersion = 2

// interconnectOwnTypes are the key types an interconnection key set
// takes from its issuer's own master keys (of a visiting city's, all of
// that version; of ours, the maintenance key of version 1: ourKeySets).
var interconnectOwnTypes = []keys.KeyType{keys.KeyLoad, keys.KeyTAC, keys.KeyMaintenance}

// interconnectKeys personalizes an interconnection key set of card asn of
// issuer: its purchase key from the national key in national, the
// others from the issuer's own master keys in own, the maintenance key
// of version maintenance.
func interconnectKeys(national, own keys.Store, issuer citycard.IssuerCode, asn citycard.ASN, maintenance uint8) (card.KeySet, error) {
	ks := card.KeySet{Version: interconnectVersion}
	alg, err := national.DeriveInto(&ks.Purchase, keys.Ref{Issuer: nationalIssuer, Type: keys.KeyPurchase, Version: interconnectVersion}, issuer[:], asn.Div())
	if err != nil {
		return ks, err
	}
	ks.Alg = alg
	for t, dst := range map[keys.KeyType]*[keys.KeyLen]byte{keys.KeyLoad: &ks.Load, keys.KeyTAC: &ks.TAC, keys.KeyMaintenance: &ks.Maintenance} {
		v := uint8(interconnectVersion)
		if t == keys.KeyMaintenance {
			v = maintenance
		}
		if _, err := own.DeriveInto(dst, keys.Ref{Issuer: issuer, Type: t, Version: v}, asn.Div()); err != nil {
			return ks, err
		}
	}
	return ks, nil
}

// ourKeySets are the key sets of our card asn of profile: version 1, all
// ours; a MoT card (JT/T 978, interconnected) also the interconnection's,
// whose maintenance key (DAMK) is version 1's: a card blocks under its
// newest key set's DAMK, and our terminals block with one maintenance
// key version (terminal.Config.MaintenanceKeyVersion, 1), that of every
// card of ours.
func (c *City) ourKeySets(profile card.Profile, asn citycard.ASN) ([]card.KeySet, error) {
	ks, err := card.DeriveKeySet(c.store, Issuer, asn, 1)
	if err != nil || profile != card.ProfileMoT {
		return []card.KeySet{ks}, err
	}
	k2, err := interconnectKeys(c.store, c.store, Issuer, asn, 1)
	return []card.KeySet{ks, k2}, err
}

// giveProduct writes a pass or a count ticket on some cards, as the
// card management platform would sell them (the sale itself is not
// simulated yet: no money moves for it).
func (c *City) giveProduct(rng *rand.Rand, r *rider) error {
	var p card.Product
	from := c.cfg.Start.AddDate(0, 0, -rng.IntN(25))
	switch {
	case r.persona == pBus && r.category == catAdult && rng.IntN(100) < 15:
		p = card.Product{ProductID: prodBusMonthly, Type: card.ProductPass, Network: netBus, DailyLimit: 4}
	case r.persona == pStudent && rng.IntN(100) < 30:
		p = card.Product{ProductID: prodStudentMonthly, Type: card.ProductPass, Network: netBus}
	case r.persona == pOccasional && r.category == catAdult && rng.IntN(100) < 8:
		p = card.Product{ProductID: prodBus10Rides, Type: card.ProductCountTicket, Network: netBus, RidesLeft: 10}
		from = c.cfg.Start.AddDate(0, 0, -rng.IntN(200))
	default:
		return nil
	}
	days := 30
	if p.Type == card.ProductCountTicket {
		days = 364
	}
	p.Record = card.RecordProductFirst
	p.ValidFrom, _ = citycard.DateTime(from)
	p.ValidTo, _ = citycard.DateTime(from.AddDate(0, 0, days))
	return r.card.SetProduct(p)
}

// build makes the city and starts its back office.
func (c *City) build(ctx context.Context) error {
	c.net = newNetwork(rngFor(c.cfg.Seed, "network"), sizeFor(c.cfg.Cards))
	first, _ := citycard.DateTime(c.cfg.Start.AddDate(-1, 0, 0))
	last, _ := citycard.DateTime(c.cfg.Start.AddDate(0, 0, c.cfg.Days+400))
	tab, err := fare.Load(c.net.feed(fmt.Sprintf("sim-%d", c.cfg.Seed), first.String(), last.String()))
	if err != nil {
		return err
	}
	c.table, c.engine = tab, terminal.NewFareEngine(tab)
	if err := c.buildKeys(); err != nil {
		return err
	}
	reg, err := c.bo.Open(ctx)
	if err != nil {
		return err
	}
	if err := c.register(ctx, reg); err != nil {
		return err
	}
	if err := c.buildDevices(ctx, reg); err != nil {
		return err
	}
	if err := c.buildApps(ctx, reg); err != nil {
		return err
	}
	if err := c.buildRiders(); err != nil {
		return err
	}
	c.setFaultsOfWorld()
	c.setup.Keys, c.setup.Fares = c.store, c.table
	cat, err := Products(c.cfg.CoolingDays)
	if err != nil {
		return err
	}
	c.setup.Products = cat
	c.products = map[string]*cms.Product{}
	for _, p := range cat.Products() {
		c.products[p.ID] = p
	}
	if err := c.startRetrying(ctx); err != nil { // the database may be busy at the first start too
		return err
	}
	if err := c.setFees(ctx); err != nil {
		return err
	}
	if err := c.sellCards(ctx); err != nil {
		return err
	}
	return c.grantApps(ctx)
}

// expiredOn reports whether rider r's card is past the last day of its
// validity on date: every terminal refuses it expired (a gate and a
// dock before they read the blacklist).
func (r *rider) expiredOn(date citycard.BCDDate) bool { return string(date[:]) > string(r.expiry[:]) }

package card

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
)

// SWCounterLimit (9402) answers an INITIALIZE whose counter (online for a
// load, offline for a purchase) is already FFFFh: committing would wrap
// it, so the card refuses, and the card must be replaced.
const SWCounterLimit apdu.SW = 0x9402

// Limits of the card's purse.
const (
	// BalanceMaxFenDefault is the maximum balance when Config leaves it
	// zero: 1000 yuan.
	BalanceMaxFenDefault = 100000
	// overdrawMaxFen is what the 3-byte overdraw field can carry.
	overdrawMaxFen = 0xFFFFFF
	// counterMax is the last counter value a card can carry; a
	// transaction at it could not commit.
	counterMax = 0xFFFF
)

// Config is what personalization writes on a card.
type Config struct {
	Profile       Profile
	Issuer        citycard.IssuerCode
	ASN           citycard.ASN // 8 or 10 bytes as the profile says (8 right-aligned)
	CardType      uint8
	RiderCategory uint8
	Start, Expiry citycard.BCDDate // validity; the card has no clock, terminals check it
	// KeySets holds one key set per key version, at least one; the
	// newest (highest version) also keys APPLICATION BLOCK and UNBLOCK.
	KeySets []KeySet
	// BalanceMaxFen caps the balance a load may reach; 0 means
	// BalanceMaxFenDefault. At most 2^31-1.
	BalanceMaxFen uint32
	// OverdrawLimitFen is how far a purchase may take the balance below
	// zero; at most FFFFFFh, what the overdraw field carries.
	OverdrawLimitFen uint32
	// Rand gives the card's randoms; nil means crypto/rand. Tests pass a
	// deterministic one.
	Rand io.Reader
	// InitialBalanceFen is the balance the card is issued with, at most
	// the maximum balance.
	InitialBalanceFen uint32
	// OnlineCounter and OfflineCounter are the counters the first load
	// and the first purchase carry (personalization writes 0; tests of
	// the counter limit start near FFFFh).
	OnlineCounter, OfflineCounter uint16
	// AppKey, when set, gives the card an entitlement file (SFI 1Ah) for
	// the application systems, keyed by it; Entitlements is the file it is
	// issued with (none: an empty file of key version AppKey.Version).
	AppKey       *AppKey
	Entitlements *Entitlements
}

// TearStep is where a card loses power during its next DEBIT FOR
// PURCHASE or CREDIT FOR LOAD.
type TearStep int

// The tear steps.
const (
	TearNone         TearStep = iota // no tear: the card answers normally
	TearBeforeCommit                 // power lost on receiving the command: nothing committed
	TearAfterCommit                  // the command ran (committed if it was good), the response is lost
)

// String gives "none", "before commit" or "after commit".
func (s TearStep) String() string {
	switch s {
	case TearNone:
		return "none"
	case TearBeforeCommit:
		return "before commit"
	case TearAfterCommit:
		return "after commit"
	}
	return fmt.Sprintf("tear(%d)", int(s))
}

// TransactionProof is what GET TRANSACTION PROOF answers for the card's
// last committed transaction.
type TransactionProof struct {
	Type    byte   // citycard.TxLoad, citycard.TxPurchase or citycard.TxCompositePurchase
	Counter uint16 // the counter the transaction carried
	MAC2    [4]byte
	TAC     [4]byte
}

// State is a snapshot of a card for tests and tools: everything it has
// committed, and what is selected and open. It shares no memory with the
// card.
type State struct {
	Profile        Profile
	Issuer         citycard.IssuerCode
	ASN            citycard.ASN
	BalanceFen     int64 // negative when a purchase used the overdraw limit
	OnlineCounter  uint16
	OfflineCounter uint16
	Blocked        bool
	Selected       []byte // AID of the selected application; nil if none
	InTransaction  bool   // an INITIALIZE is waiting for its DEBIT or CREDIT
	Log            []LogEntry
	JourneyRecord  *JourneyRecord // record 01 of the transit file, nil if never written
	Spend          *Spend         // record 02, nil if never written
	Products       []Product      // records 10h-17h present, by identifier
	Last           *TransactionProof
	Entitlements   *Entitlements // the entitlement file, nil on a card without one
}

// application is what SELECT chose.
type application uint8

const (
	appNone application = iota
	appEPurse
	appBank
)

// Card is a virtual CPU card holding the transit e-purse described in the
// package doc. It is safe for concurrent use; Transmit handles one APDU at
// a time, as a chip does.
type Card struct {
	mu sync.Mutex

	// Personalized, fixed.
	profile     Profile
	basic       []byte // the 32 bytes of SFI 15h
	keySets     []KeySet
	maintenance *KeySet // the newest key set: keys BLOCK and UNBLOCK
	balanceMax  int64
	overdraw    int64
	rand        io.Reader
	appKey      *AppKey // keys the entitlement file; nil: the card has none

	// Committed: survives power loss.
	balance         int64
	online, offline uint16
	blocked         bool
	log             []LogEntry        // newest first, at most LogLen
	transit         map[byte][]byte   // transit records by identifier, validated
	last            *TransactionProof // the last committed transaction
	entitlements    []byte            // SFI 1Ah, validated; nil without an application key

	// Volatile: lost with power.
	selected  application
	tx        *transaction
	challenge *[4]byte // the last GET CHALLENGE, good for the next command only
	tear      TearStep // armed for the next DEBIT or CREDIT
}

// transaction is what an INITIALIZE opened.
type transaction struct {
	typ      byte // citycard.TxLoad, TxPurchase or TxCompositePurchase
	keys     *KeySet
	amount   uint32
	terminal citycard.TerminalID
	counter  uint16
	random   [4]byte
	balance  int64           // before the transaction
	cache    map[byte][]byte // UPDATE CAPP DATA CACHE, committed with the debit
}

// New personalizes a card. It checks that the profile is known, that the
// ASN has the profile's length, that there is at least one key set, that
// key versions are unique and their algorithms known, that the start and
// expiry dates are real dates in order, and that the limits and the
// initial balance fit. Kind Invalid naming the field otherwise.
func New(cfg Config) (*Card, error) {
	const op = "card.New"
	bad := func(format string, args ...any) error {
		return citycard.E(op, citycard.Invalid, format, args...)
	}
	if !cfg.Profile.Valid() {
		return nil, bad("profile %d: want 1 (citizen), 2 (mohurd) or 3 (mot)", cfg.Profile)
	}
	if n := cfg.Profile.ASNLen(); (n == 8) != cfg.ASN.Short() {
		return nil, bad("ASN %v: a %v card has an ASN of %d bytes", cfg.ASN, cfg.Profile, n)
	}
	if len(cfg.KeySets) == 0 {
		return nil, bad("card %v: no key set", cfg.ASN)
	}
	ks := slices.Clone(cfg.KeySets)
	slices.SortFunc(ks, func(a, b KeySet) int { return int(a.Version) - int(b.Version) })
	for i, k := range ks {
		if !k.Alg.Valid() {
			return nil, bad("card %v: key set v%d: unknown algorithm id %02X", cfg.ASN, k.Version, byte(k.Alg))
		}
		if i > 0 && ks[i-1].Version == k.Version {
			return nil, bad("card %v: key set v%d given twice", cfg.ASN, k.Version)
		}
	}
	for _, f := range []struct {
		name string
		d    citycard.BCDDate
	}{{"start date", cfg.Start}, {"expiry date", cfg.Expiry}} {
		if f.d == (citycard.BCDDate{}) {
			return nil, bad("card %v: %s missing", cfg.ASN, f.name)
		}
		if err := checkDateTime(op, "basic data", f.name, f.d, citycard.BCDTime{}); err != nil {
			return nil, err
		}
	}
	if bytes.Compare(cfg.Expiry[:], cfg.Start[:]) < 0 {
		return nil, bad("card %v: expiry date %v before start date %v", cfg.ASN, cfg.Expiry, cfg.Start)
	}
	balanceMax := int64(cfg.BalanceMaxFen)
	if balanceMax == 0 {
		balanceMax = BalanceMaxFenDefault
	}
	if balanceMax > math.MaxInt32 {
		return nil, bad("card %v: maximum balance %d fen over %d", cfg.ASN, balanceMax, math.MaxInt32)
	}
	if cfg.OverdrawLimitFen > overdrawMaxFen {
		return nil, bad("card %v: overdraw limit %d fen over %d", cfg.ASN, cfg.OverdrawLimitFen, overdrawMaxFen)
	}
	if int64(cfg.InitialBalanceFen) > balanceMax {
		return nil, bad("card %v: initial balance %d fen over the maximum %d", cfg.ASN, cfg.InitialBalanceFen, balanceMax)
	}
	basic, err := BasicData{
		Issuer:        cfg.Issuer,
		AppType:       AppTypeEPurse,
		AppVersion:    AppVersion,
		ASN:           cfg.ASN,
		Start:         cfg.Start,
		Expiry:        cfg.Expiry,
		CardType:      cfg.CardType,
		RiderCategory: cfg.RiderCategory,
		Profile:       cfg.Profile,
	}.MarshalBinary()
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Invalid, err)
	}
	var ents []byte
	if cfg.AppKey != nil {
		if !cfg.AppKey.Alg.Valid() {
			return nil, bad("card %v: application key v%d: unknown algorithm id %02X", cfg.ASN, cfg.AppKey.Version, byte(cfg.AppKey.Alg))
		}
		f := Entitlements{KeyVersion: cfg.AppKey.Version}
		if cfg.Entitlements != nil {
			f = *cfg.Entitlements
		}
		if ents, err = f.MarshalBinary(); err != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, err)
		}
	} else if cfg.Entitlements != nil {
		return nil, bad("card %v: an entitlement file without an application key", cfg.ASN)
	}
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	var appKey *AppKey
	if cfg.AppKey != nil {
		k := *cfg.AppKey
		appKey = &k
	}
	return &Card{
		appKey:       appKey,
		entitlements: ents,
		profile:      cfg.Profile,
		basic:        basic,
		keySets:      ks,
		maintenance:  &ks[len(ks)-1],
		balanceMax:   balanceMax,
		overdraw:     int64(cfg.OverdrawLimitFen),
		rand:         r,
		balance:      int64(cfg.InitialBalanceFen),
		online:       cfg.OnlineCounter,
		offline:      cfg.OfflineCounter,
		transit:      map[byte][]byte{},
	}, nil
}

// Tear arms a power loss at step for the next DEBIT FOR PURCHASE or CREDIT
// FOR LOAD the card receives (TearNone disarms it). That Transmit then
// returns an error of kind IO and no response; the card resets (nothing
// selected, no transaction open) and keeps what it committed. With
// TearAfterCommit the command runs first, so a good DEBIT or CREDIT is
// committed and GET TRANSACTION PROOF recovers its MAC2 and TAC.
func (c *Card) Tear(step TearStep) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tear = step
}

// SetProduct writes product record p.Record (10h-17h) into the transit
// record file outside any transaction, as personalization does (the
// secure UPDATE RECORD of card management will replace it). Kind Invalid,
// naming the field, for a product Validate refuses.
func (c *Card) SetProduct(p Product) error {
	b, err := p.MarshalBinary()
	if err != nil {
		return citycard.Wrap("card.Card.SetProduct", citycard.Invalid, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.transit[p.Record] = b
	return nil
}

// State returns a snapshot of the card.
func (c *Card) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	bd, err := ParseBasicData(c.basic)
	if err != nil {
		panic("card: own basic data unreadable: " + err.Error())
	}
	s := State{
		Profile:        c.profile,
		Issuer:         bd.Issuer,
		ASN:            bd.ASN,
		BalanceFen:     c.balance,
		OnlineCounter:  c.online,
		OfflineCounter: c.offline,
		Blocked:        c.blocked,
		InTransaction:  c.tx != nil,
		Log:            slices.Clone(c.log),
	}
	switch c.selected {
	case appEPurse:
		s.Selected = c.profile.AID()
	case appBank:
		s.Selected = BankAID()
	}
	if c.last != nil {
		l := *c.last
		s.Last = &l
	}
	if c.entitlements != nil {
		f, err := ParseEntitlements(c.entitlements)
		if err != nil {
			panic("card: own entitlement file unreadable: " + err.Error())
		}
		s.Entitlements = &f
	}
	for id := RecordJourney; id <= RecordProductLast; id++ {
		b, ok := c.transit[id]
		if !ok {
			continue
		}
		r, err := ParseTransitRecord(b)
		if err != nil {
			panic("card: own transit record unreadable: " + err.Error())
		}
		switch v := r.(type) {
		case JourneyRecord:
			s.JourneyRecord = &v
		case Spend:
			s.Spend = &v
		case Product:
			s.Products = append(s.Products, v)
		}
	}
	return s
}

// reset is what power loss does: the volatile state goes.
func (c *Card) reset() {
	c.selected = appNone
	c.tx = nil
	c.challenge = nil
}

// op names one command of the table in the package doc.
type op uint8

const (
	opNone op = iota
	opSelect
	opReadBinary
	opReadRecord
	opGetChallenge
	opGetBalance
	opInitialize
	opUpdateCAPP
	opDebit
	opCredit
	opGetProof
	opBlock
	opUnblock
	opStamp
)

var opNames = [...]string{
	opNone:         "unknown command",
	opSelect:       "SELECT",
	opReadBinary:   "READ BINARY",
	opReadRecord:   "READ RECORD",
	opGetChallenge: "GET CHALLENGE",
	opGetBalance:   "GET BALANCE",
	opInitialize:   "INITIALIZE",
	opUpdateCAPP:   "UPDATE CAPP DATA CACHE",
	opDebit:        "DEBIT FOR PURCHASE",
	opCredit:       "CREDIT FOR LOAD",
	opGetProof:     "GET TRANSACTION PROOF",
	opBlock:        "APPLICATION BLOCK",
	opUnblock:      "APPLICATION UNBLOCK",
	opStamp:        "STAMP",
}

func (o op) String() string { return opNames[o] }

// lookup finds the command of CLA and INS: 6E00 for a CLA the card does
// not know or an INS it knows under another CLA, 6D00 for an INS it does
// not know.
func lookup(cla, ins byte) (op, apdu.SW) {
	if cla != 0x00 && cla != 0x80 && cla != 0x84 {
		return opNone, apdu.SWCLANotSupported
	}
	var o op
	var want byte
	switch ins {
	case 0xA4:
		o, want = opSelect, 0x00
	case 0xB0:
		o, want = opReadBinary, 0x00
	case 0xB2:
		o, want = opReadRecord, 0x00
	case 0x84:
		o, want = opGetChallenge, 0x00
	case 0x5C:
		o, want = opGetBalance, 0x80
	case 0x50:
		o, want = opInitialize, 0x80
	case 0xDC:
		o, want = opUpdateCAPP, 0x80
	case 0x54:
		o, want = opDebit, 0x80
	case 0x52:
		o, want = opCredit, 0x80
	case 0x5A:
		o, want = opGetProof, 0x80
	case 0x1E:
		o, want = opBlock, 0x84
	case 0x18:
		o, want = opUnblock, 0x84
	case 0xDE:
		o, want = opStamp, 0x80
	default:
		return opNone, apdu.SWINSNotSupported
	}
	if cla != want {
		return opNone, apdu.SWCLANotSupported
	}
	return o, apdu.SWOK
}

// Transmit implements apdu.Transport: it runs one command APDU and returns
// the response APDU (data || SW1 SW2), as the package doc lays them out.
// It returns an error, and no response, only when the card loses power (a
// tear armed with Tear: kind IO) or its random source fails (kind IO);
// every refusal is a status word.
//
// Transaction rule: an INITIALIZE opens a transaction (closing any open
// one, with nothing changed); READ BINARY, READ RECORD and GET BALANCE
// leave it open; a successful UPDATE CAPP DATA CACHE keeps it open; every
// other command, and any failed UPDATE CAPP DATA CACHE, DEBIT or CREDIT,
// closes it, whatever its answer. A GET CHALLENGE is good for the next
// command only.
func (c *Card) Transmit(cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	challenge := c.challenge
	c.challenge = nil

	if len(cmd) < 4 {
		c.tx = nil
		return sw(apdu.SWWrongLength), nil
	}
	o, status := lookup(cmd[0], cmd[1])
	if status != apdu.SWOK {
		c.tx = nil
		return sw(status), nil
	}
	if (o == opDebit || o == opCredit) && c.tear != TearNone {
		step := c.tear
		c.tear = TearNone
		if step == TearAfterCommit {
			// The command runs; its answer never leaves the card.
			if _, err := c.run(o, cmd, challenge); err != nil {
				return nil, err
			}
		}
		c.reset()
		return nil, citycard.E("card.Card.Transmit", citycard.IO, "card lost power during %v (tear %v)", o, step)
	}
	return c.run(o, cmd, challenge)
}

// run decodes and runs one command whose CLA and INS are known.
func (c *Card) run(o op, raw []byte, challenge *[4]byte) ([]byte, error) {
	switch o {
	case opReadBinary, opReadRecord, opGetBalance, opUpdateCAPP, opInitialize, opDebit, opCredit:
		// The handler decides what becomes of the transaction.
	default:
		c.tx = nil
	}
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		c.tx = nil
		return sw(apdu.SWWrongLength), nil
	}
	if o == opSelect {
		return c.doSelect(cmd), nil
	}
	switch c.selected {
	case appNone:
		c.tx = nil
		return sw(apdu.SWConditionsNotMet), nil
	case appBank:
		c.tx = nil
		if cmd.CLA == 0x00 {
			return sw(apdu.SWConditionsNotMet), nil
		}
		return sw(apdu.SWINSNotSupported), nil
	}
	switch o {
	case opReadBinary:
		return c.doReadBinary(cmd), nil
	case opReadRecord:
		return c.doReadRecord(cmd), nil
	case opGetChallenge:
		return c.doGetChallenge(cmd)
	case opGetBalance:
		return c.doGetBalance(cmd), nil
	case opInitialize:
		return c.doInitialize(cmd)
	case opUpdateCAPP:
		return c.doUpdateCAPP(cmd), nil
	case opDebit:
		return c.doDebit(cmd), nil
	case opCredit:
		return c.doCredit(cmd), nil
	case opGetProof:
		return c.doGetProof(cmd), nil
	case opBlock, opUnblock:
		return c.doBlock(o, cmd, challenge), nil
	case opStamp:
		return c.doStamp(cmd), nil
	}
	panic(fmt.Sprintf("card: no handler for %v", o))
}

// sw answers with a status word alone.
func sw(s apdu.SW) []byte { return apdu.Response{SW: s}.Encode() }

// ok answers data || 9000.
func ok(data []byte) []byte { return apdu.Response{Data: data, SW: apdu.SWOK}.Encode() }

// leOK reports whether a command's Le fits a response of n bytes: absent,
// 00 (up to 256) or exactly n.
func leOK(cmd apdu.Command, n int) bool {
	return cmd.Le == -1 || cmd.Le == 256 || cmd.Le == n
}

// lengthOK checks Lc (the data length) and Le of a command that carries
// lc bytes (0: no data) and answers n bytes.
func lengthOK(cmd apdu.Command, lc, n int) bool {
	return len(cmd.Data) == lc && leOK(cmd, n)
}

// random reads 4 bytes from the card's random source.
func (c *Card) random() ([4]byte, error) {
	var r [4]byte
	if _, err := io.ReadFull(c.rand, r[:]); err != nil {
		return r, citycard.E("card.Card.Transmit", citycard.IO, "card random source: %w", err)
	}
	return r, nil
}

// keySet returns the key set of version v, or nil.
func (c *Card) keySet(v uint8) *KeySet {
	for i := range c.keySets {
		if c.keySets[i].Version == v {
			return &c.keySets[i]
		}
	}
	return nil
}

// wire gives a balance as its 4 bytes carry it: 32-bit two's complement,
// so an overdrawn balance of -150 fen is FFFFFF6A.
func wire(balance int64) uint32 { return uint32(int32(balance)) }

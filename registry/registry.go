package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/citycard/citycard"
)

// Limits on what the registry stores.
const (
	PartyIDLenMax   = 32  // bytes of a party ID
	NameLenMax      = 128 // bytes of a party's name
	AccountLenMax   = 256 // bytes of a settlement account description
	VehicleLenMax   = 32  // bytes of a vehicle number
	CredentialBytes = 32  // random bytes of a terminal credential
)

// PartyType is what a party is in the scheme (a member of staff has a
// role; a party has a type).
type PartyType uint8

// The party types. The list only grows at the end.
const (
	PartyIssuer   PartyType = 1 // a card issuer: owes the float of its cards
	PartyOperator PartyType = 2 // runs terminals and is paid for the rides and sales on them
	// PartyFunder funds concessions (the city's transport bureau): it
	// compensates operators for the discounts it funds, by its
	// configured shares (package clearing), and has a position of its
	// own in every cycle that claims one.
	PartyFunder PartyType = 3
	// PartyPayer collects cardholders' money for remote top-ups and
	// loads outside our counters (a third-party payment company such as
	// Alipay or WeChat Pay, a top-up agent): it owes the issuer what it
	// collected, less what was refunded through it, and earns its
	// commission (package clearing); it pays in to the collector, so it
	// is a receivable in the cycle's settlement, never a payment made.
	PartyPayer PartyType = 4
)

var partyTypeNames = [...]string{PartyIssuer: "issuer", PartyOperator: "operator", PartyFunder: "funder", PartyPayer: "payer"}

// String returns the type's name, as stored and shown.
func (r PartyType) String() string { return enumName(partyTypeNames[:], uint8(r)) }

// ParsePartyType parses a party type's name. Kind Invalid for an unknown
// name.
func ParsePartyType(s string) (PartyType, error) {
	v, err := parseEnum("registry.ParsePartyType", "party type", partyTypeNames[:], s)
	return PartyType(v), err
}

// Sector is the line of business of an operator.
type Sector uint8

// The sectors. The list only grows at the end. Issuers have SectorNone.
const (
	SectorNone     Sector = 0
	SectorBus      Sector = 1
	SectorMetro    Sector = 2
	SectorBike     Sector = 3
	SectorParking  Sector = 4
	SectorMerchant Sector = 5
	SectorTaxi     Sector = 6
	SectorFerry    Sector = 7
	SectorOther    Sector = 8
)

var sectorNames = [...]string{
	SectorNone: "none", SectorBus: "bus", SectorMetro: "metro", SectorBike: "bike",
	SectorParking: "parking", SectorMerchant: "merchant", SectorTaxi: "taxi",
	SectorFerry: "ferry", SectorOther: "other",
}

// String returns the sector's name, as stored and shown.
func (s Sector) String() string { return enumName(sectorNames[:], uint8(s)) }

// ParseSector parses a sector's name. Kind Invalid for an unknown name.
func ParseSector(s string) (Sector, error) {
	v, err := parseEnum("registry.ParseSector", "sector", sectorNames[:], s)
	return Sector(v), err
}

// Party is an issuer, an operator, a funder or a payer.
type Party struct {
	// ID names the party here and in ledger account names: an issuer's
	// code in upper-case hex, or an operator's short name.
	ID   string
	Type PartyType
	// Code is the issuer code: an issuer's own; for an operator, the code
	// under which the key store keeps its record master key; for a
	// funder or a payer, its institution code.
	Code   citycard.IssuerCode
	Sector Sector // operators only
	Name   string
	// Own marks our own issuer (the one whose master keys we hold); at
	// most one party is ours.
	Own bool
	// SettlementAccount is the bank account the party is paid to or pays
	// from: bank, branch and account number as one line of text.
	SettlementAccount string
	Created           time.Time
	Updated           time.Time
}

// Validate checks p's fields: kind Invalid with the field named.
func (p *Party) Validate() error {
	const op = "registry.Party.Validate"
	if err := checkPartyID(op, p.ID); err != nil {
		return err
	}
	switch p.Type {
	case PartyIssuer:
		if p.ID != p.Code.String() {
			return citycard.E(op, citycard.Invalid, "issuer %q: its ID must be its issuer code %v", p.ID, p.Code)
		}
		if p.Sector != SectorNone {
			return citycard.E(op, citycard.Invalid, "issuer %q: an issuer has no sector", p.ID)
		}
	case PartyOperator:
		if p.Own {
			return citycard.E(op, citycard.Invalid, "operator %q: only an issuer is ours", p.ID)
		}
		if p.Sector == SectorNone || int(p.Sector) >= len(sectorNames) {
			return citycard.E(op, citycard.Invalid, "operator %q: sector %d", p.ID, p.Sector)
		}
	case PartyFunder, PartyPayer:
		if p.Own {
			return citycard.E(op, citycard.Invalid, "%v %q: only an issuer is ours", p.Type, p.ID)
		}
		if p.Sector != SectorNone {
			return citycard.E(op, citycard.Invalid, "%v %q: a %v has no sector", p.Type, p.ID, p.Type)
		}
	default:
		return citycard.E(op, citycard.Invalid, "party %q: role %d", p.ID, p.Type)
	}
	if p.Code == (citycard.IssuerCode{}) {
		return citycard.E(op, citycard.Invalid, "party %q: zero code", p.ID)
	}
	if err := checkText(op, "name", p.Name, NameLenMax, false); err != nil {
		return err
	}
	return checkText(op, "settlement account", p.SettlementAccount, AccountLenMax, false)
}

func checkPartyID(op, id string) error {
	if id == "" || len(id) > PartyIDLenMax {
		return citycard.E(op, citycard.Invalid, "party ID %q: want 1 to %d bytes", id, PartyIDLenMax)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return citycard.E(op, citycard.Invalid, "party ID %q: byte %q: want letters, digits, '-', '_' or '.'", id, c)
		}
	}
	return nil
}

// checkText refuses empty (unless empty is allowed), over-long, non-UTF-8
// and control-character text: what is stored is printed in reports.
func checkText(op, what, s string, max int, empty bool) error {
	if s == "" && !empty {
		return citycard.E(op, citycard.Invalid, "%s: empty", what)
	}
	if len(s) > max {
		return citycard.E(op, citycard.Invalid, "%s: %d bytes, at most %d", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return citycard.E(op, citycard.Invalid, "%s: not UTF-8", what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return citycard.E(op, citycard.Invalid, "%s: control character %U", what, r)
		}
	}
	return nil
}

// TerminalKind is what a terminal is.
type TerminalType uint8

// The types of terminal. The list only grows at the end.
const (
	TerminalBusValidator TerminalType = 1
	TerminalGate         TerminalType = 2
	TerminalPOS          TerminalType = 3
	TerminalKiosk        TerminalType = 4
	TerminalParkingMeter TerminalType = 5
)

// Loads reports whether a terminal of type k may run a card's online
// load (圈存) with the load host: a kiosk or a counter's reader (pos) may;
// a bus validator, a gate or a parking meter only debits cards, and may
// not.
func (k TerminalType) Loads() bool { return k == TerminalKiosk || k == TerminalPOS }

var terminalTypeNames = [...]string{
	TerminalBusValidator: "bus_validator", TerminalGate: "gate", TerminalPOS: "pos",
	TerminalKiosk: "kiosk", TerminalParkingMeter: "parking_meter",
}

// String returns the type's name, as stored and shown.
func (k TerminalType) String() string { return enumName(terminalTypeNames[:], uint8(k)) }

// ParseTerminalKind parses a kind's name. Kind Invalid for an unknown name.
func ParseTerminalType(s string) (TerminalType, error) {
	v, err := parseEnum("registry.ParseTerminalType", "terminal type", terminalTypeNames[:], s)
	return TerminalType(v), err
}

// Status is a terminal's standing: only an active terminal's records are
// accepted and only an active terminal may call the API.
type Status uint8

// The statuses. The list only grows at the end.
const (
	StatusActive    Status = 1
	StatusSuspended Status = 2 // temporarily barred: back to active by a decision
	StatusRetired   Status = 3 // final
)

var statusNames = [...]string{StatusActive: "active", StatusSuspended: "suspended", StatusRetired: "retired"}

// String returns the status's name, as stored and shown.
func (s Status) String() string { return enumName(statusNames[:], uint8(s)) }

// ParseStatus parses a status's name. Kind Invalid for an unknown name.
func ParseStatus(s string) (Status, error) {
	v, err := parseEnum("registry.ParseStatus", "status", statusNames[:], s)
	return Status(v), err
}

// CanBecome reports whether a terminal of status s may move to status to:
// active and suspended go both ways, either may retire, retired is final,
// and a status never "moves" to itself.
func (s Status) CanBecome(to Status) bool {
	switch s {
	case StatusActive:
		return to == StatusSuspended || to == StatusRetired
	case StatusSuspended:
		return to == StatusActive || to == StatusRetired
	}
	return false
}

// Terminal is a registered terminal.
type Terminal struct {
	ID       citycard.TerminalID
	PSAM     citycard.PSAMID
	Operator string // the operator's party ID
	Type     TerminalType
	// Where it stands: the line and station (as records carry them) or
	// the vehicle; zero or empty where they do not apply.
	Line    uint32
	Station uint32
	Vehicle string
	Status  Status
	// Credential is the SHA-256 of the terminal's API token; zero when no
	// token was issued.
	Credential [32]byte
	Created    time.Time
	Updated    time.Time
}

// Validate checks t's fields: kind Invalid with the field named.
func (t *Terminal) Validate() error {
	const op = "registry.Terminal.Validate"
	if t.ID == (citycard.TerminalID{}) {
		return citycard.E(op, citycard.Invalid, "terminal ID zero")
	}
	if t.PSAM == (citycard.PSAMID{}) {
		return citycard.E(op, citycard.Invalid, "terminal %v: PSAM ID zero", t.ID)
	}
	if err := checkPartyID(op, t.Operator); err != nil {
		return err
	}
	if t.Type == 0 || int(t.Type) >= len(terminalTypeNames) {
		return citycard.E(op, citycard.Invalid, "terminal %v: kind %d", t.ID, t.Type)
	}
	if t.Status == 0 || int(t.Status) >= len(statusNames) {
		return citycard.E(op, citycard.Invalid, "terminal %v: status %d", t.ID, t.Status)
	}
	return checkText(op, "vehicle", t.Vehicle, VehicleLenMax, true)
}

// Active reports whether the terminal may upload and call the API.
func (t *Terminal) Active() bool { return t.Status == StatusActive }

// CheckCredential reports whether token is the terminal's credential,
// comparing hashes in constant time. A terminal without a credential
// matches nothing.
func (t *Terminal) CheckCredential(token string) bool {
	if t.Credential == ([32]byte{}) {
		return false
	}
	h := HashCredential(token)
	return subtle.ConstantTimeCompare(h[:], t.Credential[:]) == 1
}

// NewCredential returns a fresh terminal token (CredentialBytes random
// bytes from rnd, in hex) and its hash. Kind IO if rnd fails.
func NewCredential(rnd io.Reader) (token string, hash [32]byte, err error) {
	var b [CredentialBytes]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", hash, citycard.E("registry.NewCredential", citycard.IO, "random: %w", err)
	}
	token = hex.EncodeToString(b[:])
	return token, HashCredential(token), nil
}

// HashCredential returns the SHA-256 of token, what the registry stores.
func HashCredential(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// Store is the persistence the registry needs; sqlite and postgres
// implement it. Implementations check nothing but uniqueness and
// references: Registry validates before it writes. Their NotFound and
// Exists errors are the ones errors.go builds (PartyClash, TerminalClash,
// NoParty, NoTerminal), in the registry's words.
type Store interface {
	// CreateParty stores a new party. Kind Exists if its ID or Code is
	// taken, or if p.Own and another party is already ours.
	CreateParty(ctx context.Context, p *Party) error
	// UpdateParty overwrites the stored party of p.ID (every field but
	// ID and Created). Kind NotFound if there is none, Exists if p.Code
	// or p.Own collides with another party's.
	UpdateParty(ctx context.Context, p *Party) error
	// Party returns the party of that ID. Kind NotFound (NoParty) only
	// when there is none; IO when the store cannot tell.
	Party(ctx context.Context, id string) (Party, error)
	// Parties returns every party, ordered by ID. Kind IO.
	Parties(ctx context.Context) ([]Party, error)

	// CreateTerminal stores a new terminal. Kind Exists if its ID or PSAM
	// ID is taken, NotFound if its operator is not a party.
	CreateTerminal(ctx context.Context, t *Terminal) error
	// UpdateTerminal overwrites the stored terminal of t.ID (every field
	// but ID and Created). Kind NotFound if there is none (or its
	// operator is not a party), Exists if t.PSAM is another terminal's.
	UpdateTerminal(ctx context.Context, t *Terminal) error
	// Terminal returns the terminal of that ID. Kind NotFound
	// (NoTerminal) only when there is none; IO when the store cannot
	// tell (busy, locked, closed, timed out).
	Terminal(ctx context.Context, id citycard.TerminalID) (Terminal, error)
	// TerminalByPSAM returns the terminal holding that PSAM. Kinds as
	// Terminal's (NoTerminalWithPSAM).
	TerminalByPSAM(ctx context.Context, psam citycard.PSAMID) (Terminal, error)
	// Terminals returns the terminals of operator (every terminal if
	// operator is empty), ordered by ID. Kind IO.
	Terminals(ctx context.Context, operator string) ([]Terminal, error)
}

// Registry applies the registry's rules over a Store. Its methods are safe
// for concurrent use if the Store's are.
type Registry struct {
	store Store
	now   func() time.Time
	rand  io.Reader
	auth  *authCache // nil: every Authenticate reads the store
}

// New returns a Registry over store, stamping changes with now() and
// drawing credentials from crypto/rand.
func New(store Store, now func() time.Time) *Registry {
	return &Registry{store: store, now: now, rand: rand.Reader}
}

// NewAuthCaching is New with Authenticate answering from memory a
// terminal it authenticated less than ttl ago (0: DefaultAuthTTL), for
// the same token, if the terminal was active then: what a server takes
// its terminals' requests through. IssueCredential and SetStatus through
// it refuse the old token or the suspended terminal on its next request;
// a revoke made by another process takes effect within ttl.
func NewAuthCaching(store Store, now func() time.Time, ttl time.Duration) *Registry {
	r := New(store, now)
	r.auth = newAuthCache(ttl)
	return r
}

// forget drops terminal id from the authentication cache, if any.
func (r *Registry) forget(id citycard.TerminalID) {
	if r.auth != nil {
		r.auth.forget(id)
	}
}

// Store returns the Store the registry writes to, for reads.
func (r *Registry) Store() Store { return r.store }

// AddParty validates p, stamps it and stores it; it returns the stored
// party. Kinds Invalid, Exists (see Store.CreateParty).
func (r *Registry) AddParty(ctx context.Context, p Party) (Party, error) {
	const op = "registry.AddParty"
	if err := p.Validate(); err != nil {
		return Party{}, citycard.Wrap(op, citycard.Other, err)
	}
	now := r.now().UTC()
	p.Created, p.Updated = now, now
	if err := r.store.CreateParty(ctx, &p); err != nil {
		return Party{}, citycard.Wrap(op, citycard.Other, err)
	}
	return p, nil
}

// SetSettlementAccount changes the bank account party id settles to.
// Kinds Invalid, NotFound.
func (r *Registry) SetSettlementAccount(ctx context.Context, id, account string) (Party, error) {
	const op = "registry.SetSettlementAccount"
	p, err := r.store.Party(ctx, id)
	if err != nil {
		return Party{}, citycard.Wrap(op, citycard.Other, err)
	}
	p.SettlementAccount = account
	if err := p.Validate(); err != nil {
		return Party{}, citycard.Wrap(op, citycard.Other, err)
	}
	p.Updated = r.now().UTC()
	if err := r.store.UpdateParty(ctx, &p); err != nil {
		return Party{}, citycard.Wrap(op, citycard.Other, err)
	}
	return p, nil
}

// AddTerminal validates t (an active terminal if t.Status is zero),
// checks that its operator is a party of type operator, stamps it and
// stores it. Kinds Invalid, NotFound (no such operator), Exists (see
// Store.CreateTerminal).
func (r *Registry) AddTerminal(ctx context.Context, t Terminal) (Terminal, error) {
	const op = "registry.AddTerminal"
	if t.Status == 0 {
		t.Status = StatusActive
	}
	if err := t.Validate(); err != nil {
		return Terminal{}, citycard.Wrap(op, citycard.Other, err)
	}
	p, err := r.store.Party(ctx, t.Operator)
	if err != nil {
		return Terminal{}, citycard.Wrap(op, citycard.Other, err)
	}
	if p.Type != PartyOperator {
		return Terminal{}, citycard.E(op, citycard.Invalid, "terminal %v: party %q is an %v, not an operator", t.ID, p.ID, p.Type)
	}
	now := r.now().UTC()
	t.Created, t.Updated = now, now
	if err := r.store.CreateTerminal(ctx, &t); err != nil {
		return Terminal{}, citycard.Wrap(op, citycard.Other, err)
	}
	return t, nil
}

// SetStatus moves terminal id to status to. Kinds NotFound, Conflict
// (the move is not allowed: see Status.CanBecome).
func (r *Registry) SetStatus(ctx context.Context, id citycard.TerminalID, to Status) (Terminal, error) {
	const op = "registry.SetStatus"
	t, err := r.store.Terminal(ctx, id)
	if err != nil {
		return Terminal{}, citycard.Wrap(op, citycard.Other, err)
	}
	if !t.Status.CanBecome(to) {
		return Terminal{}, citycard.E(op, citycard.Conflict, "terminal %v: %v cannot become %v", id, t.Status, to)
	}
	t.Status = to
	t.Updated = r.now().UTC()
	err = r.store.UpdateTerminal(ctx, &t)
	r.forget(id) // even on an error: the write may have landed
	if err != nil {
		return Terminal{}, citycard.Wrap(op, citycard.Other, err)
	}
	return t, nil
}

// IssueCredential gives terminal id a fresh API token, replacing (and so
// revoking) any earlier one, and returns the token: the only time it is
// seen. Kinds NotFound, Conflict (a retired terminal), IO.
func (r *Registry) IssueCredential(ctx context.Context, id citycard.TerminalID) (string, error) {
	const op = "registry.IssueCredential"
	t, err := r.store.Terminal(ctx, id)
	if err != nil {
		return "", citycard.Wrap(op, citycard.Other, err)
	}
	if t.Status == StatusRetired {
		return "", citycard.E(op, citycard.Conflict, "terminal %v is retired", id)
	}
	token, hash, err := NewCredential(r.rand)
	if err != nil {
		return "", citycard.Wrap(op, citycard.Other, err)
	}
	t.Credential = hash
	t.Updated = r.now().UTC()
	err = r.store.UpdateTerminal(ctx, &t)
	r.forget(id) // even on an error: the write may have landed
	if err != nil {
		return "", citycard.Wrap(op, citycard.Other, err)
	}
	return token, nil
}

// Authenticate returns terminal id if token is its credential and it is
// active. Kind Permission for an unknown terminal, a wrong token or a
// terminal that is not active (one kind for all, so that a caller learns
// nothing about which); other kinds for storage failures.
func (r *Registry) Authenticate(ctx context.Context, id citycard.TerminalID, token string) (Terminal, error) {
	const op = "registry.Authenticate"
	var gen uint64
	if r.auth != nil {
		t, g, ok := r.auth.get(id, token, r.now())
		if ok {
			return t, nil
		}
		gen = g
	}
	t, err := r.store.Terminal(ctx, id)
	if citycard.IsKind(err, citycard.NotFound) {
		HashCredential(token) // spend the same time as a known terminal
		return Terminal{}, citycard.E(op, citycard.Permission, "terminal %v: not authenticated", id)
	}
	if err != nil {
		return Terminal{}, citycard.Wrap(op, citycard.Other, err)
	}
	if !t.CheckCredential(token) || !t.Active() {
		return Terminal{}, citycard.E(op, citycard.Permission, "terminal %v: not authenticated", id)
	}
	if r.auth != nil {
		r.auth.put(t, gen, r.now())
	}
	return t, nil
}

func enumName(names []string, v uint8) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return "unknown(" + strconv.Itoa(int(v)) + ")"
}

func parseEnum(op, what string, names []string, s string) (uint8, error) {
	for i, n := range names {
		if n != "" && n == s {
			return uint8(i), nil
		}
	}
	return 0, citycard.E(op, citycard.Invalid, "unknown %s %q", what, s)
}

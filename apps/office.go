package apps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// Limits of the back office's applications.
const (
	AppIDMax        = 32 // bytes of an application's ID
	AppNameMax      = 100
	CredentialBytes = 32 // random bytes of an application's token (64 hex digits)
)

// App is an application system as data: a party (registry) whose
// terminals serve one application kind at one scope, and the credential
// its own system calls the application API with.
type App struct {
	ID    string           // lower-case letters, digits and '-', 1..AppIDMax: "nb-library"
	Name  string           // what people call it: "Ningbo Library"
	Kind  card.Application // which rules its gates decide by
	Scope uint32           // its school, library, venue, site group or zone code
	Party string           // the registry party that operates its terminals
	// Credential is the SHA-256 of its API token; the token itself is
	// shown once, at Add, and kept nowhere.
	Credential [32]byte
	// WebhookURL receives the lifecycle events of the application's cards
	// (Deliver); "" for none. WebhookSecret signs them (Signature): made
	// at Add, kept as is, since signing needs it.
	WebhookURL    string
	WebhookSecret string
	CreatedAt     time.Time
}

// Validate checks a's fields. Kind Invalid naming the field.
func (a *App) Validate() error {
	const op = "apps.App.Validate"
	if len(a.ID) == 0 || len(a.ID) > AppIDMax || strings.Trim(a.ID, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return citycard.E(op, citycard.Invalid, "application ID %q: want 1 to %d of a-z, 0-9 and -", a.ID, AppIDMax)
	}
	if strings.TrimSpace(a.Name) == "" || len(a.Name) > AppNameMax {
		return citycard.E(op, citycard.Invalid, "application %s: name %q: want 1 to %d bytes", a.ID, a.Name, AppNameMax)
	}
	if !a.Kind.Valid() {
		return citycard.E(op, citycard.Invalid, "application %s: kind %v: want campus, library, venue, site, parking or bike", a.ID, a.Kind)
	}
	if a.WebhookURL != "" && !strings.HasPrefix(a.WebhookURL, "https://") && !strings.HasPrefix(a.WebhookURL, "http://") {
		return citycard.E(op, citycard.Invalid, "application %s: webhook %q: want an http or https URL", a.ID, a.WebhookURL)
	}
	if a.Party == "" {
		return citycard.E(op, citycard.Invalid, "application %s: party missing", a.ID)
	}
	return nil
}

// CardRef names a card: its issuer and ASN.
type CardRef struct {
	Issuer citycard.IssuerCode
	ASN    citycard.ASN
}

func (c CardRef) String() string { return c.Issuer.String() + "/" + c.ASN.String() }

// GrantState is where a grant stands.
type GrantState uint8

// The states of a grant. Only an active grant is in the card's file.
const (
	Active  GrantState = 1 // in force
	Revoked GrantState = 2 // ended by the application or a service point
	Blocked GrantState = 3 // the card was reported lost: kept, not in force
)

var stateNames = [...]string{Active: "active", Revoked: "revoked", Blocked: "blocked"}

func (s GrantState) String() string {
	if s >= Active && s <= Blocked {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ParseGrantState parses active, revoked or blocked. Kind Invalid for
// another.
func ParseGrantState(s string) (GrantState, error) {
	for v := Active; v <= Blocked; v++ {
		if s == stateNames[v] {
			return v, nil
		}
	}
	return 0, citycard.E("apps.ParseGrantState", citycard.Invalid, "grant state %q: want active, revoked or blocked", s)
}

// Grant is one application's entitlement on one card, as the back office
// keeps it: the grant part of an entitlement slot (application kind and
// scope from the App, validity, class, limit) and its state.
type Grant struct {
	App  string // the App's ID
	Card CardRef
	// Slot is the grant part of an entitlement slot; its Uses is the use
	// a new file of the card starts with (0, but a replacement's library
	// loans out: Follow). The use since is the card's.
	Slot      card.Entitlement
	State     GrantState
	ChangedAt time.Time
}

// Terms are what a grant gives: validity, both days included, a campus
// class, a library or venue limit.
type Terms struct {
	ValidFrom, ValidTo citycard.BCDDate
	Class, Limit       uint16
}

// Store keeps applications and grants; sqlite and postgres implement it
// (storetest.RunApps). Kinds: NotFound, Exists, IO.
type Store interface {
	// CreateApp stores a new application. Kind Exists if its ID, its
	// credential or its kind and scope are taken (one application a
	// scope, so that a card's file never holds two slots of one).
	CreateApp(ctx context.Context, a *App) error
	// App returns the application of that ID. Kind NotFound.
	App(ctx context.Context, id string) (App, error)
	// AppByCredential returns the application whose credential hash is
	// h. Kind NotFound.
	AppByCredential(ctx context.Context, h [32]byte) (App, error)
	// Apps returns every application, ordered by ID.
	Apps(ctx context.Context) ([]App, error)
	// PutGrant stores g (new, or replacing g.App's grant on g.Card) and,
	// in the same transaction, raises the card's entitlement file
	// version by one and sets g.App's gate version of the card to it
	// (GateVersions); it returns the new version. check, unless nil, runs
	// first inside that transaction on the card's grants as they stand,
	// with every other writer of grants waiting: its error is returned
	// as is, and nothing is written; it may still change g. Kind NotFound if g.App is no
	// application.
	PutGrant(ctx context.Context, g *Grant, check func(current []Grant) error) (version uint32, err error)
	// PutTerms is PutGrant but for the gate version: the card's file
	// version moves, g.App's gate version of the card does not, so that
	// gates do not refuse the card's older file stale (a change of terms
	// the gates need not enforce at once: SetCanteenLimit). Kind NotFound
	// as PutGrant.
	PutTerms(ctx context.Context, g *Grant, check func(current []Grant) error) (version uint32, err error)
	// GateVersions returns up to limit of app's gate versions numbered
	// after after, by number: the cards whose grant of app changed, each
	// with the file version its gates require now.
	GateVersions(ctx context.Context, app string, after int64, limit int) ([]GateVersion, error)
	// Grant returns app's grant on c, whatever its state. Kind NotFound.
	Grant(ctx context.Context, app string, c CardRef) (Grant, error)
	// CardGrants returns every grant on c, ordered by application ID,
	// and the card's file version (0: never changed).
	CardGrants(ctx context.Context, c CardRef) ([]Grant, uint32, error)

	// Cursor returns the last audit record ApplyLifecycle applied (0:
	// none).
	Cursor(ctx context.Context) (int64, error)
	// ApplyLifecycle stores grants (as PutGrant, each card's file version
	// raised once), queues events in the outbox and moves the cursor to
	// seq, in one transaction. Kind Conflict if seq is not after the
	// cursor (applied already).
	ApplyLifecycle(ctx context.Context, seq int64, grants []Grant, events []Event) error
	// Quarantine keeps q and moves the cursor to q.Seq, in one
	// transaction. Kind Conflict if q.Seq is not after the cursor.
	Quarantine(ctx context.Context, q Quarantined) error
	// QuarantinedAudit returns up to limit quarantined audit records
	// after audit sequence number after, by number.
	QuarantinedAudit(ctx context.Context, after int64, limit int) ([]Quarantined, error)
	// DueEvents returns up to limit events neither delivered nor failed
	// whose next attempt is at or before now, by ID.
	DueEvents(ctx context.Context, now time.Time, limit int) ([]Event, error)
	// UpdateEvent stores e's attempts, next attempt, delivery and
	// failure. Kind NotFound.
	UpdateEvent(ctx context.Context, e *Event) error
	// Events returns up to limit of app's events after ID after, by ID,
	// whatever their delivery.
	Events(ctx context.Context, app string, after int64, limit int) ([]Event, error)

	// ClassGrants returns up to limit of app's grants of class whose
	// validity covers day, active or blocked, by card (issuer, ASN).
	ClassGrants(ctx context.Context, app string, class uint16, day citycard.BCDDate, limit int) ([]Grant, error)
	// Classes returns up to limit of app's classes (1 to 65535) that
	// hold a grant whose validity covers day, active or blocked, by
	// class.
	Classes(ctx context.Context, app string, day citycard.BCDDate, limit int) ([]uint16, error)
	// ClassRecords returns up to limit of app's records dated day of
	// the cards that hold a grant of app of class (any state), by
	// journal position.
	ClassRecords(ctx context.Context, app string, class uint16, day citycard.BCDDate, limit int) ([]AppRecord, error)

	// RecordsCursors returns each application's last journal position
	// ApplyRecords reached; an application missing has none (0).
	RecordsCursors(ctx context.Context) (map[string]int64, error)
	// ApplyRecords stores recs, queues events in the outbox and moves
	// the records cursor of each of apps to pos, in one transaction.
	// Kind Conflict if pos is not after the cursor of one of them (filed
	// already), NotFound if one is no application.
	ApplyRecords(ctx context.Context, pos int64, apps []string, recs []AppRecord, events []Event) error
	// Records returns up to limit of app's records after position after,
	// by position.
	Records(ctx context.Context, app string, after int64, limit int) ([]AppRecord, error)
	// DayCounts returns app's taps and distinct cards on day, by action.
	DayCounts(ctx context.Context, app string, day citycard.BCDDate) ([]ActionCount, error)

	// SetPeriods replaces app's periods with ps (checked). Kind NotFound
	// if app is no application.
	SetPeriods(ctx context.Context, app string, ps []Period) error
	// Periods returns app's periods, by start.
	Periods(ctx context.Context, app string) ([]Period, error)
	// PeriodAdmissions counts app's admission records dated day whose
	// time is from start (included) to end (not).
	PeriodAdmissions(ctx context.Context, app string, day citycard.BCDDate, start, end citycard.BCDTime) (int64, error)

	// SetCalendar replaces app's calendar with c (checked). Kind
	// NotFound if app is no application.
	SetCalendar(ctx context.Context, app string, c Calendar) error
	// Calendar returns app's calendar, each list by date, empty (not
	// nil) for none.
	Calendar(ctx context.Context, app string) (Calendar, error)
	// LastRecord returns app's record of card c of the highest
	// application counter (the card's last stamp the back office has),
	// the latest journal position among equals. Kind NotFound for none.
	LastRecord(ctx context.Context, app string, c CardRef) (AppRecord, error)
}

// Office is the back office's side of the applications: it adds them,
// grants and revokes their entitlements, and builds the entitlement file
// a service point writes. It is safe for concurrent use (the store
// serializes writes).
type Office struct {
	store Store
	now   func() time.Time
	rnd   io.Reader
	cards Cards
	// concessions gives a concession card's slot for File; nil: none.
	concessions Concessions
}

// Cards says whether card management lets a card take a grant: kind
// Conflict for a card lost, replaced, damaged, expired or closed, NotFound
// for one it does not know (api.CMSCards over cms.Store). Registered is
// card management's notion: the card has a cardholder (an anonymous
// card has none), which a bike grant needs (deposit-free rental).
type Cards interface {
	Grantable(ctx context.Context, c CardRef) (registered bool, err error)
}

// WithCards makes Grant ask cards first, so that a card lost before it
// had any grant (no grant of it to block) is refused too. It returns o.
func (o *Office) WithCards(cards Cards) *Office {
	o.cards = cards
	return o
}

// Concessions gives a concession card's slot of the entitlement file
// (card.AppConcession: scope the rider category code, valid from its
// last review to the last day of the review's grace) as card management
// has it now; ok false for a card that is no concession card
// (api.CMSConcessions over cms.Manager.Concession).
type Concessions interface {
	Concession(ctx context.Context, c CardRef) (slot card.Entitlement, ok bool, err error)
}

// WithConcessions makes File add a concession card's slot, so that every
// online contact that rewrites the file (Rewrite) carries the card's
// annual review to the fare terminals. It returns o.
func (o *Office) WithConcessions(c Concessions) *Office {
	o.concessions = c
	return o
}

// NewOffice returns an Office over store; now gives the time, rnd the
// randomness of credentials (crypto/rand.Reader in production).
func NewOffice(store Store, now func() time.Time, rnd io.Reader) *Office {
	return &Office{store: store, now: now, rnd: rnd}
}

// Add validates a, gives it a fresh credential and stores it. It returns
// the stored application and its token, shown this once. Kinds Invalid,
// Exists, IO.
func (o *Office) Add(ctx context.Context, a App) (App, string, error) {
	const op = "apps.Office.Add"
	if err := a.Validate(); err != nil {
		return App{}, "", citycard.Wrap(op, citycard.Invalid, err)
	}
	var b [2 * CredentialBytes]byte
	if _, err := io.ReadFull(o.rnd, b[:]); err != nil {
		return App{}, "", citycard.E(op, citycard.IO, "random: %w", err)
	}
	token := hex.EncodeToString(b[:CredentialBytes])
	a.Credential, a.WebhookSecret = HashToken(token), hex.EncodeToString(b[CredentialBytes:])
	a.CreatedAt = o.now().UTC()
	if err := o.store.CreateApp(ctx, &a); err != nil {
		return App{}, "", citycard.Wrap(op, citycard.Other, err)
	}
	return a, token, nil
}

// HashToken is the SHA-256 of an application's token, what the store
// keeps: one hash a request, no password hash (a bcrypt a check would
// miss the API's latency).
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// Apps returns every application, ordered by ID. Kind IO.
func (o *Office) Apps(ctx context.Context) ([]App, error) { return o.store.Apps(ctx) }

// Authenticate returns the application whose token this is. Kind
// Unauthenticated for a token that names none (an empty one included).
func (o *Office) Authenticate(ctx context.Context, token string) (App, error) {
	const op = "apps.Office.Authenticate"
	if token == "" {
		return App{}, citycard.E(op, citycard.Unauthenticated, "no application token")
	}
	a, err := o.store.AppByCredential(ctx, HashToken(token))
	if citycard.KindOf(err) == citycard.NotFound {
		return App{}, citycard.E(op, citycard.Unauthenticated, "no application has this token")
	}
	return a, err
}

// Grant gives application app the entitlement t on card c, replacing
// its grant there if it has one; the card's file version moves. It
// returns the grant and the version. Kinds: Invalid (terms the slot
// refuses), NotFound (no application app; a card card management does
// not know, WithCards), Conflict (the card's grants are blocked by a
// loss, card management's Cards refuses it, a bike grant on a card
// that is not registered, or with no Cards to tell, or its file has
// card.EntitlementsMax grants of other applications already), IO.
func (o *Office) Grant(ctx context.Context, app string, c CardRef, t Terms) (Grant, uint32, error) {
	const op = "apps.Office.Grant"
	a, err := o.store.App(ctx, app)
	if err != nil {
		return Grant{}, 0, citycard.Wrap(op, citycard.Other, err)
	}
	slot := card.Entitlement{App: a.Kind, Scope: a.Scope, ValidFrom: t.ValidFrom, ValidTo: t.ValidTo, Class: t.Class, Limit: t.Limit}
	if err := slot.Validate(); err != nil {
		return Grant{}, 0, citycard.E(op, citycard.Invalid, "application %s, card %v: %w", app, c, err)
	}
	registered := false
	if o.cards != nil {
		if registered, err = o.cards.Grantable(ctx, c); err != nil {
			return Grant{}, 0, citycard.Wrap(op, citycard.Other, err)
		}
	}
	if a.Kind == card.AppBike && !registered {
		// Deposit-free rental is for registered cards: the operator
		// knows whom to ask for a bike never returned. Without card
		// management to tell, no card is.
		return Grant{}, 0, citycard.E(op, citycard.Conflict, "application %s, card %v: the card is not registered (no cardholder): deposit-free bike rental is for registered cards only", app, c)
	}
	g := Grant{App: app, Card: c, Slot: slot, State: Active, ChangedAt: o.now().UTC()}
	v, err := o.store.PutGrant(ctx, &g, func(current []Grant) error {
		for _, x := range current {
			if x.App == app {
				// A replacement's loans out and bike out, carried on a
				// change of terms.
				g.Slot.Uses = min(x.Slot.Uses, g.Slot.Limit)
				g.Slot.Inside, g.Slot.LastDate, g.Slot.LastTime = x.Slot.Inside, x.Slot.LastDate, x.Slot.LastTime
			}
		}
		return grantable(op, app, c, current)
	})
	if err != nil {
		return Grant{}, 0, citycard.Wrap(op, citycard.Other, err)
	}
	return g, v, nil
}

// grantable is Grant's check of the card's grants as they stand, run in
// the store's transaction: Conflict if they are blocked by a loss, or if
// card.EntitlementsMax applications other than app hold an active grant
// (the file has no slot left). Two grants racing for the last slot: the
// second sees the first's.
func grantable(op, app string, c CardRef, current []Grant) error {
	others := 0
	for _, g := range current {
		switch {
		case g.State == Blocked:
			return citycard.E(op, citycard.Conflict, "card %v: its entitlements are blocked (reported lost)", c)
		case g.State == Active && g.App != app:
			others++
		}
	}
	if others >= card.EntitlementsMax {
		return citycard.E(op, citycard.Conflict, "card %v: %d applications' entitlements already, the file holds %d", c, others, card.EntitlementsMax)
	}
	return nil
}

// Revoke ends application app's grant on card c; the card's file
// version moves, so gates refuse the old file stale. Kinds: NotFound (no
// grant of app on c: another application's card is not found either),
// Conflict (the grant is not active; a bike grant whose card's last
// filed record is a hire: the bike out first comes back), IO.
func (o *Office) Revoke(ctx context.Context, app string, c CardRef) (Grant, uint32, error) {
	const op = "apps.Office.Revoke"
	g, err := o.store.Grant(ctx, app, c)
	if err != nil {
		return Grant{}, 0, citycard.Wrap(op, citycard.Other, err)
	}
	if g.Slot.App == card.AppBike {
		// The card's next file would drop the slot and the bike out on
		// it, never charged: the bike comes back first.
		last, err := o.store.LastRecord(ctx, app, c)
		switch {
		case err != nil && citycard.KindOf(err) != citycard.NotFound:
			return Grant{}, 0, citycard.Wrap(op, citycard.Other, err)
		case err == nil && last.Action == Hire:
			return Grant{}, 0, citycard.E(op, citycard.Conflict, "application %s, card %v: a bike is out since %v %X (dock %d): revoke once it is returned", app, c, last.Date, last.Time[:], last.Place)
		case err != nil && g.Slot.Inside:
			return Grant{}, 0, citycard.E(op, citycard.Conflict, "application %s, card %v: a bike is out since %v %X, carried from the card it replaced: revoke once it is returned", app, c, g.Slot.LastDate, g.Slot.LastTime[:])
		}
	}
	g.State, g.ChangedAt = Revoked, o.now().UTC()
	// Active as it stands in the store's transaction: a loss blocking it
	// meanwhile is not overwritten.
	v, err := o.store.PutGrant(ctx, &g, func(current []Grant) error {
		x, err := activeAsItStands(op, app, c, current)
		if x.App == app {
			g.Slot = x.Slot // its terms as they stand
		}
		return err
	})
	if err != nil {
		return Grant{}, 0, citycard.Wrap(op, citycard.Other, err)
	}
	return g, v, nil
}

// activeAsItStands returns app's grant on c among current, the card's
// grants as they stand in the store's transaction: Conflict if it is not
// active (a loss blocked it meanwhile, say), and the zero grant if
// current holds none of app (the store then finds no grant to replace).
func activeAsItStands(op, app string, c CardRef, current []Grant) (Grant, error) {
	for _, x := range current {
		if x.App != app {
			continue
		}
		if x.State != Active {
			return Grant{}, citycard.E(op, citycard.Conflict, "application %s, card %v: the grant is %v", app, c, x.State)
		}
		return x, nil
	}
	return Grant{}, nil
}

// Entitlement returns application app's grant on card c, whatever its
// state. Kind NotFound when app has none there: an application sees its
// own cards only.
func (o *Office) Entitlement(ctx context.Context, app string, c CardRef) (Grant, error) {
	g, err := o.store.Grant(ctx, app, c)
	if err != nil {
		return Grant{}, citycard.Wrap("apps.Office.Entitlement", citycard.Other, err)
	}
	return g, nil
}

// Check answers an application's online question "may card c do action
// today?" from the back office's grant alone (the card's use so far,
// loans out or admissions, is on the card): WrongApplication if app has
// no active grant there or the action is not one of app's, Blacklisted
// if the grant is blocked by a loss, Expired outside its validity (a
// library return and a check-out never are), else Allowed. Kind NotFound
// when app has no grant on c at all.
func (o *Office) Check(ctx context.Context, app string, c CardRef, action Action, today citycard.BCDDate) (Reason, Grant, error) {
	g, err := o.Entitlement(ctx, app, c)
	if err != nil {
		return 0, Grant{}, err
	}
	switch {
	case g.State == Blocked:
		return Blacklisted, g, nil
	case g.State != Active || !Of(g.Slot.App, action):
		return WrongApplication, g, nil
	case action != Return && action != CheckOut && !g.Slot.ValidOn(today):
		return Expired, g, nil
	}
	return Allowed, g, nil
}

// File returns the card's entitlement file as the back office has it:
// the slots of its active grants (by application ID), at the card's file
// version, under application key version keyVersion, its counter and
// grant MAC zero, each slot's use the one its grant carries (0, but a
// replacement's library loans out: Follow), and last, with
// WithConcessions, a concession card's slot. The service point sets the counter it read from the
// card, copies each slot's use from the card's file and signs it
// (SignGrants) before it writes. Kinds IO, and the concessions' (NotFound
// for a card card management does not know).
func (o *Office) File(ctx context.Context, c CardRef, keyVersion uint8) (card.Entitlements, error) {
	const op = "apps.Office.File"
	gs, v, err := o.store.CardGrants(ctx, c)
	if err != nil {
		return card.Entitlements{}, citycard.Wrap(op, citycard.Other, err)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].App < gs[j].App })
	f := card.Entitlements{KeyVersion: keyVersion, Version: v}
	for _, g := range gs {
		if g.State == Active {
			f.Slots = append(f.Slots, g.Slot)
		}
	}
	if o.concessions != nil {
		slot, ok, err := o.concessions.Concession(ctx, c)
		if err != nil {
			return card.Entitlements{}, citycard.Wrap(op, citycard.Other, err)
		}
		if ok {
			f.Slots = append(f.Slots, slot)
		}
	}
	return f, nil
}

// Limits of the gates' versions.
const GateVersionsPageMax = 10000 // versions in one page of GateVersions

// GateVersion is what an application's gates require of one card's
// entitlement file: at least the version at which the application's
// grant on the card last changed (granted, changed, revoked, blocked by
// a loss, active again, moved to a replacement). Seq numbers the changes
// of every application in the order they were committed, so that a gate
// holding the versions up to Seq asks for those after it.
type GateVersion struct {
	Seq     int64
	Card    CardRef
	Version uint32
}

// GateVersions returns up to limit (1..GateVersionsPageMax) of the gate
// versions numbered after after, of the application of kind and scope
// operated by party (the gate's terminal's operator): those a gate of
// that application holds in its parameters (terminal.MinVersions), so
// that it refuses an older file stale. Kinds: Invalid for a limit out of
// range, NotFound for no application of that kind and scope operated by
// party (another operator's application is not found either), IO.
func (o *Office) GateVersions(ctx context.Context, party string, kind card.Application, scope uint32, after int64, limit int) ([]GateVersion, error) {
	const op = "apps.Office.GateVersions"
	if limit < 1 || limit > GateVersionsPageMax {
		return nil, citycard.E(op, citycard.Invalid, "limit %d: want 1 to %d", limit, GateVersionsPageMax)
	}
	if after < 0 {
		return nil, citycard.E(op, citycard.Invalid, "after %d: want 0 or more", after)
	}
	list, err := o.store.Apps(ctx)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	for _, a := range list {
		if a.Kind == kind && a.Scope == scope && a.Party == party {
			vs, err := o.store.GateVersions(ctx, a.ID, after, limit)
			if err != nil {
				return nil, citycard.Wrap(op, citycard.Other, err)
			}
			return vs, nil
		}
	}
	return nil, citycard.E(op, citycard.NotFound, "no %v application at scope %d operated by %s", kind, scope, party)
}

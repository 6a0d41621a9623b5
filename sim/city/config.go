package city

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/terminal"
)

// Limits of a run.
const (
	CardsMax = 200_000 // cards of one city: about 7 KiB of memory each, the back office's included
	DaysMax  = 366     // days of one run
)

// Fault is a kind of fault the simulator injects.
type Fault string

// The faults simulated now. Each is switched on by name (Config.Faults).
const (
	// FaultOffline takes terminals offline for one to three days; they
	// upload everything at once when they come back.
	FaultOffline Fault = "offline"
	// FaultDuplicate sends batches again after their answer: under the
	// same batch ID (the stored answer must come back) or a new one
	// (every record must be answered duplicate, or rejected again).
	FaultDuplicate Fault = "duplicate"
	// FaultReorder sends a shuffled copy of a batch, under another ID,
	// before the batch itself: the back office sees a terminal's records
	// out of order.
	FaultReorder Fault = "reorder"
	// FaultTear tears taps: the card loses power at DEBIT, before or
	// after committing; the rider retries at once (recovered by GET
	// TRANSACTION PROOF) or walks away (the grey record stays, to be
	// settled from the card's later records, or never).
	FaultTear Fault = "tear"
	// FaultForge puts forged records in terminals' queues: sealed by the
	// terminal's PSAM but not made by a card (the TAC is wrong); in an
	// application gate's, a stamp whose record MAC is made up.
	FaultForge Fault = "forge"
	// FaultAlter puts altered copies of genuine records in terminals'
	// queues (an amount changed after sealing, at a gate the card
	// number or the time: the record MAC is wrong).
	FaultAlter Fault = "alter"
	// FaultLost reports registered cards lost to card management, which
	// blacklists them; whoever holds the card keeps using it.
	FaultLost Fault = "lost"
	// FaultSkew sets terminals' clocks wrong: minutes, hours or weeks.
	FaultSkew Fault = "skew"
	// FaultDB makes the database fail now and then, transiently: a
	// commit refused, or committed with its answer lost.
	FaultDB Fault = "db"
	// FaultCrash kills the back office mid-upload, as kill -9 does, and
	// restarts it over the store as the crash left it.
	FaultCrash Fault = "crash"
	// FaultCrashClearing kills the back office in the middle of a
	// cycle's clearing: while it gathers the cycle's records, or at one
	// of the cycle's saves (computed, reviewed, approved, closed), before
	// or after the save goes through. The restarted back office resumes
	// the cycle from the state its store kept.
	FaultCrashClearing Fault = "crash-clearing"
	// FaultWebhook makes the applications' webhook receiver fail now
	// and then: a 503 before it takes the event, or after (the answer
	// lost: the outbox sends it again, and the receiver deduplicates
	// it by its Idempotency-Key).
	FaultWebhook Fault = "webhook"
)

// Faults lists the faults simulated now, in the order reports show them.
var Faults = []Fault{FaultOffline, FaultDuplicate, FaultReorder, FaultTear, FaultForge, FaultAlter, FaultLost, FaultSkew, FaultDB, FaultCrash, FaultCrashClearing, FaultCounterpart, FaultWebhook}

// FaultsNotYet are the faults of the simulator's plan that need parts of
// the platform not built yet, with what they wait for.
var FaultsNotYet = map[Fault]string{}

// ParseFaults parses a list of faults: "all", "" (none), or names
// separated by commas. Kind Invalid for an unknown name, or one not
// simulated yet (the error says what it waits for).
func ParseFaults(s string) ([]Fault, error) {
	const op = "city.ParseFaults"
	s = strings.TrimSpace(s)
	switch s {
	case "", "none":
		return nil, nil
	case "all":
		return slices.Clone(Faults), nil
	}
	var out []Fault
	for _, name := range strings.Split(s, ",") {
		f := Fault(strings.TrimSpace(name))
		if why, ok := FaultsNotYet[f]; ok {
			return nil, citycard.E(op, citycard.Invalid, "fault %q is not simulated yet: %s", f, why)
		}
		if !slices.Contains(Faults, f) {
			return nil, citycard.E(op, citycard.Invalid, "unknown fault %q (want all, or some of %s)", f, faultNames(Faults))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

func faultNames(fs []Fault) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ",")
}

// Config sets a run up.
type Config struct {
	Seed   uint64
	Cards  int // 1 to CardsMax
	Days   int // 1 to DaysMax
	Faults []Fault
	// Alg is the algorithm of every issuer's keys (3DES by default: zero).
	Alg keys.Alg
	// Dir is where terminals keep their queues (one file each); the
	// caller removes it.
	Dir string
	// Start is the first day's midnight (China time); zero: Monday 1 June
	// 2026.
	Start time.Time
	// Progress, if not nil, receives a line now and then (stderr).
	Progress io.Writer
	// Explain, if not nil, receives the history of the first card each
	// violated invariant names: its records, their answers, what the
	// stores hold of them, the card's log.
	Explain io.Writer
	// Timings, if not nil, is read for the run's timing figures (wall
	// clock: kept out of the compared part of the report); nil: none.
	Timings func() time.Time
	// CoolingDays is the cooling period of a replacement in the city's
	// products (Products), 0 to 365; 0: DefaultCoolingDays.
	CoolingDays int
	// SettleDir is where the cycles' settlement files are written;
	// empty: Dir/settlement.
	SettleDir string
	// DropClearedRecord is a test hook that breaks an invariant on
	// purpose: the first cycle is handed one booked record as a
	// duplicate, so that no cycle pays its operator for it.
	DropClearedRecord bool
	// ForgetClaim is a test hook that breaks an invariant on purpose:
	// the city forgets the first remote top-up it claimed on a card, so
	// that the back office holds a claim the city never made.
	ForgetClaim bool
	// LoseIncoming is a test hook that breaks an invariant on purpose:
	// the first INC file a counterpart city makes is lost on its way, so
	// that our cards spent there what the back office never booked.
	LoseIncoming bool
}

func (c *Config) check() error {
	const op = "city.Config"
	if c.Cards < 1 || c.Cards > CardsMax {
		return citycard.E(op, citycard.Invalid, "cards: %d, want 1 to %d", c.Cards, CardsMax)
	}
	if c.Days < 1 || c.Days > DaysMax {
		return citycard.E(op, citycard.Invalid, "days: %d, want 1 to %d", c.Days, DaysMax)
	}
	if c.CoolingDays < 0 || c.CoolingDays > 365 {
		return citycard.E(op, citycard.Invalid, "cooling days: %d, want 0 to 365", c.CoolingDays)
	}
	if c.CoolingDays == 0 {
		c.CoolingDays = DefaultCoolingDays
	}
	if c.Dir == "" {
		return citycard.E(op, citycard.Invalid, "no directory for the terminals' queues")
	}
	if c.Alg == 0 {
		c.Alg = keys.Alg3DES
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 6, 1, 0, 0, 0, 0, citycard.ChinaTime)
	}
	return nil
}

func (c *Config) has(f Fault) bool { return slices.Contains(c.Faults, f) }

// BackOffice is the back office a city runs against, wired by the caller
// as the platform wires it (cmd/citycard wires serve's: the stores,
// acquisition and the HTTP API on a loopback port). The city calls it
// from one goroutine.
type BackOffice interface {
	// Open opens the store (empty at the first Open, migrations applied)
	// and returns its registry, for the city to register its parties and
	// terminals before Start.
	Open(ctx context.Context) (*registry.Registry, error)
	// Start starts acquisition and the API over the store as the last
	// Stop left it, with s's keys, clock, fare table and journal wrapper.
	Start(ctx context.Context, s Setup) error
	// Stop stops the API and acquisition and closes the store. With crash
	// it is a kill -9: acquisition writes nothing more (the journal
	// wrapper is dead by then), connections drop, and the next Start
	// finds the store as the crash left it.
	Stop(crash bool) error
	// Link returns terminal id's connection to the API, with its token.
	// It follows restarts.
	Link(id citycard.TerminalID, token string) Link
	// Cards returns the running back office's card management (its
	// Manager on the city's clock, listing a lost card on the blacklist
	// terminals download) and its online load host (MAC1 and the TAC
	// checked under Setup's keys, unconfirmed loads settled from
	// acquisition's card shadows). It follows restarts.
	Cards() (*cms.Manager, *cms.LoadHost)
	// CardFlows returns the flows card management booked for a card of
	// our issuer (cms.Store.Flows), read by the checks.
	CardFlows(ctx context.Context, asn citycard.ASN) ([]cms.Flow, error)
	// Staff returns the API's staff clients over HTTP, of a service
	// point's clerk and of a supervisor (remote top-ups, their sweep,
	// refunds). It follows restarts: call it for each request.
	Staff() (clerk, supervisor *api.StaffClient)
	// Acquirer, Journal and Ledger are the running back office's, read by
	// the checks (the journal unwrapped).
	Acquirer() *acquire.Acquirer
	Journal() acquire.Journal
	Ledger() ledger.Store
	// InteropCards reads our cards' records accepted in other cities
	// from the running back office's interconnection store, as the
	// API's refunds count them; nil while the store is closed.
	InteropCards() interop.CardStore
	// Clearing returns the clearing cycles over the running back
	// office's store and journal, on the city's clock, and what the
	// registry says of every party (its name and settlement account):
	// what the settlement files are made of. The city wraps the cycles'
	// Store and Journal (the crash mid-clearing).
	Clearing(ctx context.Context) (*clearing.Cycles, map[string]exchange.Party, error)
	// Apps returns the application systems' back office over the
	// running store (apps.Office on the city's clock, its grants asking
	// card management whether a card may have one) and card
	// management's audit log, which Office.Follow reads. It follows
	// restarts.
	Apps() (*apps.Office, apps.Lifecycle)
}

// Setup is what the city gives its back office at Start.
type Setup struct {
	Keys keys.Store
	// Products is the catalog card management sells from (Products).
	Products *cms.Catalog
	// Now is the back office's clock: the simulated city's.
	Now   func() time.Time
	Fares *fare.Table
	// Journal wraps the store's journal before acquisition opens over it
	// (the database faults); nil: none.
	Journal func(acquire.Journal) acquire.Journal
	// CheckpointEvery is acquisition's checkpoint interval (records), so
	// that a restart loads a checkpoint and replays the journal after it.
	CheckpointEvery int64
}

// Link is a terminal's connection to the back office (api.Client
// implements it).
type Link interface {
	Upload(ctx context.Context, b terminal.UploadBatch) (acquire.Answer, error)
	SyncBlacklist(ctx context.Context, local *blacklist.List) (pages int, err error)
	// SyncGateVersions brings an application gate's least entitlement
	// file versions (kind at scope) up to the back office's, page by
	// page (GET /v1/terminals/{terminal}/entitlement-versions).
	SyncGateVersions(ctx context.Context, kind card.Application, scope uint32, local *terminal.MinVersions) (pages int, err error)
	// Loads returns the terminal's load client over HTTP (a kiosk's:
	// its remote top-ups to claim, and their claims), paying through
	// ch. It follows restarts: call it for each load.
	Loads(ch cms.Channel) *api.LoadClient
}

// progressf writes a progress line.
func (c *Config) progressf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "sim: "+format+"\n", args...)
	}
}

package acquire

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
)

// Limits on what one upload may carry.
const (
	MaxBatchRecords = 10000                         // records in one batch
	MaxBatchBytes   = MaxBatchRecords * record.Size // binary body
	MaxBatchIDLen   = 64                            // bytes of a batch ID
	maxGroupBatches = 64                            // batches in one group commit
	maxGroupRecords = 64 * 1024                     // records in one group commit
	defaultSkew     = 10 * time.Minute              // a record this far in the future is flagged
	defaultMaxAge   = 45 * 24 * time.Hour           // a record this old at upload is flagged
	defaultShards   = 16                            // shards of card state
	defaultCkptRecs = 16 << 20                      // records between checkpoints: replaying that many takes seconds
)

// Batch is one upload of a terminal: records in the binary layout,
// concatenated, with the header totals the terminal computed.
type Batch struct {
	Terminal citycard.TerminalID
	// ID is the terminal's name for the batch, unique per terminal: a
	// repeated upload of the same ID is answered from the first.
	ID        string
	Count     int   // records in Body, as the terminal counted them
	AmountFen int64 // sum of the records' amounts, as the terminal summed them
	Body      []byte
}

// batchKey names a batch among all terminals' batches: "TERMINAL/ID".
func batchKey(t citycard.TerminalID, id string) string { return t.String() + "/" + id }

// Verdict is what the back office answers for one record. Every verdict
// lets the terminal drop the record from its queue.
type Verdict uint8

// The verdicts.
const (
	Accepted  Verdict = 1 // booked
	Flagged   Verdict = 2 // booked (or held in suspense), and flagged for review
	Duplicate Verdict = 3 // a copy of a record accepted before: dropped, not booked again
	Rejected  Verdict = 4 // not booked; kept in the rejection journal with its reason
)

var verdictNames = [...]string{Accepted: "accepted", Flagged: "flagged", Duplicate: "duplicate", Rejected: "rejected"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) && verdictNames[v] != "" {
		return verdictNames[v]
	}
	return "verdict?"
}

// Flags are the reasons a record was flagged; several may hold.
type Flags uint16

// The flags.
const (
	FlagCounterGap    Flags = 1 << iota // the card's offline counter skipped: records are missing
	FlagSeqGap                          // the terminal's sequence skipped: records it never sent
	FlagBalance                         // the balance does not follow from the card's previous record
	FlagBlacklisted                     // the card is on the blacklist
	FlagClock                           // the record's time is far from the upload time, or before its entry
	FlagPendingIssuer                   // another city's card: its issuer verifies the TAC
	FlagGrey                            // a grey record (no TAC): held in suspense
	FlagSeqReused                       // the terminal sequence was used by another card's record
	FlagFare                            // the fare charged does not match the fare rules
	FlagAppCounterGap                   // the card's application counter skipped: stamps are missing
)

var flagNames = []string{
	"counter_gap", "terminal_sequence_gap", "balance_discontinuity", "blacklisted",
	"clock", "pending_issuer_verification", "grey_in_suspense", "terminal_sequence_reused",
	"fare_mismatch", "application_counter_gap",
}

// Names returns the flags' names, in a fixed order.
func (f Flags) Names() []string {
	var out []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func (f Flags) String() string { return strings.Join(f.Names(), ",") }

// Rejection reasons.
const (
	RejectUndecodable     = "undecodable"
	RejectUnknownTerminal = "unknown_terminal"
	RejectInactive        = "terminal_inactive"
	RejectWrongTerminal   = "not_this_terminal"
	RejectPSAM            = "psam_not_registered"
	RejectRecordMAC       = "record_mac"
	RejectTAC             = "tac"
	RejectKey             = "key_unknown"
)

// RecordAnswer is the answer for one record of a batch.
type RecordAnswer struct {
	Index   int      `json:"index"`
	Verdict Verdict  `json:"-"`
	Status  string   `json:"status"`            // the verdict's name
	Reasons []string `json:"reasons,omitempty"` // flags, or the rejection reason and detail
}

// Answer is the back office's answer to a batch.
type Answer struct {
	Terminal   string         `json:"terminal"`
	BatchID    string         `json:"batch_id"`
	Records    []RecordAnswer `json:"records"`
	Accepted   int            `json:"accepted"`
	Flagged    int            `json:"flagged"`
	Duplicates int            `json:"duplicates"`
	Rejected   int            `json:"rejected"`
	// Repeat is true when the batch had been committed before and this is
	// the stored answer.
	Repeat bool `json:"repeat"`
	// Resubmission is set on the batch that resubmitted a rejection.
	Resubmission *Resubmission `json:"resubmission,omitempty"`
}

// TerminalInfo is what acquire needs of the registry about a terminal.
type TerminalInfo struct {
	ID       citycard.TerminalID
	PSAM     citycard.PSAMID
	Operator string // the operator's party ID: whose payable its records credit
	// OperatorCode is the operator's code: the issuer code under which the
	// record master key of the operator's PSAMs is kept, so that one
	// operator's PSAMs cannot seal records of another's.
	OperatorCode citycard.IssuerCode
	Active       bool
}

// Terminals looks terminals up in the registry.
type Terminals interface {
	// Terminal returns terminal id's registration. Kind NotFound when the
	// registry does not know the terminal: a decision (its records are
	// rejected, kept, and can be resubmitted once it is registered). Any
	// other error is a fault of the lookup: the batch is refused whole,
	// unanswered, and the terminal uploads it again later.
	Terminal(ctx context.Context, id citycard.TerminalID) (TerminalInfo, error)
}

// ResubmitPrefix begins the batch IDs of resubmitted rejections (see
// Acquirer.Resubmit); a terminal may not use it.
const ResubmitPrefix = "resubmit:"

// Blacklist tells whether a card is blacklisted.
type Blacklist interface {
	Contains(issuer citycard.IssuerCode, asn citycard.ASN) bool
}

// Fares re-prices records for revenue assurance: the back office checks
// the fare of every composite purchase (distance and transfer fares)
// against the fare rules.
type Fares interface {
	Recheck(r *record.Record) FareVerdict
}

// FareVerdict is what re-pricing a record found.
type FareVerdict uint8

// The verdicts of re-pricing.
const (
	FareUnchecked FareVerdict = iota // the rules cannot price the record (another network's, a product the table lacks)
	FareMatch                        // the record charged what the rules say
	FareMismatch                     // the record's fare differs from the rules': flagged fare_mismatch
	// FareClockWrong: the record's times cannot be right (a tap-off
	// before its entry: a terminal's clock was wrong), so its fare
	// cannot be confirmed from them: flagged clock, not fare_mismatch.
	FareClockWrong
)

// Outcome is what verification established about a record that was not
// rejected; it is the input the journal keeps so that replay decides the
// same way.
type Outcome uint8

// The outcomes of verification.
const (
	OutcomeVerified      Outcome = 1 // record MAC and TAC verified
	OutcomePendingIssuer Outcome = 2 // record MAC verified; the TAC is for another city's issuer
	OutcomeGrey          Outcome = 3 // record MAC verified; a grey record has no TAC
)

// Class is what the sequencer classified a journaled record as (Kind, in
// the platform, is an error's kind).
type Class uint8

// The classes of journaled record.
const (
	ClassBooked    Class = 1 // a purchase booked: card float (or interconnection receivable) to the operator
	ClassSuspense  Class = 2 // a grey record: card float (or interconnection receivable) to suspense
	ClassRecovered Class = 3 // the recovered record of a grey one: suspense to the operator
	ClassDuplicate Class = 4 // a copy: not booked
	ClassLoad      Class = 5 // a load record: kept for the shadow; loads post through the host
	// ClassApplication is a non-financial record (a check-in, an admission, a
	// loan): kept in the journal, never booked.
	ClassApplication Class = 6
)

// PendingIssuer reports whether a journaled record of class k and
// outcome o is a purchase of another city's card, booked or recovered
// from suspense, and so taken from the interconnection receivable pending
// its issuer's verification: no cycle clears it, the outgoing
// interconnection file sends it, and its issuer's answer settles it or
// reverses it. (A grey record of such a card, in suspense, carries
// FlagPendingIssuer: it is sent once its TAC is recovered.)
func PendingIssuer(k Class, o Outcome) bool {
	return (k == ClassBooked || k == ClassRecovered) && o == OutcomePendingIssuer
}

// PendingIssuerDecided reports whether the grey decisions made by a
// journaled entry of flags f are pending their issuer. A confirmation
// books the grey record from suspense to its operator as its recovered
// record would (ClassRecovered), so it is pending exactly when that
// record would be (PendingIssuer): when the card is another city's, which
// acquisition marks on every entry of such a card it does not drop as a
// duplicate (FlagPendingIssuer), the deciding one included, whether it is
// the card's next record or the grey record itself arriving after it. A
// reversal of such a confirmation is pending as the confirmation was: no
// cycle paid it, so none pays it back.
func PendingIssuerDecided(f Flags) bool {
	o := OutcomeVerified
	if f&FlagPendingIssuer != 0 {
		o = OutcomePendingIssuer
	}
	return PendingIssuer(ClassRecovered, o)
}

var classNames = [...]string{
	ClassBooked: "booked", ClassSuspense: "suspense", ClassRecovered: "recovered",
	ClassDuplicate: "duplicate", ClassLoad: "load", ClassApplication: "application",
}

// String gives the class's name: booked, suspense, recovered, duplicate,
// load, application.
func (k Class) String() string {
	if int(k) < len(classNames) && classNames[k] != "" {
		return classNames[k]
	}
	return fmt.Sprintf("class(%d)", uint8(k))
}

// Journaled is one journaled record: append-only, in sequencer order.
type Journaled struct {
	Pos      int64 // dense position in the journal, from 1
	Terminal citycard.TerminalID
	BatchID  string
	Outcome  Outcome
	Class    Class
	Flags    Flags
	Raw      [record.Size]byte
}

// Rejection is a record the back office refused, kept with its reason.
type Rejection struct {
	Terminal citycard.TerminalID
	BatchID  string
	Index    int
	Reason   string
	Detail   string
	Raw      []byte // the bytes as received (may not be a whole record)
	At       time.Time
}

// Movement is money one batch moves in the ledger, aggregated per batch,
// accounts and product: from Debit to Credit.
type Movement struct {
	Debit     ledger.Account
	Credit    ledger.Account
	Product   uint16
	AmountFen int64
	Records   int // how many records it sums
}

// StoredBatch is a committed batch as the journal keeps it.
type StoredBatch struct {
	Terminal citycard.TerminalID
	ID       string
	Hash     [32]byte // SHA-256 of the body and header totals
	Answer   []byte   // the answer, JSON
	At       time.Time
}

// GreyMove is what a later fact did to a grey record in suspense: the
// list only grows at the end; the names are stored.
type GreyMove uint8

// The moves of a grey record out of suspense.
const (
	GreyConfirmed GreyMove = 1 // the debit happened: suspense to the grey's operator
	GreyReleased  GreyMove = 2 // it never happened: suspense back to the card float
	GreyReversed  GreyMove = 3 // a confirmation undone: the grey's operator back to the card float
)

var greyMoveNames = [...]string{GreyConfirmed: "confirmed", GreyReleased: "released", GreyReversed: "reversed"}

// String gives the move's name: confirmed, released, reversed.
func (m GreyMove) String() string {
	if int(m) < len(greyMoveNames) && greyMoveNames[m] != "" {
		return greyMoveNames[m]
	}
	return fmt.Sprintf("grey_move(%d)", uint8(m))
}

// ParseGreyMove is String's inverse. ok is false for a name not listed.
func ParseGreyMove(s string) (m GreyMove, ok bool) {
	for i, n := range greyMoveNames {
		if n != "" && n == s {
			return GreyMove(i), true
		}
	}
	return 0, false
}

// GreyDecision is money a journaled record (or load) moved for a grey
// record in suspense, of the same card, besides its own booking: the
// grey confirmed, released or its confirmation reversed. The ledger takes
// it in the deciding batch's aggregated postings; the journal keeps it
// apart, one row each, at the deciding entry's position, so that
// clearing sees it exactly once, in the cycle of that entry, without
// replaying the state.
type GreyDecision struct {
	Pos   int64 // the deciding entry's position
	Index int   // its rank among the decisions of that entry, from 0
	Move  GreyMove
	// GreyPos is the grey record's own position in the journal (at most
	// Pos: a grey record confirmed on its arrival decides itself), so
	// that the grey record itself can be read back: another city's
	// card's confirmation is sent to its issuer in our OUT file (package
	// interop). 0 only for a decision a store could not place (one
	// stored before migration 0037 whose grey record it did not find).
	GreyPos  int64
	Terminal citycard.TerminalID // the grey record's terminal: its operator is paid, or repays
	Seq      uint32              // the grey record's terminal sequence
	Issuer   citycard.IssuerCode // the card's
	ASN      citycard.ASN
	Counter  uint16 // the grey record's offline counter
	CardType uint8  // the card's, from the deciding record
	Product  uint16 // the grey record's
	// AmountFen is the grey record's amount.
	AmountFen int64
}

// Commit is what the sequencer writes in one transaction.
type Commit struct {
	Batches    []StoredBatch
	Entries    []Journaled // positions dense, following the journal's last
	Rejections []Rejection
	// Greys are the grey decisions the entries made, in position order.
	Greys []GreyDecision
	// Movements per batch, in the order of Batches; each batch's
	// movements form one ledger entry, referenced by the batch.
	Movements [][]Movement
	At        time.Time

	// chunkData is the array Plan encodes the chunks into, kept from
	// one commit to the next by the acquirer (as Entries' array): the
	// chunks' bytes were a sixteenth of what bench ingest allocated.
	chunkData []byte
}

// Checkpoint is one part of the serialized state at a journal position.
type Checkpoint struct {
	Part int   // which part: a card shard, or the terminals (see checkpoint.go)
	Pos  int64 // the last entry the part includes
	Data []byte
}

// Journal is the durable side of acquisition, implemented by the stores.
type Journal interface {
	// Batch returns a committed batch. ok is false if the terminal never
	// committed a batch of that ID.
	Batch(ctx context.Context, terminal citycard.TerminalID, id string) (b StoredBatch, ok bool, err error)
	// Commit writes c atomically: all of it or nothing. Kind Exists if a
	// batch of c was committed before (a race the caller lost). It keeps
	// no reference to c.Entries (nor to what Plan returns) once it
	// returns: the acquirer reuses their arrays for the next commit.
	Commit(ctx context.Context, c *Commit) error
	// Replay calls fn for every entry after position from, in order.
	Replay(ctx context.Context, from int64, fn func(e *Journaled) error) error
	// LastPos returns the position of the last entry, 0 if none.
	LastPos(ctx context.Context) (int64, error)
	// SaveCheckpoint stores cp, replacing the older one of its part.
	SaveCheckpoint(ctx context.Context, cp Checkpoint) error
	// LoadCheckpoints returns the newest checkpoint of every part saved.
	LoadCheckpoints(ctx context.Context) ([]Checkpoint, error)
	// BatchRecords calls fn for each journaled entry of a committed batch,
	// in order: the drill-down from a ledger entry (whose source names the
	// batch) to the records behind it. A batch with no entry left (all its
	// records rejected) calls fn never.
	BatchRecords(ctx context.Context, terminal citycard.TerminalID, id string, fn func(e *Journaled) error) error
	// QueryRejections returns the rejections after position f.After
	// matching f, oldest first, at most f.Limit, each with its position.
	QueryRejections(ctx context.Context, f RejectionFilter) ([]PositionedRejection, error)
}

package interop

import (
	"context"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/registry"
)

// FilesShownMax bounds the files a store lists at once.
const FilesShownMax = 1000

// Stored is a file as the store keeps it: its header's figures, its
// bytes and their hash, whether we wrote it, when it was stored, and the
// closed cycle that settled it (received ANS, INC and ERR files only).
type Stored struct {
	ID        string
	Type      FileType
	Sent      bool // we wrote it (OUT, our ANS to an INC file); false: we received it
	SHA256    string
	Day       Day
	Sender    citycard.IssuerCode
	Receiver  citycard.IssuerCode
	Refers    string
	Records   int
	AmountFen int64
	Body      []byte // nil in lists
	At        time.Time
	TakenBy   clearing.Day // 0: no closed cycle took it (yet)
}

// State is where an interconnection record stands.
type State uint8

// The states of a record: an OUT record is pending until its issuer's
// answer accepts or rejects it; an INC record is accepted or rejected by
// our verification as it is imported. The names are stored.
const (
	Pending  State = 1
	Accepted State = 2
	Rejected State = 3
)

var stateNames = [...]string{Pending: "pending", Accepted: "accepted", Rejected: "rejected"}

func (s State) String() string {
	if s >= Pending && s <= Rejected {
		return stateNames[s]
	}
	return "state?"
}

// ParseState parses a state's name; ok is false for none.
func ParseState(s string) (State, bool) {
	for i, n := range stateNames {
		if n != "" && n == s {
			return State(i), true
		}
	}
	return 0, false
}

// Rec is one record of an OUT or INC file as the store keeps it: the
// card, the amount, who acquired it, and its state.
type Rec struct {
	File      string
	Seq       int
	Out       bool // a record of our terminal (OUT); false: of our card in another city (INC)
	Issuer    citycard.IssuerCode
	ASN       citycard.ASN
	Counter   uint16
	AmountFen int64
	// Acquirer is who is paid for it: our operator's party ID (OUT), or
	// the acquiring city's institution code in hex (INC).
	Acquirer     string
	TerminalType registry.TerminalType // our terminal's (OUT); 0 for another city's
	Product      uint16
	CardType     uint8
	State        State
	Reason       Reason
	AnsweredBy   string // the answer file that decided it: theirs (OUT), ours (INC)
	// GreyPos is, for a G record of an OUT file (a grey record of
	// another city's card confirmed on its balance), the grey record's
	// journal position; 0 for every other record. A grey is sent once:
	// the store refuses a second record of one (kind Exists).
	GreyPos int64
}

// Corr is one record of an ERR or DSP file as the store keeps it, with
// the record it corrects or disputes.
type Corr struct {
	File      string
	Seq       int
	Type      FileType // FileError or FileDispute
	RefFile   string
	RefSeq    int
	Stage     Stage // disputes; 0 for error records
	AmountFen int64 // signed for error records (Correction.SignedFen)
	Reason    Reason
	// Issuer and Acquirer are the corrected record's parties: who pays
	// and who is paid.
	Issuer   string
	Acquirer string
	Out      bool // the corrected record is of an OUT file
	Product  uint16
	CardType uint8
	TType    registry.TerminalType
}

// Answered is an OUT record decided by an answer file.
type Answered struct {
	File   string // the OUT file
	Seq    int
	State  State // Accepted or Rejected
	Reason Reason
}

// Import is everything one file changes, stored in one transaction: all
// of it or nothing.
type Import struct {
	File        Stored
	Also        []Stored   // files written with it: our answer to an INC file
	Records     []Rec      // new records: an OUT file's (pending), an INC file's (decided)
	Taps        []Tap      // the tap time of each of an INC file's records (taken.go)
	Answers     []Answered // OUT records an ANS file decides, each pending until now
	Corrections []Corr     // an ERR or DSP file's records
	Cities      []City     // a CTY file's records
	Listings    []Listing  // a BLK file's records
	// Cases are our cases an answer to our ERR or DSP file decides, each
	// pending until now.
	Cases  []CaseAnswer
	Ledger []ledger.Entry
	At     time.Time
	// Parties are those the file makes pay or be paid in the cycle that
	// settles it: checked (Interop.Known) before anything is stored, not
	// stored.
	Parties []string
}

// Store keeps the interconnection's files and records. Stored files and
// records are never removed; a record's state changes once (pending to
// accepted or rejected, by one answer), and a file's TakenBy once, by the
// clearing store's Save of the cycle closing with it.
type Store interface {
	// Import stores imp in one transaction, its ledger entries included.
	// If a file of imp.File.ID is stored with the same hash, it changes
	// nothing and returns already true; with another hash, kind
	// Conflict. Kind Conflict too for an answer to a record not pending
	// (answered meanwhile); Exists for an INC record of a card and
	// counter accepted before; the ledger's kinds.
	Import(ctx context.Context, imp *Import) (already bool, err error)
	// File returns the file of id, with its bytes. Kind NotFound.
	File(ctx context.Context, id string) (Stored, error)
	// Files returns the files stored, without their bytes, in the order
	// stored, at most FilesShownMax (the latest).
	Files(ctx context.Context) ([]Stored, error)
	// Records calls fn for each record of OUT or INC file file, by Seq.
	Records(ctx context.Context, file string, fn func(r *Rec) error) error
	// Answered calls fn for each OUT record answer file answer decided,
	// by file and Seq.
	Answered(ctx context.Context, answer string, fn func(r *Rec) error) error
	// Seen reports whether an INC record of (issuer, asn, counter) was
	// accepted.
	Seen(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, counter uint16) (bool, error)
	// Corrections returns the ERR and DSP records of file, by Seq; or,
	// with file "", those of record (refFile, refSeq), in the order
	// stored. At most RecordsMax.
	Corrections(ctx context.Context, file, refFile string, refSeq int) ([]Corr, error)
	// Untaken returns the received ANS, INC and ERR files no closed
	// cycle took, without their bytes, by ID, at most
	// clearing.InteropFilesMax.
	Untaken(ctx context.Context) ([]Stored, error)
	// Cities returns every CTY record stored, in the order stored.
	Cities(ctx context.Context) ([]City, error)
	// Listings returns every BLK record stored, in the order stored.
	Listings(ctx context.Context) ([]Listing, error)
	// Raise stores case c, or, if a case of c.Ref is stored with the
	// same InputSHA256, returns it with already true. Kind Conflict for
	// c.Ref stored with another input, or a case of c.Type stored about
	// the same record (c.RefFile, c.RefSeq).
	Raise(ctx context.Context, c *Case) (got Case, already bool, err error)
	// Cases returns the cases of type t raised on day d, in the order
	// raised (At, then Ref), at most RecordsMax + 1 (one more than a
	// file holds, so that the caller sees there are too many).
	Cases(ctx context.Context, t FileType, d Day) ([]Case, error)
}

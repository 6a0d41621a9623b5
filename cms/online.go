package cms

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
)

// LoadStatus is where an online load stands between the host's MAC2 and
// the card's TAC.
type LoadStatus uint8

// The statuses. Their names are stored: keep them.
const (
	// LoadUnconfirmed: booked and MAC2 given; the card's TAC has not come
	// back, so the card may or may not have credited.
	LoadUnconfirmed LoadStatus = 1
	// LoadConfirmed: the card's TAC came back, or the card's later
	// records show its online counter past the load's.
	LoadConfirmed LoadStatus = 2
	// LoadReversed: the card began another load at the same online
	// counter, so it never credited this one; the booking is reversed. A
	// TAC that comes after all moves it to confirmed, booked again.
	LoadReversed LoadStatus = 3
)

var loadStatusNames = [...]string{LoadUnconfirmed: "unconfirmed", LoadConfirmed: "confirmed", LoadReversed: "reversed"}

func (s LoadStatus) String() string {
	if s >= LoadUnconfirmed && s <= LoadReversed {
		return loadStatusNames[s]
	}
	return fmt.Sprintf("load_status(%d)", uint8(s))
}

// ParseLoadStatus parses a status's name. Kind Invalid.
func ParseLoadStatus(s string) (LoadStatus, error) {
	for i, n := range loadStatusNames {
		if n != "" && n == s {
			return LoadStatus(i), nil
		}
	}
	return 0, citycard.E("cms.ParseLoadStatus", citycard.Invalid, "load status %q", s)
}

// How an online load was settled (OnlineLoad.Settlement).
const (
	SettledByTAC        = "tac"                // the card's TAC came back through the terminal
	SettledByNextLoad   = "next load"          // the card's next INITIALIZE FOR LOAD showed its online counter past the load's
	SettledByNewSession = "new session"        // the card's next INITIALIZE FOR LOAD showed the same counter: never credited
	SettledByRecords    = "card records"       // acquire's card shadow saw the online counter at or past the load's
	SettledByLateTAC    = "tac after reversal" // a reversed load's TAC came after all: booked again
)

// OnlineLoad is one online load (圈存) as the host booked it: the card's
// session (online counter, balance before, key version and algorithm),
// the amount, the terminal, how it was paid, and where it stands.
type OnlineLoad struct {
	Key              string // the operation's idempotency key (LoadKey)
	Issuer           citycard.IssuerCode
	ASN              citycard.ASN
	Counter          uint16 // the online counter the card returned in INITIALIZE FOR LOAD
	AmountFen        int64
	BalanceBeforeFen int64 // the card's balance as its INITIALIZE answer (under MAC1) gave it
	Terminal         citycard.TerminalID
	KeyVersion       uint8
	Alg              keys.Alg
	Channel          Channel
	AuthorizedAt     time.Time
	Status           LoadStatus
	SettledAt        time.Time // zero while unconfirmed
	Settlement       string    // one of the SettledBy constants; "" while unconfirmed
}

// Card names the load's card as Card.String does.
func (l *OnlineLoad) Card() string { return l.Issuer.String() + "/" + l.ASN.String() }

// LoadSession is a card's INITIALIZE FOR LOAD answer as a terminal
// forwards it to the host, with the terminal's ID, date and time: what
// MAC1, MAC2 and the TAC are computed over (keys.Load).
type LoadSession struct {
	Issuer     citycard.IssuerCode
	ASN        citycard.ASN
	KeyVersion uint8
	Alg        keys.Alg
	Load       keys.Load
}

// LoadKey is the idempotency key of a card's load session: the card, its
// online counter, its random and the terminal. A retry of the same
// session (a request resent, a terminal restarted) has the same key and
// is booked once; a new INITIALIZE FOR LOAD draws a new random and is a
// new load.
func LoadKey(s *LoadSession) string {
	return "load:" + s.Issuer.String() + "/" + s.ASN.String() + "/" + strconv.Itoa(int(s.Load.OnlineCounter)) + "/" +
		hex.EncodeToString(s.Load.Random[:]) + "/" + s.Load.TerminalID.String()
}

// loadInputHash is an online load's input hash: its key says which
// session, the rest what the session asked (a second request under the
// key with another amount, balance, date or channel is a Conflict).
func loadInputHash(s *LoadSession, ch Channel) [32]byte {
	l := &s.Load
	return inputHash("online_load", LoadKey(s), s.KeyVersion, uint8(s.Alg), l.BalanceBefore, l.Amount, l.Type,
		hex.EncodeToString(l.Date[:]), hex.EncodeToString(l.Time[:]), ch.Type, ch.Party, ch.Reference)
}

// LoadEntryKey is the ledger key of the entry that booked online load
// key (LoadKey): "cms:KEY/load", as every load's (Load.Book).
func LoadEntryKey(key string) string { return "cms:" + key + "/load" }

// LoadReversal reverses an unconfirmed online load that the card never
// credited: the money goes back to the channel it came through, by a
// ledger reversal of the load's entry.
type LoadReversal struct {
	Card *Card
	Load *OnlineLoad
	// Entry is the load's ledger entry as it was booked (Store.LedgerEntry
	// of LoadEntryKey), the one the reversal names.
	Entry *ledger.Posted
}

// OpKey returns the idempotency key: the load's, reversed.
func (r LoadReversal) OpKey() string { return "reverse:" + r.Load.Key }

// InputHash is the hash of the request.
func (r LoadReversal) InputHash() [32]byte {
	return inputHash("load_reversal", r.Load.Key, r.Load.AmountFen, r.Load.Channel.Type, r.Load.Channel.Party)
}

// Book returns the reversal's entry and its flow. The entry is a ledger
// reversal (ledger.EntryReversal) of the load's: ReversalOf its Seq, its
// source, product and count, every posting negated (the card float back
// to the channel's account), as ledger.Ledger.Reverse builds one, so
// that whoever reads the ledger (clearing's loads and the commissions on
// them) sees the load taken back, and the ledger refuses to reverse it
// twice. Kind Conflict for a load that is not unconfirmed; Invalid for an
// entry that is not the load's (its key, type or amount).
func (r LoadReversal) Book() (Booking, error) {
	const op = "cms.LoadReversal.Book"
	if r.Load.Status != LoadUnconfirmed {
		return Booking{}, citycard.E(op, citycard.Conflict, "load %s of card %s is %v: only an unconfirmed load is reversed", r.Load.Key, r.Load.Card(), r.Load.Status)
	}
	orig := r.Entry
	if orig == nil || orig.Key != LoadEntryKey(r.Load.Key) || orig.Type != ledger.EntryLoad || orig.Seq <= 0 ||
		!slices.Equal(orig.Postings, ledger.Transfer(r.Load.Channel.account(), floatAccount(r.Card), r.Load.AmountFen)) {
		return Booking{}, citycard.E(op, citycard.Invalid, "load %s of card %s: the ledger entry given is not the load's", r.Load.Key, r.Load.Card())
	}
	key := r.OpKey()
	b := Booking{Key: key, InputHash: r.InputHash()}
	e := ledger.Entry{Key: "cms:" + key + "/reverse", Type: ledger.EntryReversal, Source: orig.Source, Product: orig.Product,
		Count: orig.Count, ReversalOf: orig.Seq, Postings: make([]ledger.Posting, len(orig.Postings)),
		Memo: "the card never credited the load: it began another at online counter " + strconv.Itoa(int(r.Load.Counter))}
	for i, p := range orig.Postings {
		e.Postings[i] = ledger.Posting{Account: p.Account, AmountFen: -p.AmountFen}
	}
	b.Entries = []ledger.Entry{e}
	b.Flows = []Flow{{r.Card.Issuer, r.Card.ASN, FlowLoadReversed, r.Load.AmountFen}}
	b.through(r.Load.Channel, -r.Load.AmountFen, -r.Load.AmountFen)
	return b, nil
}

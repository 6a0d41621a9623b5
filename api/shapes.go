package api

import (
	"fmt"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/record"
)

// The JSON forms of the API's answers. Each answer is one of these types,
// never a domain type marshalled by Go's defaults: keys are snake_case,
// identifiers are the hex strings the requests use, amounts are fen with
// the unit in the name, times are RFC 3339 in UTC. A record inside an
// answer is in the record's own JSON form (record/json.go).
// TestResponseShapes checks every route's answer.

// formatTime is the API's form of a time.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// healthJSON is the answer of /healthz.
type healthJSON struct {
	Status string `json:"status"`           // "ok" or "unavailable"
	Reason string `json:"reason,omitempty"` // why not ok
}

// answerJSON is the answer to an upload.
type answerJSON struct {
	Terminal   string             `json:"terminal"`
	BatchID    string             `json:"batch_id"`
	Records    []recordAnswerJSON `json:"records"`
	Accepted   int                `json:"accepted"`
	Flagged    int                `json:"flagged"`
	Duplicates int                `json:"duplicates"`
	Rejected   int                `json:"rejected"`
	Repeat     bool               `json:"repeat"` // the stored answer to a batch committed before
}

// recordAnswerJSON is the answer for one record of a batch.
type recordAnswerJSON struct {
	Index  int    `json:"index"`
	Status string `json:"status"` // accepted, flagged, duplicate, rejected
	// Reasons are the flags, or the rejection reason and its detail;
	// omitted when there are none, as a batch holds up to 10,000 records.
	Reasons []string `json:"reasons,omitempty"`
}

func newAnswerJSON(a acquire.Answer) answerJSON {
	out := answerJSON{Terminal: a.Terminal, BatchID: a.BatchID, Records: make([]recordAnswerJSON, len(a.Records)),
		Accepted: a.Accepted, Flagged: a.Flagged, Duplicates: a.Duplicates, Rejected: a.Rejected, Repeat: a.Repeat}
	for i, r := range a.Records {
		out.Records[i] = recordAnswerJSON{Index: r.Index, Status: r.Status, Reasons: r.Reasons}
	}
	return out
}

// answer returns the domain's answer; a status it does not know leaves
// the record's Verdict zero, which no caller takes for an answer.
func (j *answerJSON) answer() acquire.Answer {
	a := acquire.Answer{Terminal: j.Terminal, BatchID: j.BatchID, Records: make([]acquire.RecordAnswer, len(j.Records)),
		Accepted: j.Accepted, Flagged: j.Flagged, Duplicates: j.Duplicates, Rejected: j.Rejected, Repeat: j.Repeat}
	for i, r := range j.Records {
		a.Records[i] = acquire.RecordAnswer{Index: r.Index, Status: r.Status, Reasons: r.Reasons}
		for _, v := range []acquire.Verdict{acquire.Accepted, acquire.Flagged, acquire.Duplicate, acquire.Rejected} {
			if v.String() == r.Status {
				a.Records[i].Verdict = v
			}
		}
	}
	return a
}

// cardJSON names a card.
type cardJSON struct {
	Issuer string `json:"issuer"`
	ASN    string `json:"asn"`
}

// changeJSON is one change of the blacklist.
type changeJSON struct {
	Version int64  `json:"version"`
	Issuer  string `json:"issuer"`
	ASN     string `json:"asn"`
	Listed  bool   `json:"listed"` // true: listed; false: delisted
	Reason  string `json:"reason"`
	// By is who decided: staff see it, terminals need not.
	By string `json:"by,omitempty"`
	At string `json:"at"`
}

// deltaJSON is a blacklist delta: with full, cards is the whole list
// (and changes is absent); otherwise changes are the changes after the
// version asked for (and cards is absent).
type deltaJSON struct {
	Version int64         `json:"version"`
	Full    bool          `json:"full"`
	After   *cardJSON     `json:"after,omitempty"` // a page of the whole list: the card it follows
	Cards   *[]cardJSON   `json:"cards,omitempty"`
	Changes *[]changeJSON `json:"changes,omitempty"`
	// More: this is one page; ask again (after the last card, or since
	// version).
	More bool `json:"more"`
}

// newDeltaJSON gives d's JSON form; withBy says whether to show who
// decided each change.
func newDeltaJSON(d blacklist.Delta, withBy bool) deltaJSON {
	out := deltaJSON{Version: d.Version, Full: d.Full, More: d.More}
	if d.After != nil {
		out.After = &cardJSON{Issuer: d.After.Issuer.String(), ASN: d.After.ASN.String()}
	}
	if d.Full {
		cards := make([]cardJSON, len(d.Cards))
		for i, c := range d.Cards {
			cards[i] = cardJSON{Issuer: c.Issuer.String(), ASN: c.ASN.String()}
		}
		out.Cards = &cards
		return out
	}
	changes := make([]changeJSON, len(d.Changes))
	for i, c := range d.Changes {
		changes[i] = changeJSON{Version: c.Version, Issuer: c.Card.Issuer.String(), ASN: c.Card.ASN.String(),
			Listed: c.Added, Reason: c.Reason, At: formatTime(c.At)}
		if withBy {
			changes[i].By = c.By
		}
	}
	out.Changes = &changes
	return out
}

// delta returns the domain's delta. Kind Invalid for a malformed one: an
// identifier that does not parse, a time that is not RFC 3339, a full list
// without its cards or a delta without its changes (applied, either would
// empty the terminal's list).
func (j *deltaJSON) delta() (blacklist.Delta, error) {
	const op = "api.deltaJSON"
	d := blacklist.Delta{Version: j.Version, Full: j.Full, More: j.More}
	if j.After != nil {
		c, err := parseCard(j.After.Issuer, j.After.ASN)
		if err != nil {
			return d, citycard.E(op, citycard.Invalid, "after: %w", err)
		}
		d.After = &c
	}
	switch {
	case j.Full && j.Cards == nil:
		return d, citycard.E(op, citycard.Invalid, "a full list without cards")
	case !j.Full && j.Changes == nil:
		return d, citycard.E(op, citycard.Invalid, "a delta without changes")
	case j.Full:
		d.Cards = make([]blacklist.Card, len(*j.Cards))
		for i, c := range *j.Cards {
			card, err := parseCard(c.Issuer, c.ASN)
			if err != nil {
				return d, citycard.E(op, citycard.Invalid, "cards[%d]: %w", i, err)
			}
			d.Cards[i] = card
		}
	default:
		d.Changes = make([]blacklist.Change, len(*j.Changes))
		for i, c := range *j.Changes {
			card, err := parseCard(c.Issuer, c.ASN)
			if err != nil {
				return d, citycard.E(op, citycard.Invalid, "changes[%d]: %w", i, err)
			}
			at, err := time.Parse(time.RFC3339, c.At)
			if err != nil {
				return d, citycard.E(op, citycard.Invalid, "changes[%d]: at: %w", i, err)
			}
			d.Changes[i] = blacklist.Change{Version: c.Version, Card: card, Added: c.Listed, Reason: c.Reason, By: c.By, At: at}
		}
	}
	return d, nil
}

func parseCard(issuer, asn string) (blacklist.Card, error) {
	var c blacklist.Card
	var err error
	if c.Issuer, err = citycard.ParseIssuerCode(issuer); err != nil {
		return c, err
	}
	c.ASN, err = citycard.ParseASN(asn)
	return c, err
}

// versionJSON answers a change of the blacklist with its new version.
type versionJSON struct {
	Version int64 `json:"version"`
}

// parametersJSON is the JSON form of Parameters: key versions are numbers,
// as a record's key_version is.
type parametersJSON struct {
	FareTableVersion string `json:"fare_table_version"`
	KeyVersions      []int  `json:"key_versions"` // card key versions accepted, newest first
	RecordKeyVersion int    `json:"record_key_version"`
	BlacklistVersion int64  `json:"blacklist_version"`
	UploadBatchMax   int    `json:"upload_batch_max"` // records in one batch
	// Cities are the interconnected cities the terminal accepts
	// (interopfeed.go); absent where the back office serves none.
	Cities *citiesJSON `json:"cities,omitempty"`
	// Concessions are the concession rider categories and the category
	// each lapses to (cms.Manager.Concessions): a fare terminal prices a
	// card of one at its lapsed category unless its entitlement file
	// holds its review (terminal.Config.Concessions); absent without card
	// management.
	Concessions []concessionJSON `json:"concessions,omitempty"`
}

// concessionJSON is a concession category of a terminal's parameters.
type concessionJSON struct {
	Category int `json:"category"`
	Lapsed   int `json:"lapsed"`
}

func newParametersJSON(p Parameters) parametersJSON {
	out := parametersJSON{FareTableVersion: p.FareTableVersion, KeyVersions: make([]int, len(p.KeyVersions)),
		RecordKeyVersion: int(p.RecordKeyVersion), BlacklistVersion: p.BlacklistVersion, UploadBatchMax: p.UploadBatchMax}
	for i, v := range p.KeyVersions {
		out.KeyVersions[i] = int(v)
	}
	return out
}

// rejectionJSON is a rejection as the API shows it.
type rejectionJSON struct {
	Pos      int64  `json:"pos"` // its position in the rejection journal: ?after= pages on
	Terminal string `json:"terminal"`
	BatchID  string `json:"batch_id"`
	Index    int    `json:"index"` // the record's index in its batch
	Reason   string `json:"reason"`
	Detail   string `json:"detail"`
	Raw      string `json:"raw"` // the record as received, in hex
	At       string `json:"at"`
	// Resubmission is what resubmitting it answered; null if it never was.
	Resubmission *resubmissionJSON `json:"resubmission"`
}

// resubmissionJSON says who resubmitted a rejection and what its record
// is now.
type resubmissionJSON struct {
	By      string   `json:"by"`
	BatchID string   `json:"batch_id"` // the resubmission's batch: GET /v1/batches/{terminal}/{batch}
	Status  string   `json:"status"`   // the record's verdict: accepted, flagged, duplicate, rejected
	Reasons []string `json:"reasons"`
}

func newResubmissionJSON(a acquire.Answer) *resubmissionJSON {
	out := &resubmissionJSON{BatchID: a.BatchID, Reasons: []string{}}
	if a.Resubmission != nil {
		out.By = a.Resubmission.By
	}
	if len(a.Records) == 1 {
		out.Status = a.Records[0].Status
		if a.Records[0].Reasons != nil {
			out.Reasons = a.Records[0].Reasons
		}
	}
	return out
}

// resubmittedJSON answers a resubmission: the rejection, who resubmitted
// it first, the answer of its batch.
type resubmittedJSON struct {
	Rejection int64      `json:"rejection_pos"`
	By        string     `json:"by"`
	Answer    answerJSON `json:"answer"`
}

func newResubmittedJSON(a acquire.Answer) resubmittedJSON {
	out := resubmittedJSON{Answer: newAnswerJSON(a)}
	if a.Resubmission != nil {
		out.Rejection, out.By = a.Resubmission.Rejection, a.Resubmission.By
	}
	return out
}

func newRejectionJSON(x acquire.PositionedRejection) rejectionJSON {
	return rejectionJSON{Pos: x.Pos, Terminal: x.Terminal.String(), BatchID: x.BatchID, Index: x.Index,
		Reason: x.Reason, Detail: x.Detail, Raw: fmt.Sprintf("%X", x.Raw), At: formatTime(x.At)}
}

// batchEntryJSON is one journaled record of a batch, as staff see it.
type batchEntryJSON struct {
	Pos           int64         `json:"pos"`   // its position in the journal
	Class         string        `json:"class"` // booked, suspense, recovered, duplicate, load
	Flags         []string      `json:"flags"`
	PendingIssuer bool          `json:"pending_issuer"` // another city's card: its issuer verifies the TAC
	Record        record.Record `json:"record"`
}

// gapJSON is a run of offline counters the back office has not seen.
type gapJSON struct {
	First uint32 `json:"first"`
	Last  uint32 `json:"last"`
}

// shadowJSON is a card shadow: the back office's view of a card.
type shadowJSON struct {
	Issuer string `json:"issuer"`
	ASN    string `json:"asn"`
	// The highest counters seen; null if none.
	LastOfflineCounter *int32 `json:"last_offline_counter"`
	LastOnlineCounter  *int32 `json:"last_online_counter"`
	// ReportedBalanceFen is the balance the card's newest record reported;
	// BookedBalanceFen is loads seen minus purchases booked.
	ReportedBalanceFen int64 `json:"reported_balance_fen"`
	BookedBalanceFen   int64 `json:"booked_balance_fen"`
	// LoadsAfterLastRecordFen is the loads seen since the card's newest
	// purchase record.
	LoadsAfterLastRecordFen int64     `json:"loads_after_last_record_fen"`
	MissingCounters         int       `json:"missing_counters"` // offline counters not seen yet
	Gaps                    []gapJSON `json:"gaps"`
	GreyRecords             int       `json:"grey_records"` // grey records held in suspense
	SuspenseFen             int64     `json:"suspense_fen"`
}

func newShadowJSON(issuer citycard.IssuerCode, asn citycard.ASN, s acquire.Shadow) shadowJSON {
	out := shadowJSON{Issuer: issuer.String(), ASN: asn.String(), ReportedBalanceFen: s.ReportedFen, BookedBalanceFen: s.BookedFen,
		LoadsAfterLastRecordFen: s.LoadsSinceFen, MissingCounters: s.OpenGaps, Gaps: make([]gapJSON, len(s.GapSpans)),
		GreyRecords: s.GreysPending, SuspenseFen: s.SuspenseFen}
	if s.LastCounter >= 0 {
		out.LastOfflineCounter = &s.LastCounter
	}
	if s.LastOnline >= 0 {
		out.LastOnlineCounter = &s.LastOnline
	}
	for i, g := range s.GapSpans {
		out.Gaps[i] = gapJSON{First: g[0], Last: g[1]}
	}
	return out
}

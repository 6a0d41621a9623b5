package interop

import (
	"fmt"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// StoredOf returns file f, whose bytes are b, as the store keeps it
// (sent: we wrote it), with its bytes; At and TakenBy are the store's.
func StoredOf(f *File, b []byte, sent bool) Stored { return storedOf(f, b, sent) }

// FileView is a stored file's header as programs read it (the API's
// answers, citycard interop --json): snake_case, days YYYY-MM-DD,
// amounts in fen. Its field names are a contract.
type FileView struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Direction string `json:"direction"` // sent or received
	SHA256    string `json:"sha256"`
	Day       string `json:"day"`
	Sender    string `json:"sender"`
	Receiver  string `json:"receiver"`
	Refers    string `json:"refers,omitempty"`
	Records   int    `json:"records"`
	AmountFen int64  `json:"amount_fen"`
	StoredAt  string `json:"stored_at,omitempty"` // RFC 3339, China time
	TakenBy   string `json:"taken_by,omitempty"`  // the closed cycle that settled it
}

// View returns f's FileView.
func (f *Stored) View() FileView {
	v := FileView{ID: f.ID, Type: f.Type.String(), Direction: "received", SHA256: f.SHA256, Day: clearing.Day(f.Day).String(),
		Sender: f.Sender.String(), Receiver: f.Receiver.String(), Refers: f.Refers, Records: f.Records, AmountFen: f.AmountFen}
	if f.Sent {
		v.Direction = "sent"
	}
	if !f.At.IsZero() {
		v.StoredAt = f.At.In(citycard.ChinaTime).Format(time.RFC3339)
	}
	if f.TakenBy != 0 {
		v.TakenBy = f.TakenBy.String()
	}
	return v
}

// RecView is an OUT or INC record as programs read it.
type RecView struct {
	Seq        int    `json:"seq"`
	Issuer     string `json:"issuer"`
	ASN        string `json:"asn"`
	Counter    uint16 `json:"counter"`
	AmountFen  int64  `json:"amount_fen"`
	Acquirer   string `json:"acquirer"`
	State      string `json:"state"`
	Reason     string `json:"reason"`
	AnsweredBy string `json:"answered_by,omitempty"`
	// GreyPos is a G line's grey record's journal position (Rec.GreyPos).
	GreyPos int64 `json:"grey_pos,omitempty"`
}

// View returns r's RecView.
func (r *Rec) View() RecView {
	return RecView{Seq: r.Seq, Issuer: r.Issuer.String(), ASN: fmt.Sprintf("%X", r.ASN[:]), Counter: r.Counter, AmountFen: r.AmountFen,
		Acquirer: r.Acquirer, State: r.State.String(), Reason: r.Reason.String(), AnsweredBy: r.AnsweredBy, GreyPos: r.GreyPos}
}

// CityView is an interconnected city as programs read it.
type CityView struct {
	City        string `json:"city"`
	Institution string `json:"institution"`
	Name        string `json:"name"`
	Announced   string `json:"announced"`
	Effective   string `json:"effective"` // in force from
}

// View returns c's CityView.
func (c *City) View() CityView {
	return CityView{City: fmt.Sprintf("%X", c.Code[:]), Institution: c.Institution.String(), Name: c.Name,
		Announced: clearing.Day(c.Announced).String(), Effective: clearing.Day(c.Effective).String()}
}

// CaseView is a case's JSON form, for the console and the API.
type CaseView struct {
	Ref        string `json:"ref"`
	Type       string `json:"type"` // ERR or DSP
	Day        string `json:"day"`  // YYYY-MM-DD: the day of the file that sends it
	File       string `json:"file"` // that file's ID
	RefFile    string `json:"ref_file"`
	RefSeq     int    `json:"ref_seq"`
	Direction  string `json:"direction,omitempty"` // C or D (error cases)
	AmountFen  int64  `json:"amount_fen"`
	Reason     string `json:"reason"`
	Note       string `json:"note"`
	RaisedBy   string `json:"raised_by"`
	RaisedAt   string `json:"raised_at"` // RFC 3339
	State      string `json:"state"`
	Answer     string `json:"answer,omitempty"` // the answer's reason; absent while pending
	AnsweredBy string `json:"answered_by,omitempty"`
}

// View returns c's CaseView; file is the ID of the file that sends it
// (Interop.CaseFileID).
func (c *Case) View(file string) CaseView {
	v := CaseView{Ref: c.Ref, Type: c.Type.String(), Day: clearing.Day(c.Day).String(), File: file, RefFile: c.RefFile, RefSeq: c.RefSeq, AmountFen: c.AmountFen,
		Reason: c.Reason.String(), Note: c.Note, RaisedBy: c.By, RaisedAt: c.At.UTC().Format(time.RFC3339Nano), State: c.State.String(), AnsweredBy: c.AnsweredBy}
	if c.Type == FileError {
		v.Direction = "D"
		if c.Credit {
			v.Direction = "C"
		}
	}
	if c.State != Pending {
		v.Answer = c.Answer.String()
	}
	return v
}

// ParseReason parses a reason's name (amount, cardholder, ...); ok is
// false for none.
func ParseReason(s string) (Reason, bool) {
	for i, n := range reasonNames {
		if n != "" && n == s {
			return Reason(i), true
		}
	}
	return 0, false
}

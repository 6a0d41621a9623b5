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
}

// View returns r's RecView.
func (r *Rec) View() RecView {
	return RecView{Seq: r.Seq, Issuer: r.Issuer.String(), ASN: fmt.Sprintf("%X", r.ASN[:]), Counter: r.Counter, AmountFen: r.AmountFen,
		Acquirer: r.Acquirer, State: r.State.String(), Reason: r.Reason.String(), AnsweredBy: r.AnsweredBy}
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

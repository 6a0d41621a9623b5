package exchange

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// Pain001Namespace is the namespace of the credit transfer initiation
// messages written: ISO 20022 pain.001, version 9.
const Pain001Namespace = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"

// Limits the ISO 20022 schema puts on the fields written.
const (
	NameLenMax    = 140 // Max140Text: a party's name
	AccountLenMax = 34  // Max34Text: an account identification (Othr/Id)
	Currency      = "CNY"
	notProvided   = "NOTPROVIDED" // the agent identification where the settlement account line names the bank
)

// Party is what a settlement file says of a party: its name and the
// settlement account it is paid to or pays from (the registry's Party.Name
// and SettlementAccount).
type Party struct {
	Name    string
	Account string
}

// MessageID returns the pain.001 message ID of day d's settlement:
// CCLR-YYYYMMDD. It derives from the cycle alone, so that a re-run
// writes the same file and the bank refuses a second submission of it.
func MessageID(d clearing.Day) string { return "CCLR-" + d.Compact() }

// EndToEndID returns the EndToEndId of the i-th payment (from 1) of day
// d's settlement, the payments in the order of the positions (by party
// ID): CCLR-YYYYMMDD-NNNNN. Reconciliation matches the bank's statement
// on it.
func EndToEndID(d clearing.Day, i int) string { return fmt.Sprintf("%s-%05d", MessageID(d), i) }

// paymentsMax keeps EndToEndID within its five digits.
const paymentsMax = 99999

// WritePain001 writes the settlement instructions of cycle c, cleared as
// res, as one ISO 20022 pain.001.001.09 credit transfer initiation: the
// collector (our issuer, res.Collector) pays every other party whose net
// position is positive, one credit transfer each, from its settlement
// account. Parties whose net is negative pay in to the collector's
// account, outside this file (the positions CSV lists them). The group
// header's creation time is the cycle's close time, in the cycle's zone;
// the requested execution date is the close date; message, payment
// information and end-to-end IDs derive from the cycle: no wall clock,
// host or random ID reaches the file. parties names every party paid and
// the collector. Kind Conflict for a cycle not closed or not res's,
// NotFound for a party missing from parties, Invalid for a name or
// account the schema cannot carry, IO for a failed write.
func WritePain001(w io.Writer, c *clearing.Cycle, res *clearing.Result, parties map[string]Party) error {
	const op = "exchange.WritePain001"
	if c.State != clearing.Closed || c.Day != res.Day {
		return citycard.E(op, citycard.Conflict, "cycle %v is %v (result of %v): settlement files are written for a closed cycle, from its result", c.Day, c.State, res.Day)
	}
	debtor, err := party(op, parties, res.Collector)
	if err != nil {
		return err
	}
	closed := c.ClosedAt.In(c.Cutoff.Location())
	id := MessageID(c.Day)
	pmt := paymentInformation{
		ID:        id + "-1",
		Method:    "TRF",
		Execution: requestedDate{Date: closed.Format(time.DateOnly)},
		Debtor:    partyID{Name: debtor.Name},
		Account:   account(debtor.Account),
		Agent:     agent(),
	}
	var sumFen int64
	for _, p := range res.Positions {
		if p.NetFen <= 0 || p.Party == res.Collector {
			continue
		}
		if len(pmt.Transfers) == paymentsMax {
			return citycard.E(op, citycard.Invalid, "cycle %v: more than %d payments", c.Day, paymentsMax)
		}
		cr, err := party(op, parties, p.Party)
		if err != nil {
			return err
		}
		pmt.Transfers = append(pmt.Transfers, creditTransfer{
			ID:         paymentID{EndToEnd: EndToEndID(c.Day, len(pmt.Transfers)+1)},
			Amount:     amount{Instructed: instructed{Currency: Currency, Value: Yuan(p.NetFen)}},
			CdtrAgt:    agent(),
			Creditor:   partyID{Name: cr.Name},
			CdtrAcct:   account(cr.Account),
			Remittance: remittance{Unstructured: "citycard clearing " + c.Day.String() + " " + p.Party},
		})
		sumFen += p.NetFen
	}
	n := fmt.Sprint(len(pmt.Transfers))
	pmt.Count, pmt.Sum = n, Yuan(sumFen)
	doc := document{
		NS: Pain001Namespace,
		Initiation: initiation{
			Header: groupHeader{
				MessageID: id, Created: closed.Format(time.RFC3339), Count: n, Sum: Yuan(sumFen),
				Initiator: partyID{Name: debtor.Name},
			},
			Payments: []paymentInformation{pmt},
		},
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return citycard.E(op, citycard.Invalid, "cycle %v: %w", c.Day, err)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return citycard.E(op, citycard.IO, "cycle %v: %w", c.Day, err)
	}
	out = append(out, '\n')
	if _, err := w.Write(out); err != nil {
		return citycard.E(op, citycard.IO, "cycle %v: %w", c.Day, err)
	}
	return nil
}

// party returns id's name and account, checked against the schema.
func party(op string, parties map[string]Party, id string) (Party, error) {
	p, ok := parties[id]
	if !ok {
		return Party{}, citycard.E(op, citycard.NotFound, "party %q: no name and settlement account", id)
	}
	if p.Name == "" || utf8.RuneCountInString(p.Name) > NameLenMax || !utf8.ValidString(p.Name) {
		return Party{}, citycard.E(op, citycard.Invalid, "party %q: name %q: want 1 to %d characters", id, p.Name, NameLenMax)
	}
	if p.Account == "" || utf8.RuneCountInString(p.Account) > AccountLenMax || !utf8.ValidString(p.Account) {
		return Party{}, citycard.E(op, citycard.Invalid, "party %q: settlement account %q: want 1 to %d characters, as ISO 20022 identifies an account", id, p.Account, AccountLenMax)
	}
	return p, nil
}

// Yuan formats fen as yuan with two decimals, the form ISO 20022 amounts
// take: 12345 is "123.45", -5 is "-0.05". Integer arithmetic only.
func Yuan(fen int64) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign, u = "-", uint64(-fen)
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// The pain.001.001.09 elements written, in the schema's order.
type document struct {
	XMLName    xml.Name   `xml:"Document"`
	NS         string     `xml:"xmlns,attr"`
	Initiation initiation `xml:"CstmrCdtTrfInitn"`
}

type initiation struct {
	Header   groupHeader          `xml:"GrpHdr"`
	Payments []paymentInformation `xml:"PmtInf"`
}

type groupHeader struct {
	MessageID string  `xml:"MsgId"`
	Created   string  `xml:"CreDtTm"`
	Count     string  `xml:"NbOfTxs"`
	Sum       string  `xml:"CtrlSum"`
	Initiator partyID `xml:"InitgPty"`
}

type paymentInformation struct {
	ID        string           `xml:"PmtInfId"`
	Method    string           `xml:"PmtMtd"`
	Count     string           `xml:"NbOfTxs"`
	Sum       string           `xml:"CtrlSum"`
	Execution requestedDate    `xml:"ReqdExctnDt"`
	Debtor    partyID          `xml:"Dbtr"`
	Account   cashAccount      `xml:"DbtrAcct"`
	Agent     financialAgent   `xml:"DbtrAgt"`
	Transfers []creditTransfer `xml:"CdtTrfTxInf"`
}

type requestedDate struct {
	Date string `xml:"Dt"`
}

type partyID struct {
	Name string `xml:"Nm"`
}

type cashAccount struct {
	ID string `xml:"Id>Othr>Id"`
}

func account(s string) cashAccount { return cashAccount{ID: s} }

type financialAgent struct {
	ID string `xml:"FinInstnId>Othr>Id"`
}

// agent is the bank of an account: the settlement account's line names
// it, so the agent is not provided apart.
func agent() financialAgent { return financialAgent{ID: notProvided} }

type creditTransfer struct {
	ID         paymentID      `xml:"PmtId"`
	Amount     amount         `xml:"Amt"`
	CdtrAgt    financialAgent `xml:"CdtrAgt"`
	Creditor   partyID        `xml:"Cdtr"`
	CdtrAcct   cashAccount    `xml:"CdtrAcct"`
	Remittance remittance     `xml:"RmtInf"`
}

type paymentID struct {
	EndToEnd string `xml:"EndToEndId"`
}

type amount struct {
	Instructed instructed `xml:"InstdAmt"`
}

type instructed struct {
	Currency string `xml:"Ccy,attr"`
	Value    string `xml:",chardata"`
}

type remittance struct {
	Unstructured string `xml:"Ustrd"`
}

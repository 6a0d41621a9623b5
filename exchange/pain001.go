package exchange

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
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

// Remittance returns the unstructured remittance information of day d's
// payment to party: citycard clearing YYYY-MM-DD PARTY. Reconciliation
// matches a bank's movement that carries it.
func Remittance(d clearing.Day, party string) string {
	return "citycard clearing " + d.String() + " " + party
}

// paymentsMax keeps EndToEndID within its five digits.
const paymentsMax = 99999

// Instruction is one payment of a cycle's settlement: the collector pays
// AmountFen to the party.
type Instruction struct {
	EndToEndID string
	Party      string // the party's registry ID
	Name       string
	Account    string
	AmountFen  int64 // > 0
}

// Settlement is a closed cycle's settlement instructions: the collector
// (our issuer, clearing.Result.Collector) pays every other party whose
// net position is positive, one instruction each, in the order of the
// positions. Parties whose net is negative pay in to the collector's
// account; the positions CSV lists them.
type Settlement struct {
	Day       clearing.Day
	MessageID string
	// Closed is the cycle's close time in the cycle's zone: the files'
	// creation time, and its date their requested execution date.
	Closed       time.Time
	Collector    string
	Debtor       Party // the collector's name and account
	Instructions []Instruction
	SumFen       int64
	// Incoming are the pay-ins expected from the parties whose net is
	// negative, the collector aside, in the order of the positions: for
	// a cycle of clearing.SettlementDebtors every one (an issuer, of this
	// city or another, owing for its cards' records accepted here; an
	// operator whose adjustments or fees pass what it is owed; a payer
	// owing what it collected from cardholders, less refunds and its
	// commission), for one of clearing.SettlementPayers only the payers
	// of its remote top-ups (clearing.Result.TopUps). A direct-debit
	// request is not made: the party pays in, and the instruction file
	// is only the payments we make.
	Incoming    []PayIn
	IncomingFen int64
}

// PayIn is a pay-in expected from a party: AmountFen to the collector's
// account, under Reference (PayInReference), which the party is asked to
// quote.
type PayIn struct {
	Reference string
	Party     string
	Name      string
	Account   string // the account it pays from
	AmountFen int64  // > 0
}

// PayInReference returns the reference of the i-th pay-in (from 1)
// expected in day d's settlement, by party ID among the parties it is
// expected of: CCLR-YYYYMMDD-RNNNNN, apart from the EndToEndIds of the
// payments made.
func PayInReference(d clearing.Day, i int) string { return fmt.Sprintf("%s-R%05d", MessageID(d), i) }

// Settle returns the settlement instructions of cycle c, cleared as res,
// and the pay-ins it expects, under the settlement version c was
// computed under (c.SettlementVersion). Every ID derives from the cycle
// (MessageID, EndToEndID, PayInReference): no wall clock, host or random
// ID. parties names every party paid, every party a pay-in is expected
// of, and the collector. Kind Conflict for a cycle not closed, not res's
// or of a settlement version not known, NotFound for a party missing
// from parties, Invalid for a name or account ISO 20022 cannot carry.
func Settle(c *clearing.Cycle, res *clearing.Result, parties map[string]Party) (*Settlement, error) {
	const op = "exchange.Settle"
	if c.State != clearing.Closed || c.Day != res.Day {
		return nil, citycard.E(op, citycard.Conflict, "cycle %v is %v (result of %v): settlement files are written for a closed cycle, from its result", c.Day, c.State, res.Day)
	}
	debtor, err := party(op, parties, res.Collector)
	if err != nil {
		return nil, err
	}
	s := &Settlement{Day: c.Day, MessageID: MessageID(c.Day), Closed: c.ClosedAt.In(c.Cutoff.Location()), Collector: res.Collector, Debtor: debtor}
	for _, p := range res.Positions {
		if p.NetFen <= 0 || p.Party == res.Collector {
			continue
		}
		if len(s.Instructions) == paymentsMax {
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: more than %d payments", c.Day, paymentsMax)
		}
		cr, err := party(op, parties, p.Party)
		if err != nil {
			return nil, err
		}
		s.Instructions = append(s.Instructions, Instruction{
			EndToEndID: EndToEndID(c.Day, len(s.Instructions)+1),
			Party:      p.Party, Name: cr.Name, Account: cr.Account, AmountFen: p.NetFen,
		})
		s.SumFen += p.NetFen
	}
	owes, err := payInsOf(op, c, res)
	if err != nil {
		return nil, err
	}
	for _, p := range res.Positions {
		if p.NetFen >= 0 || p.Party == res.Collector || !owes(p.Party) {
			continue
		}
		if len(s.Incoming) == paymentsMax {
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: more than %d pay-ins", c.Day, paymentsMax)
		}
		db, err := party(op, parties, p.Party)
		if err != nil {
			return nil, err
		}
		s.Incoming = append(s.Incoming, PayIn{Reference: PayInReference(c.Day, len(s.Incoming)+1), Party: p.Party, Name: db.Name, Account: db.Account, AmountFen: -p.NetFen})
		s.IncomingFen -= p.NetFen
	}
	return s, nil
}

// payInsOf returns which parties in net debit cycle c expects a pay-in
// of, under the settlement version it was computed under: under
// SettlementPayers only the payers of its remote top-ups (what a cycle
// closed before versions were kept expected, so that its files and its
// references are written again as they were), under SettlementDebtors
// every one. Kind Conflict for a version this binary does not know (a
// newer one computed the cycle): its files are not guessed at.
func payInsOf(op string, c *clearing.Cycle, res *clearing.Result) (func(party string) bool, error) {
	switch c.SettlementVersion {
	case clearing.SettlementPayers:
		payers := map[string]bool{}
		for _, l := range res.TopUps {
			payers[l.Payer] = true
		}
		return func(party string) bool { return payers[party] }, nil
	case clearing.SettlementDebtors:
		return func(string) bool { return true }, nil
	}
	return nil, citycard.E(op, citycard.Conflict, "cycle %v was computed under settlement version %d, which this binary does not know (it knows 0 to %d): a newer citycard writes its files",
		c.Day, c.SettlementVersion, clearing.SettlementCurrent)
}

// WritePain001 writes s as one ISO 20022 pain.001.001.09 credit transfer
// initiation (README.md maps every element). Kind IO for a failed write.
func WritePain001(w io.Writer, s *Settlement) error {
	const op = "exchange.WritePain001"
	pmt := paymentInformation{
		ID:        s.MessageID + "-1",
		Method:    "TRF",
		Count:     strconv.Itoa(len(s.Instructions)),
		Sum:       Yuan(s.SumFen),
		Execution: requestedDate{Date: s.Closed.Format(time.DateOnly)},
		Debtor:    partyID{Name: s.Debtor.Name},
		Account:   account(s.Debtor.Account),
		Agent:     agent(),
	}
	for _, in := range s.Instructions {
		pmt.Transfers = append(pmt.Transfers, creditTransfer{
			ID:         paymentID{EndToEnd: in.EndToEndID},
			Amount:     amount{Instructed: instructed{Currency: Currency, Value: Yuan(in.AmountFen)}},
			CdtrAgt:    agent(),
			Creditor:   partyID{Name: in.Name},
			CdtrAcct:   account(in.Account),
			Remittance: remittance{Unstructured: Remittance(s.Day, in.Party)},
		})
	}
	doc := document{
		NS: Pain001Namespace,
		Initiation: initiation{
			Header: groupHeader{
				MessageID: s.MessageID, Created: s.Closed.Format(time.RFC3339), Count: pmt.Count, Sum: pmt.Sum,
				Initiator: partyID{Name: s.Debtor.Name},
			},
			Payments: []paymentInformation{pmt},
		},
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return citycard.E(op, citycard.Invalid, "cycle %v: %w", s.Day, err)
	}
	out = append([]byte(xml.Header), append(out, '\n')...)
	if _, err := w.Write(out); err != nil {
		return citycard.E(op, citycard.IO, "cycle %v: %w", s.Day, err)
	}
	return nil
}

// InstructionsHeader is the first row of a settlement instructions CSV.
var InstructionsHeader = []string{"end_to_end_id", "party", "name", "account", "amount_fen"}

// WriteInstructionsCSV writes s as CSV: InstructionsHeader, then one row
// per instruction, in the pain.001's order. Kind IO for a failed write.
func WriteInstructionsCSV(w io.Writer, s *Settlement) error {
	rows := make([][]string, 0, len(s.Instructions))
	for _, in := range s.Instructions {
		rows = append(rows, []string{in.EndToEndID, in.Party, in.Name, in.Account, strconv.FormatInt(in.AmountFen, 10)})
	}
	return writeCSV("exchange.WriteInstructionsCSV", w, s.Day, InstructionsHeader, rows)
}

// IncomingHeader is the first row of an expected pay-ins CSV.
var IncomingHeader = []string{"reference", "party", "name", "account", "amount_fen"}

// WriteIncomingCSV writes s's expected pay-ins as CSV: IncomingHeader,
// then one row per pay-in, by party (the header alone for none). Kind
// IO for a failed write.
func WriteIncomingCSV(w io.Writer, s *Settlement) error {
	rows := make([][]string, 0, len(s.Incoming))
	for _, in := range s.Incoming {
		rows = append(rows, []string{in.Reference, in.Party, in.Name, in.Account, strconv.FormatInt(in.AmountFen, 10)})
	}
	return writeCSV("exchange.WriteIncomingCSV", w, s.Day, IncomingHeader, rows)
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

package exchange

import (
	"encoding/csv"
	"io"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// PositionsHeader is the first row of a positions CSV.
var PositionsHeader = []string{"party", "receivable_fen", "payable_fen", "net_fen"}

// WritePositionsCSV writes res's positions as CSV: PositionsHeader, then
// one row per party in the order of res (by party ID), amounts in fen.
// Kind IO for a failed write.
func WritePositionsCSV(w io.Writer, res *clearing.Result) error {
	rows := make([][]string, 0, len(res.Positions))
	for _, p := range res.Positions {
		rows = append(rows, []string{p.Party, strconv.FormatInt(p.ReceivableFen, 10), strconv.FormatInt(p.PayableFen, 10), strconv.FormatInt(p.NetFen, 10)})
	}
	return writeCSV("exchange.WritePositionsCSV", w, res.Day, PositionsHeader, rows)
}

// writeCSV writes header and rows as RFC 4180 CSV with \n line ends.
func writeCSV(op string, w io.Writer, d clearing.Day, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return citycard.E(op, citycard.IO, "cycle %v: %w", d, err)
	}
	if err := cw.WriteAll(rows); err != nil {
		return citycard.E(op, citycard.IO, "cycle %v: %w", d, err)
	}
	return nil
}

// ConcessionsHeader is the first row of a concessions CSV.
var ConcessionsHeader = []string{"funder", "operator", "rider_category", "kind", "records", "discount_fen", "claim_fen", "remainder_micro", "fare_version"}

// WriteConcessionsCSV writes res's compensation claims as CSV:
// ConcessionsHeader, then one row per claim in the order of res (by
// funder, operator, rider category and kind), amounts in fen (the
// rounding remainder in micro-fen), the fare table the category
// discounts were priced under in every row. Kind IO for a failed write.
func WriteConcessionsCSV(w io.Writer, res *clearing.Result) error {
	rows := make([][]string, 0, len(res.Concessions))
	for _, l := range res.Concessions {
		rows = append(rows, []string{l.Funder, l.Operator, strconv.Itoa(int(l.RiderCategory)), l.Kind, strconv.FormatInt(l.Records, 10),
			strconv.FormatInt(l.DiscountFen, 10), strconv.FormatInt(l.ClaimFen, 10), strconv.FormatInt(l.RemainderMicro, 10), res.FareVersion})
	}
	return writeCSV("exchange.WriteConcessionsCSV", w, res.Day, ConcessionsHeader, rows)
}

// CommissionsHeader is the first row of a commissions CSV.
var CommissionsHeader = []string{"channel", "issuer", "rule", "loads", "loaded_fen", "commission_fen", "remainder_micro"}

// WriteCommissionsCSV writes res's commissions as CSV: CommissionsHeader,
// then one row per line in the order of res (by channel and issuer).
// Kind IO for a failed write.
func WriteCommissionsCSV(w io.Writer, res *clearing.Result) error {
	rows := make([][]string, 0, len(res.Commissions))
	for _, l := range res.Commissions {
		rows = append(rows, []string{l.Channel, l.Issuer, l.Rule, strconv.FormatInt(l.Loads, 10), strconv.FormatInt(l.LoadedFen, 10),
			strconv.FormatInt(l.CommissionFen, 10), strconv.FormatInt(l.RemainderMicro, 10)})
	}
	return writeCSV("exchange.WriteCommissionsCSV", w, res.Day, CommissionsHeader, rows)
}

// TopUpsHeader is the first row of a remote top-ups CSV.
var TopUpsHeader = []string{"payer", "issuer", "rule", "paid", "paid_fen", "refunded", "refunded_fen", "owed_fen", "commission_fen", "remainder_micro"}

// WriteTopUpsCSV writes res's remote top-up lines as CSV: TopUpsHeader,
// then one row per line in the order of res (by payer and issuer):
// owed_fen is what the payer owes the issuer (paid less refunded), the
// commission what the collector pays it. Kind IO for a failed write.
func WriteTopUpsCSV(w io.Writer, res *clearing.Result) error {
	rows := make([][]string, 0, len(res.TopUps))
	for _, l := range res.TopUps {
		rows = append(rows, []string{l.Payer, l.Issuer, l.Rule, strconv.FormatInt(l.Paid, 10), strconv.FormatInt(l.PaidFen, 10),
			strconv.FormatInt(l.Refunded, 10), strconv.FormatInt(l.RefundedFen, 10), strconv.FormatInt(l.NetFen(), 10),
			strconv.FormatInt(l.CommissionFen, 10), strconv.FormatInt(l.RemainderMicro, 10)})
	}
	return writeCSV("exchange.WriteTopUpsCSV", w, res.Day, TopUpsHeader, rows)
}

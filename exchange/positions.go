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

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
	const op = "exchange.WritePositionsCSV"
	cw := csv.NewWriter(w)
	if err := cw.Write(PositionsHeader); err != nil {
		return citycard.E(op, citycard.IO, "cycle %v: %w", res.Day, err)
	}
	for _, p := range res.Positions {
		row := []string{p.Party, strconv.FormatInt(p.ReceivableFen, 10), strconv.FormatInt(p.PayableFen, 10), strconv.FormatInt(p.NetFen, 10)}
		if err := cw.Write(row); err != nil {
			return citycard.E(op, citycard.IO, "cycle %v: party %q: %w", res.Day, p.Party, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return citycard.E(op, citycard.IO, "cycle %v: %w", res.Day, err)
	}
	return nil
}

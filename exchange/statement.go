package exchange

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// StatementHeader is the header of a statement CSV (README.md): one row
// per figure (kind total, line, terminal, day: key and the sums; then
// rounding, adjustment and position, net_fen alone) and one
// per record behind them (kind record: its journal position, transit
// line, terminal, tap day, card, counters and TAC, records 1), so that a
// figure's records are the record rows of its key.
var StatementHeader = []string{"kind", "key", "records", "gross_fen", "fee_fen", "net_fen", "pos", "line", "terminal", "day", "issuer", "asn", "counter", "seq", "rule", "tac"}

// StatementNames returns the names of party's statement files of day d:
// CCLR-YYYYMMDD-statement-PARTY.csv and .txt.
func StatementNames(d clearing.Day, party string) [2]string {
	p := MessageID(d) + "-statement-" + party
	return [2]string{p + ".csv", p + ".txt"}
}

// StatementFiles returns the CSV and the readable report of each
// statement, a function of the statements alone: the same cycle gives the
// same bytes.
func StatementFiles(sts []clearing.Statement) ([]SettlementFile, error) {
	out := make([]SettlementFile, 0, 2*len(sts))
	for i := range sts {
		var c, r bytes.Buffer
		if err := WriteStatementCSV(&c, &sts[i]); err != nil {
			return nil, err
		}
		if err := WriteStatementReport(&r, &sts[i]); err != nil {
			return nil, err
		}
		n := StatementNames(sts[i].Day, sts[i].Party)
		out = append(out, SettlementFile{n[0], c.Bytes()}, SettlementFile{n[1], r.Bytes()})
	}
	return out, nil
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// WriteStatementCSV writes st as CSV under StatementHeader. Kind IO.
func WriteStatementCSV(w io.Writer, st *clearing.Statement) error {
	rows := [][]string{}
	sums := func(kind string, r clearing.StatementRow) []string {
		return []string{kind, r.Key, i64(r.Records), i64(r.GrossFen), i64(r.FeeFen), i64(r.NetFen), "", "", "", "", "", "", "", "", "", ""}
	}
	rows = append(rows, sums("total", st.Total))
	for _, g := range []struct {
		kind string
		rs   []clearing.StatementRow
	}{{"line", st.Lines}, {"terminal", st.Terminals}, {"day", st.Days}} {
		for _, r := range g.rs {
			rows = append(rows, sums(g.kind, r))
		}
	}
	if len(st.TopUps) != 0 {
		rows = append(rows, sums("topup_total", st.TopUpTotal))
		for _, g := range []struct {
			kind string
			rs   []clearing.StatementRow
		}{{"topup_issuer", st.TopUpIssuers}, {"topup_day", st.TopUpDays}} {
			for _, r := range g.rs {
				rows = append(rows, sums(g.kind, r))
			}
		}
		if st.Loads.Records != 0 {
			rows = append(rows, sums("loads", st.Loads))
		}
	}
	rows = append(rows, sums("rounding", clearing.StatementRow{Key: "booked", NetFen: -st.RoundingFen}))
	for _, a := range st.Adjustments {
		rows = append(rows, sums("adjustment", a))
	}
	rows = append(rows, sums("position", clearing.StatementRow{Key: "net", NetFen: st.PositionFen}))
	for _, r := range st.Records {
		rows = append(rows, []string{"record", i64(r.Pos), "1", i64(r.AmountFen), i64(r.FeeFen), i64(r.AmountFen - r.FeeFen), i64(r.Pos),
			strconv.FormatUint(uint64(r.Line), 10), r.Terminal, r.Day, r.Issuer, r.ASN, strconv.Itoa(int(r.Counter)), strconv.FormatUint(uint64(r.Seq), 10), r.Rule, r.TAC})
	}
	for _, t := range st.TopUps {
		rows = append(rows, []string{"topup", t.TopUp, "1", i64(t.AmountFen), i64(t.CommissionFen), i64(t.CommissionFen - t.AmountFen), i64(t.Seq),
			"", "", t.Day, t.Issuer, t.Card, "", "", t.Rule, ""})
	}
	return writeCSV("exchange.WriteStatementCSV", w, st.Day, StatementHeader, rows)
}

// WriteStatementReport writes st for a person: the totals, the sums by
// line, terminal and day in yuan, and the records behind them. Kind IO.
func WriteStatementReport(w io.Writer, st *clearing.Statement) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Statement of %s, cycle %v\n", st.Party, st.Day)
	table := func(head string, rows [][]string) {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, head)
		for _, r := range rows {
			for _, c := range r {
				fmt.Fprint(tw, c, "\t")
			}
			fmt.Fprintln(tw)
		}
		tw.Flush() // a bytes.Buffer never fails
	}
	sums := func(title, cols string, rs []clearing.StatementRow) {
		rows := make([][]string, len(rs))
		for i, r := range rs {
			rows[i] = []string{r.Key, i64(r.Records), citycard.Yuan(r.GrossFen), citycard.Yuan(r.FeeFen), citycard.Yuan(r.NetFen)}
		}
		table(title+cols, rows)
	}
	// A payer's statement without records shows its top-ups alone.
	records := len(st.Records) != 0 || len(st.TopUps) == 0
	if records {
		const cols = "\tRECORDS\tGROSS (CNY)\tFEES (CNY)\tNET (CNY)\t"
		sums("TOTAL", cols, []clearing.StatementRow{st.Total})
		sums("LINE", cols, st.Lines)
		sums("TERMINAL", cols, st.Terminals)
		sums("DAY", cols, st.Days)
	}
	if len(st.TopUps) != 0 {
		const cols = "\tTOP-UPS\tCOLLECTED (CNY)\tCOMMISSION (CNY)\tNET (CNY)\t"
		sums("TOP-UPS", cols, []clearing.StatementRow{st.TopUpTotal})
		sums("ISSUER", cols, st.TopUpIssuers)
		sums("DAY", cols, st.TopUpDays)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "net of the records       %s CNY\n", citycard.Yuan(st.Total.NetFen))
	if len(st.TopUps) != 0 {
		fmt.Fprintf(&b, "net of the top-ups       %s CNY\n", citycard.Yuan(st.TopUpTotal.NetFen))
		if st.Loads.Records != 0 {
			fmt.Fprintf(&b, "net of the loads         %s CNY\n", citycard.Yuan(st.Loads.NetFen))
		}
	}
	fmt.Fprintf(&b, "rounding booked          %s CNY\n", citycard.Yuan(-st.RoundingFen))
	for _, a := range st.Adjustments {
		fmt.Fprintf(&b, "adjustment %-13s %s CNY\n", a.Key, citycard.Yuan(a.NetFen))
	}
	fmt.Fprintf(&b, "position                 %s CNY\n", citycard.Yuan(st.PositionFen))
	if records {
		rows := make([][]string, len(st.Records))
		for i, r := range st.Records {
			rows[i] = []string{i64(r.Pos), strconv.FormatUint(uint64(r.Line), 10), r.Terminal, r.Day, r.Issuer + "/" + r.ASN, strconv.Itoa(int(r.Counter)),
				citycard.Yuan(r.AmountFen), citycard.Yuan(r.FeeFen), r.Rule, r.TAC}
		}
		table("POS\tLINE\tTERMINAL\tDAY\tCARD\tCOUNTER\tAMOUNT (CNY)\tFEE (CNY)\tRULE\tTAC\t", rows)
	}
	if len(st.TopUps) != 0 {
		rows := make([][]string, len(st.TopUps))
		for i, t := range st.TopUps {
			what := "paid"
			if t.Refund {
				what = "refunded"
			}
			rows[i] = []string{i64(t.Seq), t.TopUp, what, t.Day, t.Card, citycard.Yuan(t.AmountFen), citycard.Yuan(t.CommissionFen), t.Rule}
		}
		table("LEDGER\tTOP-UP\tMOVE\tDAY\tCARD\tCOLLECTED (CNY)\tCOMMISSION (CNY)\tRULE\t", rows)
	}
	_, err := w.Write(b.Bytes())
	if err != nil {
		return citycard.E("exchange.WriteStatementReport", citycard.IO, "cycle %v: %w", st.Day, err)
	}
	return nil
}

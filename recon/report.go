package recon

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/citycard/citycard"
)

// FindingsHeader is the first row of the findings CSV (README.md).
var FindingsHeader = []string{"id", "state", "direction", "open", "since", "age_days", "instructed_fen", "bank_fen", "difference_fen", "end_to_end_ids", "parties", "movements", "how", "statement", "decision", "resolved_by", "service_point", "note"}

// WriteFindingsCSV writes fs as CSV: FindingsHeader, then one row per
// finding, lists space-separated. Kind IO for a failed write.
func WriteFindingsCSV(w io.Writer, fs []Finding) error {
	cw := csv.NewWriter(w)
	rows := [][]string{FindingsHeader}
	for i := range fs {
		v := fs[i].View()
		rows = append(rows, []string{v.ID, v.State, v.Direction, strconv.FormatBool(v.Open), v.Since, strconv.Itoa(v.AgeDays),
			strconv.FormatInt(v.InstructedFen, 10), strconv.FormatInt(v.BankFen, 10), strconv.FormatInt(v.DifferenceFen, 10),
			strings.Join(v.EndToEndIDs, " "), strings.Join(v.Parties, " "), strings.Join(v.Movements, "; "), v.How, v.Statement,
			v.Decision, v.ResolvedBy, v.ServicePoint, v.Note})
	}
	if err := cw.WriteAll(rows); err != nil {
		return citycard.E("recon.WriteFindingsCSV", citycard.IO, "%w", err)
	}
	return nil
}

// WriteFindingsTable writes fs for a person: one line each, amounts in
// yuan, then the count of open findings and what they differ by.
func WriteFindingsTable(w io.Writer, fs []Finding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tDIR\tSINCE\tAGE\tINSTRUCTED (CNY)\tBANK (CNY)\tDIFFERENCE (CNY)\tEND-TO-END\tMOVEMENTS\tRESOLVED")
	var open int
	var diff int64
	for i := range fs {
		v := fs[i].View()
		res := "-"
		if v.Decision != "" {
			res = fmt.Sprintf("%s by %s at %s: %s", v.Decision, v.ResolvedBy, v.ServicePoint, v.Note)
		} else if v.Open {
			res = "OPEN"
			open++
			diff += v.DifferenceFen
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%dd\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.State, v.Direction, v.Since, v.AgeDays, citycard.Yuan(v.InstructedFen), citycard.Yuan(v.BankFen),
			citycard.Yuan(v.DifferenceFen), dash(strings.Join(v.EndToEndIDs, " ")), dash(strings.Join(v.Movements, "; ")), res)
	}
	if err := tw.Flush(); err != nil {
		return citycard.E("recon.WriteFindingsTable", citycard.IO, "%w", err)
	}
	_, err := fmt.Fprintf(w, "%d findings, %d open, differing by %s CNY\n", len(fs), open, citycard.Yuan(diff))
	if err != nil {
		return citycard.E("recon.WriteFindingsTable", citycard.IO, "%w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

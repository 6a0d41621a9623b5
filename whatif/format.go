package whatif

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/citycard/citycard"
)

// Table is one of a report's tables: a CSV file's name, its header and
// its rows. Amounts are integer fen, in the columns named _fen.
type Table struct {
	Name   string // file name: summary.csv, by_network.csv, ...
	Header []string
	Rows   [][]string
}

// Tables returns the report's tables, in the order a person reads them:
// the summary (one row per figure), then per network, line, rider
// category and hour, then the change per card.
func (r *Report) Tables() []Table {
	withOld := r.RepricedOldFen != nil
	totalsHeader := []string{"records", "legs", "journeys", "records_changed", "old_fen", "new_fen", "change_fen"}
	if withOld {
		totalsHeader = append(totalsHeader, "repriced_old_fen", "records_unreproduced")
	}
	cells := func(t Totals) []string {
		c := []string{i64(t.Records), i64(t.Legs), i64(t.Journeys), i64(t.RecordsChanged), i64(t.OldFen), i64(t.NewFen), i64(t.ChangeFen)}
		if withOld {
			c = append(c, i64(*t.RepricedOldFen), i64(*t.RecordsUnreproduced))
		}
		return c
	}
	sum := Table{Name: "summary.csv", Header: []string{"figure", "value"}}
	add := func(k string, v any) { sum.Rows = append(sum.Rows, []string{k, fmt.Sprint(v)}) }
	add("from", r.From)
	add("to", r.To)
	add("day_cut", r.DayCut)
	add("new_fare_version", r.NewFareVersion)
	if r.OldFareVersion != "" {
		add("old_fare_version", r.OldFareVersion)
	}
	add("currency", r.Currency)
	add("journal_first_pos", r.JournalFirstPos)
	add("journal_last_pos", r.JournalLastPos)
	add("records_read", r.RecordsRead)
	for i, h := range totalsHeader {
		add(h, cells(r.Totals)[i])
	}
	for _, kv := range []struct {
		k string
		v int64
	}{
		{"cards", r.Cards}, {"cards_affected", r.CardsAffected}, {"cards_pay_more", r.CardsPayMore},
		{"cards_pay_less", r.CardsPayLess}, {"cards_pay_same", r.CardsPaySame},
		{"grey_records", r.Skipped.GreyRecords}, {"grey_fen", r.Skipped.GreyFen},
		{"not_in_table_records", r.Skipped.NotInTableRecords}, {"not_in_table_fen", r.Skipped.NotInTableFen},
		{"unpriced_records", r.Skipped.UnpricedRecords}, {"unpriced_fen", r.Skipped.UnpricedFen},
		{"late_records", r.Assumed.LateRecords}, {"after_gap_records", r.Assumed.AfterGapRecords},
		{"entry_from_record", r.Assumed.EntryFromRecord}, {"tap_kind_guessed", r.Assumed.TapKindGuessed},
		{"held_products", r.Assumed.HeldProducts},
	} {
		add(kv.k, kv.v)
	}
	if r.Skipped.FirstUnpriced != "" {
		add("first_unpriced", r.Skipped.FirstUnpriced)
	}

	nets := Table{Name: "by_network.csv", Header: append([]string{"network", "network_id"}, totalsHeader...)}
	for _, n := range r.ByNetwork {
		nets.Rows = append(nets.Rows, append([]string{strconv.Itoa(int(n.Network)), n.NetworkID}, cells(n.Totals)...))
	}
	lines := Table{Name: "by_line.csv", Header: append([]string{"network", "line", "route_id", "other"}, totalsHeader...)}
	for _, l := range r.ByLine {
		lines.Rows = append(lines.Rows, append([]string{strconv.Itoa(int(l.Network)), strconv.FormatUint(uint64(l.Line), 10), l.RouteID, strconv.FormatBool(l.Other)}, cells(l.Totals)...))
	}
	cats := Table{Name: "by_rider_category.csv", Header: append([]string{"rider_category", "rider_category_id"}, totalsHeader...)}
	for _, c := range r.ByRiderCategory {
		cats.Rows = append(cats.Rows, append([]string{strconv.Itoa(int(c.RiderCategory)), c.RiderCategoryID}, cells(c.Totals)...))
	}
	hours := Table{Name: "by_hour.csv", Header: append([]string{"hour"}, totalsHeader...)}
	for _, h := range r.ByHour {
		hours.Rows = append(hours.Rows, append([]string{strconv.Itoa(h.Hour)}, cells(h.Totals)...))
	}
	bands := Table{Name: "change_per_card.csv", Header: []string{"min_fen", "max_fen", "cards", "change_fen"}}
	for _, b := range r.ChangePerCard {
		bands.Rows = append(bands.Rows, []string{optI64(b.MinFen), optI64(b.MaxFen), i64(b.Cards), i64(b.ChangeFen)})
	}
	return []Table{sum, nets, lines, cats, hours, bands}
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func optI64(p *int64) string {
	if p == nil {
		return ""
	}
	return i64(*p)
}

// WriteCSV writes t as CSV: the header, then the rows.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Header); err != nil {
		return err
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return err
	}
	return cw.Error()
}

// WriteText writes the report for a person: each table aligned in
// columns, amounts in yuan (the _fen columns, headed without it), hours
// and lines without a record left out.
func (r *Report) WriteText(w io.Writer) error {
	for i, t := range r.Tables() {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, strings.TrimSuffix(t.Name, ".csv"))
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
		if t.Name == "summary.csv" {
			for _, row := range t.Rows {
				v := row[1]
				if strings.HasSuffix(row[0], "_fen") {
					v = yuanCell(v) + " yuan"
				}
				fmt.Fprintf(tw, "%s\t%s\t\n", strings.TrimSuffix(row[0], "_fen"), v)
			}
		} else {
			fen := make([]bool, len(t.Header))
			head := make([]string, len(t.Header))
			for k, h := range t.Header {
				fen[k] = strings.HasSuffix(h, "_fen")
				head[k] = strings.TrimSuffix(h, "_fen")
			}
			records := indexOf(t.Header, "records")
			fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
			for _, row := range t.Rows {
				if records >= 0 && row[records] == "0" && t.Name != "by_network.csv" {
					continue
				}
				out := make([]string, len(row))
				for k, c := range row {
					if fen[k] {
						c = yuanCell(c)
					}
					out[k] = c
				}
				fmt.Fprintln(tw, strings.Join(out, "\t")+"\t")
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// yuanCell shows a fen cell in yuan; an empty cell (an open band) stays
// empty.
func yuanCell(c string) string {
	v, err := strconv.ParseInt(c, 10, 64)
	if err != nil {
		return c
	}
	return citycard.Yuan(v)
}
